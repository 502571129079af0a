/**
 * The in-process "server" of the memory engine, and the reference model of the room state
 * machine (DESIGN §2). State is plain data mutated only inside `Effect.sync` blocks, so each
 * operation is atomic, like a Redis script. Time comes from Effect's `Clock` (TestClock works).
 *
 * It deliberately mirrors the Redis engine's observable behaviour: frames `<event>|<envelope>`
 * are pushed to every listener of the room's channel, out-of-band messages only reach rooms with
 * members, and a message released to a room without sync members is gone (S7, at-most-once).
 */
import * as Effect from "effect/Effect"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { BackendClient, BackendError, RawRoomState, RawStats } from "../Backend.js"
import * as Envelope from "../Envelope.js"
import type { SubscriptionMode } from "../QueueConfig.js"
import { type EjectReason, EngineError } from "../QueueError.js"

interface Member {
  readonly mode: SubscriptionMode
  readonly ackTimeoutMs: number | null
}

interface Queued {
  readonly id: string
  readonly priority: number
  /** per-room arrival order: FIFO among equal priorities (S2) */
  readonly order: number
  readonly envelope: string
}

interface InFlight {
  readonly id: string
  readonly envelope: string
  readonly releasedAt: number
  /** sync members at release that have not acked yet (S3) */
  readonly holders: Set<string>
  readonly acked: Set<string>
}

interface Room {
  readonly name: string
  /** sorted by (priority, order) */
  readonly queue: Array<Queued>
  readonly members: Map<string, Member>
  inFlight: InFlight | null
  arrivals: number
}

interface Client {
  expiresAt: number
  readonly rooms: Set<string>
}

interface Connection {
  cut: boolean
  readonly connected: SubscriptionRef.SubscriptionRef<boolean>
}

export class Broker {
  readonly rooms = new Map<string, Room>()
  readonly clients = new Map<string, Client>()
  readonly connections = new Map<string, Connection>()
  /** channel listeners: room → set of deliver functions, keyed by client id */
  readonly listeners = new Map<string, Map<string, Set<(frame: string) => void>>>()
  /**
   * The number of the last frame published, in any room: frames are numbered by the broker, not
   * by the room, so numbers keep growing when a room is dropped and made again (S5 compares a
   * frame with the number its join returned; a per-room counter would start again at 0 after gc).
   */
  private event = 0

  private room(name: string): Room {
    let room = this.rooms.get(name)
    if (room === undefined) {
      room = { name, queue: [], members: new Map(), inFlight: null, arrivals: 0 }
      this.rooms.set(name, room)
    }
    return room
  }

  /** Drop the room's state once nobody is in it and nothing is queued (S18). */
  private gc(room: Room): void {
    if (room.members.size === 0 && room.queue.length === 0 && room.inFlight === null) this.rooms.delete(room.name)
  }

  private publish(room: Room, body: string): void {
    const frame = `${++this.event}|${body}`
    const byClient = this.listeners.get(room.name)
    if (byClient === undefined) return
    for (const [clientId, delivers] of byClient) {
      if (this.connections.get(clientId)?.cut === true) continue // lost in transit, like Pub/Sub
      for (const deliver of delivers) deliver(frame)
    }
  }

  /** Release queued messages while the room is not held by a sync member (S3, S7). */
  private release(room: Room, now: number): void {
    while (room.inFlight === null || room.inFlight.holders.size === 0) {
      room.inFlight = null
      const next = room.queue.shift()
      if (next === undefined) break
      const holders = new Set<string>()
      for (const [id, member] of room.members) if (member.mode === "sync") holders.add(id)
      room.inFlight = { id: next.id, envelope: next.envelope, releasedAt: now, holders, acked: new Set() }
      this.publish(room, next.envelope)
    }
    this.gc(room)
  }

  private removeMember(room: Room, clientId: string, now: number): void {
    room.members.delete(clientId)
    room.inFlight?.holders.delete(clientId)
    this.clients.get(clientId)?.rooms.delete(room.name)
    this.release(room, now)
  }

  private eject(room: Room, clientId: string, why: EjectReason, now: number): void {
    this.publish(room, Envelope.encodeEject(clientId, why))
    this.removeMember(room, clientId, now)
  }

  private touch(clientId: string, now: number, timeoutMs: number): boolean {
    const client = this.clients.get(clientId)
    if (client === undefined) {
      this.clients.set(clientId, { expiresAt: now + timeoutMs, rooms: new Set() })
      return false
    }
    client.expiresAt = now + timeoutMs
    return true
  }

  send(room: string, envelope: string, priority: number, id: string, now: number): void {
    const r = this.room(room)
    const entry: Queued = { id, priority, order: r.arrivals++, envelope }
    // insert after every entry with priority <= ours: (priority, arrival) order
    let i = r.queue.length
    while (i > 0 && r.queue[i - 1]!.priority > priority) i--
    r.queue.splice(i, 0, entry)
    this.release(r, now)
  }

  sendOutOfBand(room: string, envelope: string): void {
    const r = this.rooms.get(room)
    if (r !== undefined && r.members.size > 0) this.publish(r, envelope)
  }

  join(
    room: string,
    clientId: string,
    mode: SubscriptionMode,
    ackTimeoutMs: number | null,
    timeoutMs: number,
    now: number
  ): number {
    this.touch(clientId, now, timeoutMs)
    const r = this.room(room)
    r.members.set(clientId, { mode, ackTimeoutMs })
    this.clients.get(clientId)!.rooms.add(room)
    return this.event
  }

  leave(room: string, clientId: string, now: number): void {
    const r = this.rooms.get(room)
    if (r !== undefined && r.members.has(clientId)) this.removeMember(r, clientId, now)
  }

  ack(room: string, clientId: string, id: string, now: number): void {
    const r = this.rooms.get(room)
    const inFlight = r?.inFlight
    if (r === undefined || inFlight == null || inFlight.id !== id || !inFlight.holders.has(clientId)) return // S4
    inFlight.holders.delete(clientId)
    inFlight.acked.add(clientId)
    this.release(r, now)
  }

  keepalive(clientId: string, timeoutMs: number, now: number): boolean {
    return this.touch(clientId, now, timeoutMs)
  }

  housekeep(now: number): void {
    for (const [clientId, client] of this.clients) {
      if (client.expiresAt > now) continue
      this.clients.delete(clientId)
      for (const name of client.rooms) {
        const r = this.rooms.get(name)
        if (r !== undefined) this.eject(r, clientId, "keepalive-timeout", now)
      }
    }
    for (const r of [...this.rooms.values()]) {
      const inFlight = r.inFlight
      if (inFlight === null) continue
      for (const holder of [...inFlight.holders]) {
        const deadline = r.members.get(holder)?.ackTimeoutMs
        if (deadline != null && inFlight.releasedAt + deadline <= now && r.inFlight === inFlight) {
          this.eject(r, holder, "ack-timeout", now)
        }
      }
    }
  }

  resync(room: string, clientId: string): { readonly id: string; readonly envelope: string } | null {
    const inFlight = this.rooms.get(room)?.inFlight
    return inFlight != null && inFlight.holders.has(clientId) ? { id: inFlight.id, envelope: inFlight.envelope } : null
  }

  unregister(clientId: string, now: number): void {
    const client = this.clients.get(clientId)
    this.clients.delete(clientId)
    for (const name of client?.rooms ?? []) this.leave(name, clientId, now)
  }

  peek(room: string, offset: number, limit: number): ReadonlyArray<string> {
    return (this.rooms.get(room)?.queue ?? []).slice(offset, offset + limit).map((q) => q.envelope)
  }

  roomState(room: string, now: number): RawRoomState {
    const r = this.rooms.get(room)
    if (r === undefined) return { backlog: 0, members: [], acked: [], inFlight: null }
    const members = [...r.members].filter(([, m]) => m.mode === "sync").map(([id]) => id)
    const inFlight = r.inFlight
    return {
      backlog: r.queue.length,
      members,
      acked: inFlight === null ? [] : [...inFlight.acked].filter((id) => r.members.has(id)),
      inFlight: inFlight === null
        ? null
        : { id: inFlight.id, releasedAt: inFlight.releasedAt, age: now - inFlight.releasedAt }
    }
  }

  stats(topRooms: number): RawStats {
    const withBacklog = [...this.rooms.values()].filter((r) => r.queue.length > 0)
    const top = withBacklog
      .map((r) => ({ room: r.name, backlog: r.queue.length }))
      // ties in descending name order, as Redis ZREVRANGE gives them
      .sort((a, b) => b.backlog - a.backlog || (a.room < b.room ? 1 : a.room > b.room ? -1 : 0))
      .slice(0, topRooms)
    return { knownRooms: withBacklog.length, topRooms: top, knownClients: this.clients.size }
  }

  /** The server side of one client, over a simulated connection that tests can cut (S10, S12). */
  connect(clientId: string): Effect.Effect<BackendClient> {
    return Effect.gen(this, function*() {
      const connected = yield* SubscriptionRef.make(true)
      const connection: Connection = { cut: false, connected }
      this.connections.set(clientId, connection)
      const clock = yield* Effect.clock
      const lost = (operation: string) =>
        new EngineError({
          engine: "memory",
          operation,
          cause: new Error("connection cut (a simulated network partition)")
        })
      const op = <A>(operation: string, f: (now: number) => A): Effect.Effect<A, BackendError> =>
        Effect.suspend(() =>
          connection.cut ? Effect.fail(lost(operation)) : Effect.sync(() => f(clock.unsafeCurrentTimeMillis()))
        )
      const backend: BackendClient = {
        send: (room, envelope, priority, id) => op("send", (now) => this.send(room, envelope, priority, id, now)),
        sendOutOfBand: (room, envelope) => op("sendOutOfBand", () => this.sendOutOfBand(room, envelope)),
        listen: (room, deliver) =>
          Effect.acquireRelease(
            op("listen", () => {
              let byClient = this.listeners.get(room)
              if (byClient === undefined) this.listeners.set(room, byClient = new Map())
              let delivers = byClient.get(clientId)
              if (delivers === undefined) byClient.set(clientId, delivers = new Set())
              delivers.add(deliver)
            }),
            () =>
              Effect.sync(() => {
                const byClient = this.listeners.get(room)
                const delivers = byClient?.get(clientId)
                delivers?.delete(deliver)
                if (delivers?.size === 0) byClient?.delete(clientId)
                if (byClient?.size === 0) this.listeners.delete(room)
              })
          ),
        join: (room, options) =>
          op(
            "join",
            (now) => this.join(room, clientId, options.mode, options.ackTimeoutMs, options.clientTimeoutMs, now)
          ),
        leave: (room) => op("leave", (now) => this.leave(room, clientId, now)),
        // applied at once (the broker is in-process); a cut connection loses it, as in transit
        ack: (room, id, onFailure) => {
          if (connection.cut) return onFailure(room, id, lost("ack"))
          this.ack(room, clientId, id, clock.unsafeCurrentTimeMillis())
        },
        keepalive: (_rooms, timeoutMs) => op("keepalive", (now) => this.keepalive(clientId, timeoutMs, now)),
        housekeep: () => op("housekeep", (now) => this.housekeep(now)),
        resync: (room) => op("resync", () => this.resync(room, clientId)),
        unregister: () =>
          op("unregister", (now) => this.unregister(clientId, now)).pipe(
            Effect.ensuring(Effect.sync(() => this.connections.delete(clientId)))
          ),
        peek: (room, offset, limit) => op("peek", () => this.peek(room, offset, limit)),
        roomState: (room) => op("roomState", (now) => this.roomState(room, now)),
        stats: (topRooms) => op("stats", () => this.stats(topRooms)),
        connected
      }
      return backend
    })
  }

  /** Simulate a network cut between the broker and a client: its operations fail and its frames are lost. */
  cut(clientId: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const connection = this.connections.get(clientId)
      if (connection === undefined) return Effect.void
      connection.cut = true
      return SubscriptionRef.set(connection.connected, false)
    })
  }

  /** Heal a cut: the client reconnects (and resyncs, S12). */
  restore(clientId: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const connection = this.connections.get(clientId)
      if (connection === undefined) return Effect.void
      connection.cut = false
      return SubscriptionRef.set(connection.connected, true)
    })
  }
}

/** The `MemoryBroker` service of a broker. */
export const brokerService = (broker: Broker): {
  readonly connect: (clientId: string) => Effect.Effect<BackendClient>
  readonly cut: (clientId: string) => Effect.Effect<void>
  readonly restore: (clientId: string) => Effect.Effect<void>
} => ({
  connect: (id) => broker.connect(id),
  cut: (id) => broker.cut(id),
  restore: (id) => broker.restore(id)
})

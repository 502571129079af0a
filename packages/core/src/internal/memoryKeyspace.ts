/**
 * The keys of one `keyPrefix` on the in-process "server" of the memory engine (`memoryBroker.ts`
 * keeps one per prefix, S19), and the reference model of the room state machine (DESIGN §2).
 * State is plain data mutated only inside `Effect.sync` blocks, so each operation is atomic, like
 * a Redis script. Time comes from Effect's `Clock` (TestClock works).
 *
 * It deliberately mirrors the Redis engine's observable behaviour: frames `<event>|<envelope>`
 * are pushed to every listener of the room's channel, out-of-band messages only reach rooms with
 * members, and a message released to a room without sync members is gone (S7, at-most-once).
 */
import type { JoinResult, Membership, RawRoomState, RawStalledRoom, RawStats, RoomsPosition } from "../Backend.js"
import * as Envelope from "../Envelope.js"
import type { SubscriptionMode } from "../QueueConfig.js"
import type { EjectReason } from "../QueueError.js"
import type { Connection } from "./memoryConnection.js"

interface Member {
  readonly mode: SubscriptionMode
  ackTimeoutMs: number | null
  /** a durable id's membership waiting to be resumed: ended at this time unless resumed (S23, S24) */
  detachedUntil: number | null
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

/** Everything of one `keyPrefix`: rooms, clients, connections, channels and durable claims. */
export class Keyspace {
  readonly rooms = new Map<string, Room>()
  readonly clients = new Map<string, Client>()
  /** the connections of each client id: several for a durable id claimed again (S21) */
  readonly connections = new Map<string, Set<Connection>>()
  /** channel listeners: room → deliver function → its connection */
  readonly listeners = new Map<string, Map<(frame: string) => void, Connection>>()
  /**
   * The epoch of the latest claim of each durable id (S21), kept for good so that epochs only grow
   * (as the Redis engine keeps them): the number of durable ids ever claimed bounds it.
   */
  readonly claims = new Map<string, number>()
  /**
   * The number of the last frame published, in any room: frames are numbered by the keyspace, not
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
    const listeners = this.listeners.get(room.name)
    if (listeners === undefined) return
    for (const [deliver, connection] of listeners) {
      if (!connection.cut) deliver(frame) // else lost in transit, like Pub/Sub
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

  /** Whether `connection` lost its claim to a newer one (S21): then nothing it does takes effect. */
  fenced(connection: Connection): boolean {
    return connection.epoch !== null && this.claims.get(connection.clientId) !== connection.epoch
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
    durable: boolean,
    now: number
  ): JoinResult {
    this.touch(clientId, now, timeoutMs)
    let r = this.room(room)
    const member = r.members.get(clientId)
    if (durable && member !== undefined) {
      if (member.mode === mode) {
        // S22, S25: resume the membership; a holder gets the in-flight message again
        member.detachedUntil = null
        member.ackTimeoutMs = ackTimeoutMs
        this.clients.get(clientId)!.rooms.add(room)
        const inFlight = r.inFlight
        return {
          event: this.event,
          inFlight: inFlight !== null && inFlight.holders.has(clientId)
            ? { id: inFlight.id, envelope: inFlight.envelope }
            : null
        }
      }
      this.removeMember(r, clientId, now) // the other mode: a fresh membership
      // the leave may have emptied the room, and gc dropped its state: join the room as it is now
      r = this.room(room)
    }
    r.members.set(clientId, { mode, ackTimeoutMs, detachedUntil: null })
    this.clients.get(clientId)!.rooms.add(room)
    return { event: this.event, inFlight: null }
  }

  /**
   * A claim of a durable id (S21): a new epoch, the client registered, and every membership of
   * the id given `timeoutMs` to be resumed (S23).
   */
  claim(clientId: string, timeoutMs: number, now: number): number {
    const epoch = (this.claims.get(clientId) ?? 0) + 1
    this.claims.set(clientId, epoch)
    this.touch(clientId, now, timeoutMs)
    for (const name of this.clients.get(clientId)!.rooms) this.detach(name, clientId, timeoutMs, now)
    return epoch
  }

  /** Keep a membership for a successor until `now + timeoutMs` (S24). */
  detach(room: string, clientId: string, timeoutMs: number, now: number): void {
    const member = this.rooms.get(room)?.members.get(clientId)
    if (member === undefined) return
    member.detachedUntil = now + timeoutMs
    // a client that stops heartbeating after detaching keeps the membership for all that time
    const client = this.clients.get(clientId)
    if (client !== undefined) client.expiresAt = Math.max(client.expiresAt, member.detachedUntil)
  }

  memberships(clientId: string): ReadonlyArray<Membership> {
    const out: Array<Membership> = []
    for (const name of this.clients.get(clientId)?.rooms ?? []) {
      const member = this.rooms.get(name)?.members.get(clientId)
      if (member !== undefined) out.push({ room: name, mode: member.mode })
    }
    return out
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
    // S23, S24: detached memberships nobody resumed in time
    for (const r of [...this.rooms.values()]) {
      for (const [clientId, member] of [...r.members]) {
        if (member.detachedUntil !== null && member.detachedUntil <= now && r.members.get(clientId) === member) {
          this.eject(r, clientId, "keepalive-timeout", now)
        }
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

  stats(topRooms: number, stalledRooms: number, now: number): RawStats {
    const withBacklog = [...this.rooms.values()].filter((r) => r.queue.length > 0)
    const top = withBacklog
      .map((r) => ({ room: r.name, backlog: r.queue.length }))
      // ties in descending name order, as Redis ZREVRANGE gives them
      .sort((a, b) => b.backlog - a.backlog || (a.room < b.room ? 1 : a.room > b.room ? -1 : 0))
      .slice(0, topRooms)
    const stalled: Array<RawStalledRoom> = []
    for (const r of this.rooms.values()) {
      const inFlight = r.inFlight
      if (inFlight === null || inFlight.holders.size === 0) continue
      stalled.push({
        room: r.name,
        id: inFlight.id,
        releasedAt: inFlight.releasedAt,
        age: now - inFlight.releasedAt,
        waitingFor: [...inFlight.holders]
      })
    }
    // oldest first; ties in name order, as Redis ZRANGE gives them
    stalled.sort((a, b) => a.releasedAt - b.releasedAt || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0))
    return {
      knownRooms: withBacklog.length,
      topRooms: top,
      knownClients: this.clients.size,
      stalled: stalled.slice(0, stalledRooms)
    }
  }

  /**
   * A page of the active rooms (S26): the memory engine has one shard (the client refuses a
   * position of another, `roomsCursor.ts`); rooms in code-unit order of their names, after
   * `from.after`. Every room with state is active (a member, a backlog or a message in flight):
   * `gc` drops the others.
   */
  roomsPage(from: RoomsPosition | null, limit: number): { rooms: Array<string>; next: RoomsPosition | null } {
    const after = from?.after ?? ""
    const names = [...this.rooms.keys()].filter((name) => name > after).sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
    const rooms = names.slice(0, limit)
    return { rooms, next: names.length > limit ? { shard: 0, after: rooms[rooms.length - 1]! } : null }
  }
}

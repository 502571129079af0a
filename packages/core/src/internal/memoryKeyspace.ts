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
import type { DeadLetterPolicy, InFlightMessage, JoinOptions, JoinResult, RedriveTemplate } from "../Backend.js"
import * as Envelope from "../Envelope.js"
import type { SubscriptionMode } from "../QueueConfig.js"
import type { EjectReason } from "../QueueError.js"
import { Attempts } from "./memoryAttempts.js"
import type { Connection } from "./memoryConnection.js"
import { DeadLetters } from "./memoryDeadLetters.js"

export interface Member {
  readonly mode: SubscriptionMode
  ackTimeoutMs: number | null
  /** a durable id's membership waiting to be resumed: ended at this time unless resumed (S23, S24) */
  detachedUntil: number | null
}

export interface Queued {
  readonly id: string
  readonly priority: number
  /** per-room arrival order: FIFO among equal priorities (S2) */
  readonly order: number
  readonly envelope: string
}

export interface InFlight {
  readonly id: string
  readonly envelope: string
  readonly releasedAt: number
  /** sync members at release that have not acked yet (S3) */
  readonly holders: Set<string>
  readonly acked: Set<string>
}

export interface Room {
  readonly name: string
  /** sorted by (priority, order) */
  readonly queue: Array<Queued>
  readonly members: Map<string, Member>
  inFlight: InFlight | null
  arrivals: number
  /** S27 */
  readonly attempts: Attempts
}

export interface Client {
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
   * Rooms paused by an operator (S30): server state apart from the room's, so it outlives every
   * member and the room's own state (S18 drops that); `resume` removes it.
   */
  readonly paused = new Set<string>()
  /** S29: per room, apart from the room's state */
  readonly deadLetters = new DeadLetters()
  /**
   * The number of the last frame published, in any room: frames are numbered by the keyspace, not
   * by the room, so numbers keep growing when a room is dropped and made again (S5 compares a
   * frame with the number its join returned; a per-room counter would start again at 0 after gc).
   */
  private event = 0

  private room(name: string): Room {
    let room = this.rooms.get(name)
    if (room === undefined) {
      room = { name, queue: [], members: new Map(), inFlight: null, arrivals: 0, attempts: new Attempts() }
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

  /**
   * Release queued messages while the room is not held by a sync member (S3, S7), unless it is
   * paused (S30): every path that may release goes through here.
   */
  private release(room: Room, now: number): void {
    while (room.inFlight === null || room.inFlight.holders.size === 0) {
      room.inFlight = null
      if (this.paused.has(room.name)) break
      const next = room.queue.shift()
      if (next === undefined) break
      room.attempts.clear()
      const holders = new Set<string>()
      for (const [id, member] of room.members) {
        if (member.mode !== "sync") continue
        holders.add(id)
        // S27: a detached member (S24) never sees this publication: its successor counts attempt 1
        if (member.detachedUntil !== null) room.attempts.detachedAtRelease(id, next.id)
      }
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

  /** `clientId` settled the in-flight message (an ack, a reject, S28): the barrier counts it (S3). */
  private settle(room: Room, inFlight: InFlight, clientId: string, now: number): void {
    inFlight.holders.delete(clientId)
    inFlight.acked.add(clientId)
    this.release(room, now)
  }

  private ejectMember(room: Room, clientId: string, why: EjectReason, now: number): void {
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

  /** A join (S5); after a claim (`epoch`), one of a member in the same mode resumes it (S22, S25). */
  join(room: string, clientId: string, options: JoinOptions, epoch: number | null, now: number): JoinResult {
    this.touch(clientId, now, options.clientTimeoutMs)
    let r = this.room(room)
    const member = r.members.get(clientId)
    if (epoch !== null && member !== undefined) {
      if (member.mode === options.mode) {
        member.detachedUntil = null
        member.ackTimeoutMs = options.ackTimeoutMs
        this.clients.get(clientId)!.rooms.add(room)
        return this.resume(r, clientId, options, epoch, now)
      }
      this.removeMember(r, clientId, now) // the other mode: a fresh membership
      // the leave may have emptied the room, and gc dropped its state: join the room as it is now
      r = this.room(room)
    }
    r.members.set(clientId, { mode: options.mode, ackTimeoutMs: options.ackTimeoutMs, detachedUntil: null })
    this.clients.get(clientId)!.rooms.add(room)
    return { event: this.event, inFlight: null }
  }

  /**
   * A resumed membership (S22): a holder gets the in-flight message again, counted (S27) unless
   * this claim's earlier join was answered it and its consumer never had it (`handed`); past
   * `maxDeliveries` it is dead-lettered for the member instead (S28), which releases the next
   * message after the join's frame number, so the joiner receives it (S5).
   */
  private resume(r: Room, clientId: string, options: JoinOptions, epoch: number, now: number): JoinResult {
    const event = this.event
    const inFlight = r.inFlight
    if (inFlight === null || !inFlight.holders.has(clientId)) return { event, inFlight: null }
    const attempt = r.attempts.resumed(clientId, inFlight.id, epoch, options.handed)
    if (options.maxDeliveries !== null && attempt > options.maxDeliveries) {
      const letter = { id: inFlight.id, envelope: inFlight.envelope, member: clientId, attempts: attempt - 1 }
      this.deadLetters.write(r.name, { ...letter, reason: "max-deliveries" }, options.deadLetters, now)
      this.settle(r, inFlight, clientId, now)
      return { event, inFlight: null }
    }
    r.attempts.handedOver(clientId, inFlight.id, attempt, epoch)
    return { event, inFlight: { id: inFlight.id, envelope: inFlight.envelope, attempt } }
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

  leave(room: string, clientId: string, now: number): void {
    const r = this.rooms.get(room)
    if (r !== undefined && r.members.has(clientId)) this.removeMember(r, clientId, now)
  }

  /** The room and its in-flight message `id` if `clientId` holds it and has not acked it. */
  private held(room: string, clientId: string, id: string): { r: Room; inFlight: InFlight } | undefined {
    const r = this.rooms.get(room)
    const inFlight = r?.inFlight
    return r === undefined || inFlight == null || inFlight.id !== id || !inFlight.holders.has(clientId)
      ? undefined
      : { r, inFlight }
  }

  ack(room: string, clientId: string, id: string, now: number): void {
    const held = this.held(room, clientId, id)
    if (held !== undefined) this.settle(held.r, held.inFlight, clientId, now) // else a no-op (S4)
  }

  /** S28: settle `id` for `clientId` as a dead letter; false when it does not hold it. */
  reject(
    room: string,
    clientId: string,
    id: string,
    attempts: number,
    reason: string,
    policy: DeadLetterPolicy,
    now: number
  ): boolean {
    const held = this.held(room, clientId, id)
    if (held === undefined) return false
    this.deadLetters.write(
      room,
      { id, envelope: held.inFlight.envelope, member: clientId, attempts, reason },
      policy,
      now
    )
    this.settle(held.r, held.inFlight, clientId, now)
    return true
  }

  /** S30: an operator's ejection; the membership ends for good (a later join is fresh, S5). */
  eject(room: string, clientId: string, now: number): boolean {
    const r = this.rooms.get(room)
    if (r === undefined || !r.members.has(clientId)) return false
    this.ejectMember(r, clientId, "operator", now)
    return true
  }

  /** S30: set or clear the paused flag; resuming releases the next message if none is in flight. */
  pause(room: string, paused: boolean, now: number): boolean {
    if (paused) {
      if (this.paused.has(room)) return false
      this.paused.add(room)
      return true
    }
    if (!this.paused.delete(room)) return false
    const r = this.rooms.get(room)
    if (r !== undefined) this.release(r, now)
    return true
  }

  /** S30: dead-letter the in-flight message for every member holding it, then release the next. */
  skip(room: string, policy: DeadLetterPolicy, now: number): string | null {
    const r = this.rooms.get(room)
    const inFlight = r?.inFlight
    if (r === undefined || inFlight == null) return null
    for (const member of inFlight.holders) {
      const attempts = r.attempts.had(member, inFlight.id)
      const letter = { id: inFlight.id, envelope: inFlight.envelope, member, attempts, reason: "skipped" }
      this.deadLetters.write(room, letter, policy, now)
    }
    inFlight.holders.clear()
    this.release(r, now)
    return inFlight.id
  }

  /** S30: drop the backlog, not the in-flight message. */
  purge(room: string): number {
    const r = this.rooms.get(room)
    if (r === undefined) return 0
    const count = r.queue.length
    r.queue.length = 0
    this.gc(r)
    return count
  }

  /**
   * S29: queue a copy of message `id` from its newest letter, as a send would (S2), and remove its
   * letters. false when no letter of `id` is left, or its envelope is not a message's (it cannot
   * be sent again: it stays, for `dropDeadLetters`).
   */
  redrive(room: string, id: string, newId: string, template: RedriveTemplate, now: number): boolean {
    const letter = this.deadLetters.find(room, id, now)
    if (letter === undefined) return false
    const envelope = Envelope.redriven(letter.envelope, template)
    if (envelope._tag === "Failure") return false
    const decoded = Envelope.decodeOrReason(envelope.success)
    if (typeof decoded === "string" || decoded.k === "e") return false
    this.deadLetters.remove(room, id, now)
    this.send(room, envelope.success, decoded.pr, newId, now)
    return true
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
        if (r !== undefined) this.ejectMember(r, clientId, "keepalive-timeout", now)
      }
    }
    // S23, S24: detached memberships nobody resumed in time
    for (const r of [...this.rooms.values()]) {
      for (const [clientId, member] of [...r.members]) {
        if (member.detachedUntil !== null && member.detachedUntil <= now && r.members.get(clientId) === member) {
          this.ejectMember(r, clientId, "keepalive-timeout", now)
        }
      }
    }
    this.deadLetters.sweep(now) // S18
    for (const r of [...this.rooms.values()]) {
      const inFlight = r.inFlight
      if (inFlight === null) continue
      for (const holder of [...inFlight.holders]) {
        const deadline = r.members.get(holder)?.ackTimeoutMs
        if (deadline != null && inFlight.releasedAt + deadline <= now && r.inFlight === inFlight) {
          this.ejectMember(r, holder, "ack-timeout", now)
        }
      }
    }
  }

  /** S12: read-only; the attempt is the last hand-over's (S27), at least 1. */
  resync(room: string, clientId: string): InFlightMessage | null {
    const r = this.rooms.get(room)
    const inFlight = r?.inFlight
    if (r === undefined || inFlight == null || !inFlight.holders.has(clientId)) return null
    const attempt = r.attempts.resynced(clientId, inFlight.id)
    return { id: inFlight.id, envelope: inFlight.envelope, attempt }
  }

  unregister(clientId: string, now: number): void {
    const client = this.clients.get(clientId)
    this.clients.delete(clientId)
    for (const name of client?.rooms ?? []) this.leave(name, clientId, now)
  }
}

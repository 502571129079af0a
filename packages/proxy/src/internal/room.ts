/**
 * One room of the room proxy: its local members and the queued messages they still hold, and its
 * life:
 *
 *     new ──upstream subscribed──▶ open ──last member left, ejected or ended upstream──▶ closed
 *      └────subscribe failed, or its joiner was removed meanwhile──────────────────────────▲
 *
 * - **new**: in the proxy's `rooms`, no upstream subscription yet: its first joiner opens it.
 * - **open**: subscribed upstream (`scope` is the subscription's); every upstream delivery is
 *   fanned out to the members (`deliver`), and a queued one is acked upstream once every member
 *   it reached has acked it or left (S3, S6).
 * - **closed**: gone from the proxy's `rooms` for good (a later join makes a new `Room`), its
 *   subscription closed, no members, nothing pending. `closed` never goes back.
 *
 * Everything here runs holding the room's permit (`locked`), except the `holds` hint.
 */
import { type Delivery, QueueError } from "@lockstep/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { LocalClient } from "./localClient.js"

/** The settlement of an upstream delivery: its ack, or its reject when a local member rejected it (S28). */
export type UpstreamAck = Effect.Effect<void, QueueError.QueueError>

/** The `ack` a local client's copy of a queued delivery carries: acks `id` of `room` for `client`. */
export type LocalAck = (client: LocalClient, room: string, id: string) => Effect.Effect<void>

/**
 * The `reject` a local client's copy of a queued delivery carries (S28): settles `client`'s share of
 * `id` as a rejection; the proxy rejects upstream, with the first local reason, once every share is settled.
 */
export type LocalReject = (
  client: LocalClient,
  room: string,
  id: string
) => (reason?: string) => Effect.Effect<void, QueueError.InvalidArgument>

/** What an upstream delivery left to do upstream. */
export interface Fanout {
  /** upstream acks now due: of messages nobody local holds any more */
  readonly acks: ReadonlyArray<UpstreamAck>
  /** members ejected as slow consumers (their streams failed, their shares released) */
  readonly ejected: number
}

/** A queued message delivered locally and not yet acked upstream. */
interface Pending {
  /** the members it reached that have neither acked it nor left: never empty */
  readonly waiting: Set<LocalClient>
  /** the upstream delivery, acked or rejected once `waiting` is empty */
  readonly delivery: Delivery.Delivery
  /** the reason of the first local member that rejected it (S28): it is then rejected upstream */
  rejected: string | undefined
}

const nothing: Fanout = { acks: [], ejected: 0 }

export class Room {
  /**
   * one permit: every read or change of the room (open, join, leave, local ack, upstream delivery
   * or ejection) holds it, uninterruptibly, so a decision and its effect happen exactly once
   */
  private readonly lock = Semaphore.makeUnsafe(1)
  /** see the module comment; in the proxy's `rooms` exactly while not `closed` */
  status: "new" | "open" | "closed" = "new"
  /** the local members: `client ∈ members` exactly when `name ∈ client.rooms`; empty once closed */
  readonly members = new Set<LocalClient>()
  /**
   * the queued messages it holds, by id: each `waiting` ⊆ `members` and non-empty. An id leaves
   * only under the permit, and the caller that removed it acks it upstream: once per message.
   */
  private readonly pending = new Map<string, Pending>()
  /** the scope of the upstream subscription: set while open */
  scope: Scope.Closeable | undefined = undefined
  /** the last message acked upstream (never pending), to ack a redelivery again after a lost ack (S12) */
  private lastAcked: string | undefined = undefined

  constructor(readonly name: string) {}

  /** Run `body` holding the room's permit, uninterruptibly. */
  locked<A, E>(body: Effect.Effect<A, E>): Effect.Effect<A, E> {
    return this.lock.withPermits(1)(Effect.uninterruptible(body))
  }

  /** Whether message `id` is held here: a hint read without the permit, to skip stale acks cheaply. */
  holds(id: string): boolean {
    return this.pending.has(id)
  }

  /** Add a member. */
  add(client: LocalClient): void {
    this.members.add(client)
    client.rooms.add(this.name)
  }

  /** Remove a member; returns the upstream acks of the messages it was the last to hold (S6). */
  remove(client: LocalClient): Array<UpstreamAck> {
    this.members.delete(client)
    client.rooms.delete(this.name)
    const released: Array<UpstreamAck> = []
    for (const [id, pending] of this.pending) {
      if (pending.waiting.delete(client) && pending.waiting.size === 0) released.push(this.release(id, pending))
    }
    return released
  }

  /**
   * `client` acked message `id` locally: the upstream ack when it held the last share, else
   * `undefined` (stale, duplicate or foreign ids count for nothing, S4).
   */
  ack(client: LocalClient, id: string): UpstreamAck | undefined {
    const pending = this.pending.get(id)
    if (pending === undefined || !pending.waiting.delete(client) || pending.waiting.size > 0) return undefined
    return this.release(id, pending)
  }

  /**
   * `client` rejected message `id` locally (S28): like `ack`, and the message is rejected upstream
   * (with the first local reason) instead of acked once every share is settled.
   */
  reject(client: LocalClient, id: string, reason: string | undefined): UpstreamAck | undefined {
    const pending = this.pending.get(id)
    if (pending === undefined || !pending.waiting.delete(client)) return undefined
    pending.rejected ??= reason ?? "rejected"
    return pending.waiting.size > 0 ? undefined : this.release(id, pending)
  }

  /**
   * An upstream delivery: hand it to every member (S3, S9), a queued one with an `ack` of its own
   * (`localAck`), and record who must ack it. A member whose buffer is full is ejected from the
   * room (`slow-consumer`). A queued delivery reaching nobody is acked upstream at once, and so is
   * a redelivery of the message acked last (S12: that ack was lost); a redelivery of one still
   * held is dropped. After the room closed, nothing local holds it: it is only acked.
   */
  deliver(delivery: Delivery.Delivery, localAck: LocalAck, localReject: LocalReject): Fanout {
    const queued = delivery.kind === "queued"
    if (this.status !== "open") return queued ? { acks: [delivery.ack], ejected: 0 } : nothing
    if (queued && this.pending.has(delivery.id)) return nothing
    if (queued && this.lastAcked === delivery.id) return { acks: [delivery.ack], ejected: 0 }
    const waiting = new Set<LocalClient>()
    let slow: Array<LocalClient> | undefined
    for (const client of this.members) {
      if (client.closed) continue // leaving: its leave is waiting for this permit
      const local: Delivery.Delivery = queued
        ? {
          ...delivery,
          ack: localAck(client, this.name, delivery.id),
          reject: localReject(client, this.name, delivery.id)
        }
        : delivery
      if (client.offer(local)) waiting.add(client)
      else (slow ??= []).push(client)
    }
    const acks: Array<UpstreamAck> = []
    if (queued) {
      if (waiting.size > 0) this.pending.set(delivery.id, { waiting, delivery, rejected: undefined })
      else {
        this.lastAcked = delivery.id
        acks.push(delivery.ack)
      }
    }
    if (slow === undefined) return { acks, ejected: 0 }
    for (const client of slow) {
      acks.push(...this.remove(client))
      client.fail(new QueueError.ClientEjected({ room: this.name, clientId: client.id, reason: "slow-consumer" }))
    }
    return { acks, ejected: slow.length }
  }

  /**
   * Forget every member and pending message, failing the members' streams with `error` if given:
   * the upstream subscription was ejected (S10, S11) or ended, or the proxy shut down. What was
   * pending is not the proxy's to ack any more.
   */
  forget(error?: QueueError.ClientEjected): void {
    for (const client of this.members) {
      client.rooms.delete(this.name)
      if (error !== undefined) client.fail(error)
    }
    this.members.clear()
    this.pending.clear()
  }

  private release(id: string, pending: Pending): UpstreamAck {
    this.pending.delete(id)
    this.lastAcked = id
    return pending.rejected === undefined ? pending.delivery.ack : pending.delivery.reject(pending.rejected)
  }
}

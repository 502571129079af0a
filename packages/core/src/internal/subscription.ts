/**
 * The state machine of one subscription (one room of one client), engine-independent:
 *
 *     joining ──join answered──▶ joined ──close / eject──▶ closed
 *
 * - **joining**: the channel is live (so nothing released after the join is missed, S3) but the
 *   membership is not registered yet: frames are kept in `pending`.
 * - **joined**: the join answered the room's frame number; frames up to it were released before
 *   the membership and are dropped (S5), the pending ones included. Queued messages are delivered
 *   to the group's buffer, at most `subscriberBuffer` not yet taken (else the consumer is too slow
 *   and the room is left: "slow-consumer"), once each even when a resync races the published
 *   frame (S12). An ejection notice naming this client ends it (S10, S11).
 * - **closed**: frames are ignored. Closed by its own scope (S6), by its client (S20) or by an
 *   ejection; `closed` never goes back.
 *
 * Several subscriptions may share one `Group`: the rooms of one `subscribe` / `subscribeMany`
 * call, read through one buffer (one Stream) that ends with the last of them.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { InFlightMessage } from "../Backend.js"
import type { Delivery } from "../Delivery.js"
import * as Envelope from "../Envelope.js"
import * as MessageId from "../MessageId.js"
import type { SubscriptionMode } from "../QueueConfig.js"
import type { EjectReason, QueueError } from "../QueueError.js"
import type { ClientStats } from "./clientStats.js"
import * as DeliveryStream from "./deliveryStream.js"

/** What a subscription needs from its client. */
export interface SubscriptionHost {
  readonly clientId: string
  /** deliveries buffered per room before it counts as a slow consumer */
  readonly subscriberBuffer: number
  /** the client's clock, ms */
  readonly now: () => number
  readonly stats: ClientStats
  /** the `ack` of a queued delivery to a sync member: acknowledges `id` for `sub` (S3, S4) */
  readonly ackFor: (sub: Subscription, id: string) => Effect.Effect<void>
  /** the `reject` of a queued delivery to a sync member: settles `id` as a dead letter (S28) */
  readonly rejectFor: (
    sub: Subscription,
    id: string,
    attempt: number
  ) => (reason?: string) => Effect.Effect<void, QueueError>
  /** the engine (or the client itself) ends these subscriptions: see `Subscriptions.eject` */
  readonly eject: (subs: ReadonlyArray<Subscription>, reason: EjectReason, leaveRemotely: boolean) => void
  /** an undecodable frame reached a sync member: ack the in-flight message if it is that one (S16) */
  readonly undecodable: (sub: Subscription) => void
}

/** The rooms of one `subscribe` / `subscribeMany` call, read through one buffer (one Stream). */
export class Group {
  readonly buffer: DeliveryStream.Buffer
  /** the group's subscriptions by room */
  readonly members = new Map<string, Subscription>()
  /** subscriptions of the group not closed yet: the buffer ends with the last one */
  open = 0

  constructor(single: boolean) {
    // deliveries taken from the buffer no longer count against their room's bound
    this.buffer = new DeliveryStream.Buffer(
      single
        ? (taken) => {
          this.only!.buffered -= taken.length
        }
        : (taken) => {
          for (const d of taken) {
            const sub = this.members.get(d.room)
            if (sub !== undefined) sub.buffered--
          }
        }
    )
  }

  /** the subscription of a single-room group */
  private only: Subscription | undefined = undefined

  add(sub: Subscription): void {
    this.members.set(sub.room, sub)
    this.only ??= sub
    this.open++
  }
}

/** The `reject` of a delivery that cannot be rejected: out-of-band, async (S28). */
const noReject = (): Effect.Effect<void> => Effect.void

export class Subscription {
  /** the room's frame number at join: frames up to it predate the membership (S5); null while joining */
  joinedEvent: number | null = null
  /** frames received while joining */
  private pending: Array<string> = []
  /**
   * id of the last queued message delivered, to avoid needless resync duplicates (S12); kept by
   * the client when the subscription closes, for the next join of the room (S27, `JoinOptions.handed`)
   */
  lastQueuedId: string | null = null
  /** queued messages delivered so far: a resync answer older than the last of them is stale (S12) */
  queuedCount = 0
  /** deliveries of this room in the group's buffer, not taken yet (bounded by `subscriberBuffer`) */
  buffered = 0
  /** id of the last queued message the consumer acked (the ack may have been lost in transit) */
  lastAckedId: string | null = null
  closed = false

  constructor(
    readonly room: string,
    readonly mode: SubscriptionMode,
    readonly group: Group,
    private readonly host: SubscriptionHost
  ) {}

  /** A frame of the room's channel, `<event>|<envelope>`, in publication order. */
  onFrame(frame: string): void {
    if (this.closed) return
    if (this.joinedEvent === null) {
      this.pending.push(frame)
      return
    }
    const decoded = Envelope.decodeFrameOrReason(frame)
    if (typeof decoded === "string") {
      this.host.stats.invalidMessage(this.room, decoded)
      // S16: if it was the in-flight message we hold, ack it so the room does not stall on it
      if (this.mode === "sync") this.host.undecodable(this)
      return
    }
    const { envelope, event } = decoded
    if (event <= this.joinedEvent) return // released before we joined (S5)
    if (envelope.k === "e") {
      if (envelope.c === this.host.clientId) this.host.eject([this], envelope.why, false)
      return
    }
    this.deliver(envelope)
  }

  /**
   * The join answered the room's frame number `event`: handle what arrived meanwhile (S5). A
   * resumed membership (S22) that holds the in-flight message gets it first (it predates `event`).
   */
  joined(event: number, inFlight: InFlightMessage | null = null): void {
    this.joinedEvent = event
    if (inFlight !== null) this.redeliver(inFlight)
    const pending = this.pending
    this.pending = []
    for (const frame of pending) this.onFrame(frame)
  }

  /**
   * Hand a message to the consumer (S3, S8, S9), unless it already has it (S12) or is too slow;
   * `attempt` is 1 for a publication, the engine's count for a resync or resumed join (S27).
   */
  deliver(envelope: Envelope.MessageEnvelope, attempt = 1): void {
    const host = this.host
    const id = MessageId.make(envelope.p, envelope.s)
    const queued = envelope.k === "q"
    const blocking = queued && this.mode === "sync"
    if (blocking) {
      // a resync (S12) may race the published frame of the same release: deliver it once
      if (id === this.lastQueuedId) return
      this.lastQueuedId = id
      this.queuedCount++
    }
    if (this.buffered >= host.subscriberBuffer) return host.eject([this], "slow-consumer", true)
    const latencyMs = Math.max(0, host.now() - envelope.t)
    const delivery: Delivery = {
      room: this.room,
      id,
      data: envelope.d,
      kind: queued ? "queued" : "out-of-band",
      priority: envelope.pr,
      producer: envelope.p,
      sequence: envelope.s,
      sentAt: new Date(envelope.t),
      latency: Duration.millis(latencyMs),
      attempt: blocking ? attempt : 1,
      ack: blocking ? host.ackFor(this, id) : Effect.void,
      reject: blocking ? host.rejectFor(this, id, attempt) : noReject
    }
    this.buffered++
    this.group.buffer.offer(delivery)
    host.stats.delivered(latencyMs)
  }

  /**
   * The answer of a resync asked when `delivered` queued messages had been delivered (S12).
   * Delivers the in-flight message we hold and never saw; returns what the caller must do
   * with the server: `"ack"` to repeat an ack lost in transit, `"membership"` to check that we
   * are still a member (an ack-timeout ejection published while we were away was lost, S11).
   */
  resynced(answer: InFlightMessage | null, delivered: number): "ack" | "membership" | undefined {
    if (answer !== null) {
      // still held by us although the consumer acked it: the ack was lost in transit
      if (answer.id === this.lastAckedId) return "ack"
      // a queued message arrived since we asked: the answer predates it (the consumer acked the
      // message it names, which released the new one); delivering it again would be a duplicate
      if (this.queuedCount !== delivered || this.closed || answer.id === this.lastQueuedId) return undefined
      this.redeliver(answer)
      return undefined
    }
    return this.closed ? undefined : "membership"
  }

  /** Deliver the in-flight message the engine says we hold (S12, S22). */
  private redeliver(answer: InFlightMessage): void {
    const decoded = Envelope.decodeOrReason(answer.envelope)
    if (typeof decoded === "string" || decoded.k === "e") {
      this.host.stats.invalidMessage(this.room, typeof decoded === "string" ? decoded : "unexpected envelope kind")
      if (this.mode === "sync") this.host.undecodable(this)
    } else {
      this.deliver(decoded, answer.attempt)
    }
  }
}

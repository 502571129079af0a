/**
 * The lockstep service: a priority queue with synchronous fan-out per room (DESIGN §2, §3).
 * Provided by `MemoryLayer` (in-process) and `@lockstep/redis` `ClientLayer` (across processes).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Delivery, QueuedMessage } from "./Delivery.js"
import type { MessageId } from "./MessageId.js"
import type { SubscriptionMode } from "./QueueConfig.js"
import type { ClientEjected, QueueError } from "./QueueError.js"
import type { QueueMetrics } from "./QueueMetrics.js"
import type { RoomState } from "./RoomState.js"

/**
 * Options of `send`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SendOptions {
  /** lower is delivered first; a safe integer; default 0 (S2) */
  readonly priority?: number | undefined
}

/**
 * Options of `subscribe` and `subscribeMany`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscribeOptions {
  /** "sync" members hold the room until they ack (S3); "async" ones never block it (S8) */
  readonly mode?: SubscriptionMode | undefined
}

/**
 * Options of `peek`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PeekOptions {
  readonly offset?: number | undefined
  /** default 100, at most 10 000 */
  readonly limit?: number | undefined
}

/**
 * One queue client: its own id, keepalive and rooms.
 *
 * @since 0.1.0
 * @category services
 */
export class SyncFanoutQueue extends Context.Service<SyncFanoutQueue, {
  /** this client's id (the configured `clientId` of a durable client, else a random one); producer part of its message ids */
  readonly clientId: string
  /** Enqueue `data` (JSON) in `room` (S2); released when the room's sync members acked the previous message (S3). */
  readonly send: (room: string, data: unknown, options?: SendOptions) => Effect.Effect<MessageId, QueueError>
  /** Deliver `data` at once to every current subscriber, skipping queue and acks (S9). */
  readonly sendOutOfBand: (room: string, data: unknown) => Effect.Effect<MessageId, QueueError>
  /**
   * Join `room`. The subscription is live (channel subscribed, membership registered) when the Effect
   * succeeds; it leaves when the Scope closes (S6); the stream fails with `ClientEjected` on ejection.
   * A durable client (`clientId`) whose id is still a member of `room` resumes that membership
   * (S22): if the id had not acked the in-flight message, it is the stream's first delivery.
   * With `onClose: "detach"`, a subscription whose Scope closes by interruption keeps the
   * membership for a successor instead of leaving (S24).
   */
  readonly subscribe: (
    room: string,
    options?: SubscribeOptions
  ) => Effect.Effect<Stream.Stream<Delivery, ClientEjected>, QueueError, Scope.Scope>
  /**
   * Join every room of `rooms` at once, with one Stream for all of them: their deliveries merged in
   * arrival order (each room's own order kept), as one `subscribe` per room would give them, at a
   * fraction of the cost per delivery when one consumer serves many rooms. Live when every room is
   * joined; if one cannot be, none is. Closing the Scope leaves them all (S6). An ejection from one
   * room (S11) fails the stream once with that room's `ClientEjected` and the others stay joined:
   * running the stream again (e.g. `Stream.retry`) goes on with them; the ejection from the last
   * room, or of the client (S10), ends it for good. At least one room; no room twice.
   *
   * The stream hands out what arrived together as one chunk (that is where the savings come
   * from). As with `Stream.fromQueue`, a consumer that stops in the middle of a chunk
   * (`Stream.take`, a failing handler) drops the rest of it: there may be other rooms' messages,
   * which then hold their rooms until this client leaves them. Consume the stream whole, and
   * stop by closing its Scope (leaving releases what the rooms held, S6).
   */
  readonly subscribeMany: (
    rooms: ReadonlyArray<string>,
    options?: SubscribeOptions
  ) => Effect.Effect<Stream.Stream<Delivery, ClientEjected>, QueueError, Scope.Scope>
  /** Queued, not yet released messages in delivery order (S13). Changes nothing. */
  readonly peek: (room: string, options?: PeekOptions) => Effect.Effect<ReadonlyArray<QueuedMessage>, QueueError>
  /** A snapshot of the room (S14). */
  readonly roomState: (room: string) => Effect.Effect<RoomState, QueueError>
  /**
   * Server-wide and client-local figures (S15), with the `stalledRooms` rooms (default 10, at most
   * 1000) whose in-flight message is oldest and the members they wait for (S26).
   */
  readonly metrics: (
    options?: { readonly topRooms?: number | undefined; readonly stalledRooms?: number | undefined }
  ) => Effect.Effect<QueueMetrics, QueueError>
  /**
   * A page of the active rooms (S26: a member, a backlog or a message in flight), e.g. for a
   * monitor: `limit` rooms (default 100, at most 1000) from `cursor` on (the `cursor` of the
   * previous page; none: from the start). A full walk (until `cursor` is `None`) returns every room
   * active during the whole walk exactly once, also while other rooms come and go (those at most
   * once). The order is stable but unspecified; a cursor is an opaque string (bad input:
   * `InvalidArgument`).
   */
  readonly rooms: (options?: RoomsOptions) => Effect.Effect<RoomsPage, QueueError>
  /**
   * The rooms this client id is a member of on the server (S23), e.g. for a durable client to
   * resume (subscribe to) or leave, after a restart, the rooms its predecessor held. Rooms in no
   * particular order.
   */
  readonly memberships: Effect.Effect<ReadonlyArray<Membership>, QueueError>
}>()("@lockstep/core/SyncFanoutQueue") {}

/**
 * Options of `rooms`.
 *
 * @since 0.2.0
 * @category models
 */
export interface RoomsOptions {
  readonly cursor?: string | undefined
  readonly limit?: number | undefined
}

/**
 * A page of `rooms`: the rooms, and the cursor of the next page (`None`: the walk is complete).
 *
 * @since 0.2.0
 * @category models
 */
export interface RoomsPage {
  readonly rooms: ReadonlyArray<string>
  readonly cursor: Option.Option<string>
}

/**
 * A membership of a client id on the server (S23). Engines answer it as they are (`Backend.Membership`
 * is this type).
 *
 * @since 0.2.0
 * @category models
 */
export interface Membership {
  readonly room: string
  readonly mode: SubscriptionMode
}

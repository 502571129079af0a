/**
 * The engine SPI: what a server (the in-memory broker, Redis) must offer so that the generic
 * client in `makeQueue` can implement `SyncFanoutQueue` on top of it. Application code does not
 * use this module; engines do (`MemoryLayer`, `@lockstep/redis`), and adapters that hand out
 * deliveries of their own (the room proxy).
 *
 * All client-side behaviour (validation, subscriptions as Streams, routing of frames, keepalive,
 * housekeeping, resync after reconnect, local loss detection, metrics, spans) lives in
 * `makeQueue`, once, so both engines behave the same by construction; a backend only moves
 * strings and runs the room state machine (DESIGN §2).
 *
 * This module holds the vocabulary only: what an engine implements (`BackendClient` and its
 * models), and the names of what it calls, each bound to its machinery under `internal/`: the
 * client (`makeQueue`, `internal/queueClient.ts`), delivery buffers (`makeDeliveryBuffer`,
 * `deliveryStream`, `internal/deliveryStream.ts`) and per-message spans (`hotSpan`,
 * `internal/tracing.ts`).
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import type { Delivery } from "./Delivery.js"
import * as DeliveryStream from "./internal/deliveryStream.js"
import * as QueueClient from "./internal/queueClient.js"
import * as Tracing from "./internal/tracing.js"
import type { ResolvedQueueConfig, SubscriptionMode } from "./QueueConfig.js"
import type { ClientEjected, ClientSuperseded, EngineError, OperationTimeout } from "./QueueError.js"
import type { RoomAdmin } from "./RoomAdmin.js"
import type { Membership as QueueMembership, SyncFanoutQueue } from "./SyncFanoutQueue.js"

// -----------------------------------------------------------------------------
// what an engine implements
// -----------------------------------------------------------------------------

/**
 * Failures of the transport, and the fencing of a durable client (S21): once a newer process
 * claimed its id, every operation of a claimed `BackendClient` fails with `ClientSuperseded`.
 *
 * @since 0.1.0
 * @category errors
 */
export type BackendError = EngineError | OperationTimeout | ClientSuperseded

/**
 * The raw state of a room (S14) as the server sees it, times in server milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawRoomState {
  readonly backlog: number
  readonly members: ReadonlyArray<string>
  readonly acked: ReadonlyArray<string>
  readonly inFlight: { readonly id: string; readonly releasedAt: number; readonly age: number } | null
  /** paused by an operator (S30) */
  readonly paused: boolean
}

/**
 * Server-wide figures of `metrics` (S15), as the engine reports them.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawStats {
  readonly knownRooms: number
  readonly topRooms: ReadonlyArray<{ readonly room: string; readonly backlog: number }>
  readonly knownClients: number
  /**
   * The rooms whose in-flight message is oldest (S26), oldest first, at most the number asked:
   * rooms waiting for at least one sync member, with those members. Times in server ms.
   */
  readonly stalled: ReadonlyArray<RawStalledRoom>
}

/**
 * A room waiting for acks (S26), as the engine reports it.
 *
 * @since 0.2.0
 * @category models
 */
export interface RawStalledRoom {
  readonly room: string
  readonly id: string
  readonly releasedAt: number
  readonly age: number
  /** the sync members holding the in-flight message (not acked yet) */
  readonly waitingFor: ReadonlyArray<string>
}

/**
 * A position in a walk over the active rooms (S26): after room `after` of shard `shard` (`""`: the
 * shard's first room), `shard` from 0 to `BackendClient.shards - 1` (the client checks it before it
 * asks the engine). Engines with one shard use shard 0.
 *
 * @since 0.2.0
 * @category models
 */
export interface RoomsPosition {
  readonly shard: number
  readonly after: string
}

/**
 * What a join tells the engine about the new member.
 *
 * @since 0.1.0
 * @category models
 */
export interface JoinOptions {
  readonly mode: SubscriptionMode
  /** ack deadline of this member in ms (S11), or null */
  readonly ackTimeoutMs: number | null
  /** expiry of this client in ms (S10) */
  readonly clientTimeoutMs: number
  /**
   * The id of the last queued message an earlier subscription of this process to the room handed
   * to its consumer, or null (S27): a resumed membership (S22) answering that message counts a new
   * attempt even within the same claim, while a join repeated after an answer that never arrived
   * does not.
   *
   * @since 1.1.0
   */
  readonly handed: string | null
  /** S28: a resumed membership that would receive a message for attempt `maxDeliveries + 1` dead-letters it instead; null: no bound */
  readonly maxDeliveries: number | null
  /** where such a dead letter goes (S29) */
  readonly deadLetters: DeadLetterPolicy
}

/**
 * How a room keeps its dead letters (S29): at most `limit`, none older than `retentionMs`; applied
 * by the operation that writes a letter, with the writing client's configuration.
 *
 * @since 1.1.0
 * @category models
 */
export interface DeadLetterPolicy {
  readonly limit: number
  readonly retentionMs: number
}

/**
 * A message handed to a member outside the release's publication (a resync, S12, or a resumed
 * join, S22), with the attempt it is for that member (S27).
 *
 * @since 1.1.0
 * @category models
 */
export interface InFlightMessage {
  readonly id: string
  readonly envelope: string
  readonly attempt: number
}

/**
 * The new header of a redriven message (S29): the engine writes the letter's envelope again with
 * this producer, sequence and send time (ms), keeping its priority and data text unchanged
 * (`Envelope.redriven`), so a redrive is one round trip.
 *
 * @since 1.1.0
 * @category models
 */
export interface RedriveTemplate {
  readonly producer: string
  readonly sequence: number
  readonly sentAt: number
}

/**
 * A dead letter as the engine stores it (S29), times in server ms. `seq` grows for good within
 * the room: pages go from the newest letter down, and a position is the `seq` of the last letter
 * of the previous page.
 *
 * @since 1.1.0
 * @category models
 */
export interface RawDeadLetter {
  readonly seq: number
  readonly envelope: string
  readonly member: string
  readonly attempts: number
  readonly at: number
  readonly reason: string
}

/**
 * What a join answers (S5, S22).
 *
 * @since 0.2.0
 * @category models
 */
export interface JoinResult {
  /** the number of the last frame published before the join: frames up to it predate it (S5) */
  readonly event: number
  /**
   * The in-flight message, when the join resumed a durable membership (S22) that holds it and has
   * not acked it: the caller delivers it (it predates `event`). Always null for a fresh join.
   */
  readonly inFlight: InFlightMessage | null
}

/**
 * A membership of a client id on the server (S23): the same type as `SyncFanoutQueue.Membership`,
 * which `memberships` hands to the application unchanged.
 *
 * @since 0.2.0
 * @category models
 */
export type Membership = QueueMembership

/**
 * Called when an ack could not be delivered (the connection failed or timed out): the caller
 * decides whether to repeat it.
 *
 * @since 0.1.0
 * @category models
 */
export type AckFailure = (room: string, id: string, error: BackendError) => void

/**
 * The server side of one client. Every operation is one round trip to the server.
 *
 * @since 0.1.0
 * @category models
 */
export interface BackendClient {
  /** Enqueue an envelope (already encoded) with a priority, releasing it at once if the room allows (S2, S3, S7). */
  readonly send: (room: string, envelope: string, priority: number, id: string) => Effect.Effect<void, BackendError>
  /** Publish an envelope to the room's current subscribers, if it has members (S9). */
  readonly sendOutOfBand: (room: string, envelope: string) => Effect.Effect<void, BackendError>
  /**
   * Start receiving the room's frames (`<event>|<envelope>`) into `deliver`, synchronously, in
   * publication order. Live when the Effect succeeds; stops when the Scope closes.
   */
  readonly listen: (room: string, deliver: (frame: string) => void) => Effect.Effect<void, BackendError, Scope.Scope>
  /**
   * Add this client as a member; answers the number of the last frame published in the room so far:
   * frames up to it predate the join (S5). Frame numbers must grow for good, even when the room's
   * state is dropped and made again: number them per engine or per shard, not per room.
   * After `claim`, a join where the id is already a member in the same mode **resumes** the
   * membership (S22, S25): it stays a holder of what it holds (answered in `inFlight`) and is no
   * longer waiting for a successor; in the other mode it is left and joined afresh.
   */
  readonly join: (room: string, options: JoinOptions) => Effect.Effect<JoinResult, BackendError>
  /** Remove this client from the room, releasing what it held (S6). */
  readonly leave: (room: string) => Effect.Effect<void, BackendError>
  /**
   * Acknowledge message `id` in `room` (S4); releases the next one when all holders acked. It
   * does not wait: the ack goes out with the other acks of this event-loop turn (on Redis, one
   * round trip per node for all of them), and `onFailure` is called if it could not be delivered; a
   * later operation of this client must reach the server after it. A plain
   * function rather than an Effect: acks are the hottest path, and a fiber resumed per ack
   * reply costs more than the ack.
   */
  readonly ack: (room: string, id: string, onFailure: AckFailure) => void
  /**
   * Claim this client's id for a durable client (S21), before any other operation: the claim gets
   * a new epoch, greater than every earlier claim of the id (answered; message sequences start
   * from it so ids stay unique across claims, S7), registers the client, and gives each existing
   * membership of the id `clientTimeoutMs` to be resumed by a join (S23). From then on every
   * operation of this client fails with `ClientSuperseded` once a newer claim exists, and none of
   * its writes takes effect; so does the claim when a newer one won a race with it.
   */
  readonly claim: (clientTimeoutMs: number) => Effect.Effect<{ readonly epoch: number }, BackendError>
  /**
   * Keep this client's membership of `room` for a successor (S24): nothing is left or released;
   * if no join resumes it within `clientTimeoutMs` it ends as an expiry would end it (S10, S23).
   */
  readonly detach: (room: string, clientTimeoutMs: number) => Effect.Effect<void, BackendError>
  /** The rooms this client id is a member of on the server, with their mode (S23). */
  readonly memberships: Effect.Effect<ReadonlyArray<Membership>, BackendError>
  /** Heartbeat (S10). Returns false when the server no longer knows this client (it was ejected). */
  readonly keepalive: (rooms: ReadonlyArray<string>, clientTimeoutMs: number) => Effect.Effect<boolean, BackendError>
  /** Eject expired clients and members past their ack deadline (S10, S11), bounded work. */
  readonly housekeep: (rooms: ReadonlyArray<string>) => Effect.Effect<void, BackendError>
  /**
   * The in-flight envelope of `room` if this client holds it and has not acked it (S12), with the
   * attempt it is for this member (S27). Read-only: a resync counts no attempt.
   */
  readonly resync: (room: string) => Effect.Effect<InFlightMessage | null, BackendError>
  /** Leave every room given and forget this client (S20). */
  readonly unregister: (rooms: ReadonlyArray<string>) => Effect.Effect<void, BackendError>
  /** Queued envelopes of `room` in delivery order (S13). */
  readonly peek: (room: string, offset: number, limit: number) => Effect.Effect<ReadonlyArray<string>, BackendError>
  readonly roomState: (room: string) => Effect.Effect<RawRoomState, BackendError>
  /** Server-wide figures (S15), with the `stalledRooms` rooms whose in-flight message is oldest (S26). */
  readonly stats: (topRooms: number, stalledRooms: number) => Effect.Effect<RawStats, BackendError>
  /**
   * Up to `limit` active rooms (a member, a backlog or a message in flight) from `from` on (null:
   * from the start), in a stable order (shard by shard, each in code-unit order of the names), and
   * the position after the last one, or null when the walk is complete (S26). A room active during
   * the whole walk is returned exactly once; one created or dropped meanwhile at most once.
   */
  readonly rooms: (
    from: RoomsPosition | null,
    limit: number
  ) => Effect.Effect<{ readonly rooms: ReadonlyArray<string>; readonly next: RoomsPosition | null }, BackendError>
  /**
   * Settle the in-flight message `id` for this member as a dead letter (S28): like an ack, and the
   * letter `{ envelope, member, attempts: attempt, at, reason }` is kept per `policy`. false when
   * this member does not hold `id` (acked, rejected, left or not the in-flight message): nothing
   * changes. Unlike `ack`, awaited.
   *
   * @since 1.1.0
   */
  readonly reject: (
    room: string,
    id: string,
    attempt: number,
    reason: string,
    policy: DeadLetterPolicy
  ) => Effect.Effect<boolean, BackendError>
  /** S30 `RoomAdmin.eject`: remove member `clientId` (publish an ejection notice `"operator"`, release what it held, end a durable membership for good); false when it was not a member. */
  readonly eject: (room: string, clientId: string) => Effect.Effect<boolean, BackendError>
  /** S30: set (true) or clear (false) the room's paused flag; resuming releases the next message if none is in flight. false when nothing changed. */
  readonly pause: (room: string, paused: boolean) => Effect.Effect<boolean, BackendError>
  /** S30: dead-letter the in-flight message ("skipped") for each sync member that has not acked it, release the next unless paused; the id skipped, or null. */
  readonly skip: (room: string, policy: DeadLetterPolicy) => Effect.Effect<string | null, BackendError>
  /** S30: drop the backlog; the number dropped. */
  readonly purge: (room: string) => Effect.Effect<number, BackendError>
  /** S29: up to `limit` letters, newest first, with `seq` below `before` (null: from the newest); `next` is the last `seq` returned, or null when no letter is left below it. */
  readonly deadLetters: (
    room: string,
    before: number | null,
    limit: number
  ) => Effect.Effect<{ readonly letters: ReadonlyArray<RawDeadLetter>; readonly next: number | null }, BackendError>
  /**
   * S29: if a letter of message `id` is left, queue `envelope` (made by the caller: a new id, the
   * letter's data and priority, read back from `letterEnvelope` by `Envelope.redriven`) and remove
   * every letter of `id`, atomically; the new message is released at once if the room allows (S2).
   * false when no letter of `id` was left (nothing is queued).
   */
  readonly redrive: (
    room: string,
    id: string,
    newId: string,
    redriven: RedriveTemplate
  ) => Effect.Effect<boolean, BackendError>
  /** S29: drop every dead letter of the room; how many were dropped. */
  readonly dropDeadLetters: (room: string) => Effect.Effect<number, BackendError>
  /** true while the push connection is up; a false → true change triggers a resync (S12). */
  readonly connected: SubscriptionRef.SubscriptionRef<boolean>
  /**
   * The number of shards `rooms` walks (1 for an engine without sharding): positions name shards
   * 0 to `shards - 1`. The client writes it into its `rooms` cursors and refuses a cursor made
   * for another shape (S26).
   *
   * @since 1.0.0
   */
  readonly shards: number
}

// -----------------------------------------------------------------------------
// what an engine calls
// -----------------------------------------------------------------------------

/**
 * Build the `SyncFanoutQueue` service of one client over a backend. `connect` receives the new
 * client's id (the configured `clientId` of a durable client). Requires a Scope: closing it leaves
 * every room (S20) and stops the fibers. A durable client claims its id first (S21): a claim that
 * fails (the engine is out of reach, or a newer claim won) fails the construction.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeQueue: <E, R>(
  connect: (clientId: string) => Effect.Effect<BackendClient, E, R>,
  config: ResolvedQueueConfig
) => Effect.Effect<SyncFanoutQueue["Service"], E | BackendError, R | Scope.Scope> = QueueClient.makeQueue

/**
 * Build one client over a backend, as `makeQueue` does, with its operator's side: the
 * `SyncFanoutQueue` service and the `RoomAdmin` service (S29, S30) of the same client id, message
 * sequence (a redriven message's id is one of this client's, S7) and Scope. Engines provide both
 * from their client layers.
 *
 * @since 1.1.0
 * @category constructors
 */
export const makeClient: <E, R>(
  connect: (clientId: string) => Effect.Effect<BackendClient, E, R>,
  config: ResolvedQueueConfig
) => Effect.Effect<
  { readonly queue: SyncFanoutQueue["Service"]; readonly admin: RoomAdmin["Service"] },
  E | BackendError,
  R | Scope.Scope
> = QueueClient.makeClient

/**
 * A fresh random client id: 12 hex characters (no ':', which separates a message id's parts).
 *
 * @since 0.1.0
 * @category constructors
 */
export const randomClientId: () => string = QueueClient.randomClientId

/**
 * A span for a per-message operation (an ack, a send), made only when somebody can see it: under
 * Effect's built-in tracer, which keeps spans in memory only, it is skipped, since a span costs
 * about as much as the rest of an ack. For engines and adapters (the room proxy) with their own
 * per-message operations; `SyncFanoutQueue` uses it for `send`, `sendOutOfBand` and acks.
 *
 * @since 0.1.0
 * @category tracing
 */
export const hotSpan: <A, E, R>(
  name: string,
  attributes: Record<string, unknown>,
  effect: Effect.Effect<A, E, R>
) => Effect.Effect<A, E, R> = Tracing.hotSpan

/**
 * A subscription's delivery buffer, filled synchronously (e.g. from a socket callback) and read
 * as a `Stream` through `deliveryStream`: an array and a waiting reader, much cheaper per delivery
 * than a `Queue` of `Take`s. The caller bounds its size.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeliveryBuffer {
  /** deliveries (and one-shot failures) buffered, not taken yet */
  readonly size: number
  /** buffer a delivery; ignored once the buffer has ended */
  readonly offer: (delivery: Delivery) => void
  /**
   * fail one run of the stream, after what is buffered, without ending the buffer: a stream run
   * again goes on with what is offered later
   */
  readonly fail: (error: ClientEjected) => void
  /**
   * end the stream after what is buffered (its subscription was closed); with an ejection, fail
   * it for good instead. The first end wins.
   */
  readonly end: (failure?: ClientEjected) => void
}

/**
 * A new delivery buffer; `onTaken` sees every batch the stream takes (e.g. to count what is still
 * buffered per room).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDeliveryBuffer: (onTaken?: (taken: ReadonlyArray<Delivery>) => void) => DeliveryBuffer =
  DeliveryStream.make

/**
 * The stream of a buffer made by `makeDeliveryBuffer`: every buffered delivery as one chunk (at most
 * `maxChunkSize`). A consumer that stops in the middle of a chunk drops the rest of it; with
 * `maxChunkSize: 1` what it did not take stays buffered for the next run. A buffer made otherwise
 * is a defect of the stream.
 *
 * @since 0.1.0
 * @category constructors
 */
export const deliveryStream: (
  buffer: DeliveryBuffer,
  options?: { readonly maxChunkSize?: number | undefined }
) => Stream.Stream<Delivery, ClientEjected> = DeliveryStream.streamOf

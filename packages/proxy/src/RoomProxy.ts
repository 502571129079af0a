/**
 * The room proxy: many local clients (browser sockets, game sessions, …) multiplexed over one
 * `SyncFanoutQueue` client. The proxy holds one upstream subscription per room that has at least
 * one local member and acks a queued message upstream once every local client that was in the
 * room when it arrived has acked it or left (DESIGN §3, S3–S6, S9–S11).
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const proxy = yield* RoomProxy.RoomProxy
 *   const client = yield* proxy.addClient
 *   yield* client.join("room-1")
 *   yield* client.deliveries.pipe(Stream.runForEach((delivery) => delivery.ack), Effect.forkChild)
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Delivery, MessageId, QueueError } from "@lockstep/core"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"

/**
 * One local client of the proxy. It behaves like a sync member of every room it joined: the room
 * does not move on until it acked the in-flight message or left (S3, S6).
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxyClient {
  /** unique within the process: `<upstream client id>/<n>` */
  readonly id: string
  /**
   * Join `room`. The first local join of a room opens the proxy's upstream subscription; the
   * membership is live when the Effect succeeds. A client joining while a message is in flight
   * neither receives nor blocks it (S5). Joining twice is a no-op.
   */
  readonly join: (room: string) => Effect.Effect<void, QueueError.QueueError>
  /**
   * Leave `room` at once, releasing this client's share of every message it still holds there
   * (S6). The last local leave closes the upstream subscription. Leaving a room one is not in is a no-op.
   */
  readonly leave: (room: string) => Effect.Effect<void, QueueError.QueueError>
  /** The rooms this client is in now (ejections remove rooms, too). */
  readonly rooms: Effect.Effect<ReadonlySet<string>>
  /**
   * Deliveries of every joined room, merged, in arrival order per room. Queued deliveries carry an
   * `ack` that acks locally (the same as `ack(room, id)`); out-of-band ones pass through and need no
   * ack (S9). The stream fails with `ClientEjected` when a room this client is in was ejected
   * upstream (S10, S11; `clientId` is then the upstream client's id) or when this client's buffer
   * overflowed (`slow-consumer`, `clientId` is this local id); the client stays in its other rooms
   * and the stream may be run again to keep receiving from them. It ends when the client is removed.
   * Run it once at a time: concurrent runs split the deliveries.
   */
  readonly deliveries: Stream.Stream<Delivery.Delivery, QueueError.ClientEjected>
  /**
   * Ack message `id` of `room` for this client, e.g. when a remote peer acks later by id. Stale,
   * duplicate or foreign ids are ignored (S4).
   */
  readonly ack: (room: string, id: MessageId.MessageId) => Effect.Effect<void>
  /**
   * Reject message `id` of `room` for this client (S28), as `delivery.reject` does: its share is
   * settled; once every local member settled it, the proxy rejects it upstream with the first local
   * reason (a dead letter for the proxy's upstream client) instead of acking it. Stale, duplicate
   * or foreign ids are ignored. A reason `delivery.reject` refuses (not 1–256 characters of
   * well-formed text) fails with `InvalidArgument` and settles nothing. It never fails otherwise:
   * the upstream settlement is the proxy's (repeated, then logged).
   *
   * @since 1.1.0
   */
  readonly reject: (
    room: string,
    id: MessageId.MessageId,
    reason?: string
  ) => Effect.Effect<void, QueueError.InvalidArgument>
}

/**
 * The proxy service: adds local clients over the `SyncFanoutQueue` in context.
 *
 * @since 0.1.0
 * @category services
 */
export class RoomProxy extends Context.Service<RoomProxy, {
  /**
   * A new local client, removed when the Scope closes: it leaves all its rooms, its pending acks
   * are released and its `deliveries` stream ends.
   */
  readonly addClient: Effect.Effect<ProxyClient, never, Scope.Scope>
}>()("@lockstep/proxy/RoomProxy") {}

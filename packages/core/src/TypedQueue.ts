/**
 * A typed view of `SyncFanoutQueue` (S16): data is encoded with a `Schema` on send and decoded on
 * receive. An undecodable delivery is counted as invalid, acked (so the room does not stall) and
 * skipped; the stream never fails because of it.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Delivery, QueuedMessage } from "./Delivery.js"
import { recordInvalid } from "./internal/invalidSink.js"
import type { MessageId } from "./MessageId.js"
import { type ClientEjected, InvalidArgument, type QueueError } from "./QueueError.js"
import { type PeekOptions, type SendOptions, type SubscribeOptions, SyncFanoutQueue } from "./SyncFanoutQueue.js"

/**
 * The typed view: data of type `A` encoded and decoded with a `Schema` (S16).
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedQueue<A> {
  readonly clientId: string
  readonly send: (room: string, data: A, options?: SendOptions) => Effect.Effect<MessageId, QueueError>
  readonly sendOutOfBand: (room: string, data: A) => Effect.Effect<MessageId, QueueError>
  readonly subscribe: (
    room: string,
    options?: SubscribeOptions
  ) => Effect.Effect<Stream.Stream<Delivery<A>, ClientEjected>, QueueError, Scope.Scope>
  readonly subscribeMany: (
    rooms: ReadonlyArray<string>,
    options?: SubscribeOptions
  ) => Effect.Effect<Stream.Stream<Delivery<A>, ClientEjected>, QueueError, Scope.Scope>
  /** queued messages whose data decodes; the others are skipped */
  readonly peek: (room: string, options?: PeekOptions) => Effect.Effect<ReadonlyArray<QueuedMessage<A>>, QueueError>
}

/**
 * A typed queue over the `SyncFanoutQueue` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, I>(schema: Schema.Codec<A, I>): Effect.Effect<TypedQueue<A>, never, SyncFanoutQueue> =>
  Effect.map(SyncFanoutQueue, (queue) => fromQueue(queue, schema))

/**
 * A typed queue over a given client, e.g. one of several clients of a test (`MemoryLayer.make`).
 *
 * @since 1.1.0
 * @category constructors
 */
export const fromQueue = <A, I>(queue: SyncFanoutQueue["Service"], schema: Schema.Codec<A, I>): TypedQueue<A> => {
  const encode = Schema.encodeResult(schema)
  const decodeResult = Schema.decodeUnknownResult(schema)
  // data comes from any producer: a value that makes the schema itself throw (e.g. a hostile
  // discriminant) counts as undecodable, never as a defect of the stream
  const decode = (data: unknown): Result.Result<A, string> => {
    try {
      return Result.mapError(decodeResult(data), (e) => e.message)
    } catch (e) {
      return Result.fail(`the schema threw: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  const encodeData = (data: A): Effect.Effect<I, InvalidArgument> =>
    Result.match(encode(data), {
      onFailure: (e) => Effect.fail(new InvalidArgument({ message: `cannot encode: ${e.message}` })),
      onSuccess: Effect.succeed
    })
  const decodeStream = (deliveries: Stream.Stream<Delivery, ClientEjected>) =>
    deliveries.pipe(
      Stream.filterMapEffect((delivery): Effect.Effect<Result.Result<Delivery<A>, void>> =>
        Result.match(decode(delivery.data), {
          onSuccess: (data) => Effect.succeed(Result.succeed<Delivery<A>>({ ...delivery, data })),
          onFailure: (e) =>
            recordInvalid(queue, delivery.room, `schema mismatch: ${e}`).pipe(
              Effect.andThen(delivery.ack),
              Effect.as(Result.failVoid)
            )
        })
      )
    )
  return {
    clientId: queue.clientId,
    send: (room, data, options) => Effect.flatMap(encodeData(data), (encoded) => queue.send(room, encoded, options)),
    sendOutOfBand: (room, data) => Effect.flatMap(encodeData(data), (encoded) => queue.sendOutOfBand(room, encoded)),
    subscribe: (room, options) => Effect.map(queue.subscribe(room, options), decodeStream),
    subscribeMany: (rooms, options) => Effect.map(queue.subscribeMany(rooms, options), decodeStream),
    peek: (room, options) =>
      Effect.map(queue.peek(room, options), (messages) =>
        messages.flatMap((m) => {
          const decoded = decode(m.data)
          return Result.isSuccess(decoded) ? [{ ...m, data: decoded.success }] : []
        }))
  }
}

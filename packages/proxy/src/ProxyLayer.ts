/**
 * Layers and constructor of the `RoomProxy` service over the `SyncFanoutQueue` in context.
 *
 * ```ts
 * const Live = ProxyLayer.layer.pipe(Layer.provide(MemoryLayer.layer({ keyPrefix: "app" })))
 * ```
 *
 * @since 0.1.0
 */
import { QueueError, type SyncFanoutQueue } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/roomProxy.js"
import { RoomProxy } from "./RoomProxy.js"

/**
 * Options of a proxy.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxyOptions {
  /**
   * Deliveries buffered per local client. A client whose buffer is full when a message arrives
   * is ejected from that room (`ClientEjected { reason: "slow-consumer" }`). Default 1024.
   */
  readonly bufferSize?: number | undefined
}

/**
 * Build a proxy in the current scope over the `SyncFanoutQueue` in context. Closing the scope
 * closes every upstream subscription it holds and ends the local clients' streams. A `bufferSize`
 * that is not a positive integer is an `InvalidArgument`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: ProxyOptions
): Effect.Effect<
  RoomProxy["Service"],
  QueueError.InvalidArgument,
  SyncFanoutQueue.SyncFanoutQueue | Scope.Scope
> =>
  Effect.suspend(() => {
    const bufferSize = options?.bufferSize ?? defaultBufferSize
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1) {
      return Effect.fail(
        new QueueError.InvalidArgument({
          message: `RoomProxy: bufferSize must be a positive integer, got ${String(bufferSize)}`
        })
      )
    }
    return internal.make({ bufferSize })
  })

const defaultBufferSize = 1024

/**
 * A proxy with default options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<RoomProxy, never, SyncFanoutQueue.SyncFanoutQueue> = Layer.effect(
  RoomProxy,
  internal.make({ bufferSize: defaultBufferSize })
)

/**
 * A proxy with the given options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: ProxyOptions
): Layer.Layer<RoomProxy, QueueError.InvalidArgument, SyncFanoutQueue.SyncFanoutQueue> =>
  Layer.effect(RoomProxy, make(options))

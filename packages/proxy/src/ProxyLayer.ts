/**
 * Layers and constructor of the `RoomProxy` service over the `SyncFanoutQueue` in context.
 *
 * ```ts
 * const Live = ProxyLayer.layer.pipe(Layer.provide(MemoryLayer.layer({ keyPrefix: "app" })))
 * ```
 *
 * @since 0.1.0
 */
import type { SyncFanoutQueue } from "@lockstep/core"
import type * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/roomProxy.js"
import * as Settings from "./internal/settings.js"
import { RoomProxy } from "./RoomProxy.js"

/**
 * Options of a proxy.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxyOptions {
  /**
   * Deliveries buffered per local client, a positive integer. A client whose buffer is full when
   * a message arrives is ejected from that room (`ClientEjected { reason: "slow-consumer" }`).
   * Default 1024.
   */
  readonly bufferSize?: number | undefined
}

/**
 * Build a proxy in the current scope over the `SyncFanoutQueue` in context. Closing the scope
 * closes every upstream subscription it holds and ends the local clients' streams. An option
 * that is given but wrong (a `bufferSize` that is not a positive integer) is a `ConfigError`
 * naming it (`QueueConfig.invalidData`), before anything is subscribed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: ProxyOptions
): Effect.Effect<
  RoomProxy["Service"],
  Config.ConfigError,
  SyncFanoutQueue.SyncFanoutQueue | Scope.Scope
> => Effect.flatMap(Effect.fromResult(Settings.validate(options)), internal.make)

/**
 * A proxy with default options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<RoomProxy, never, SyncFanoutQueue.SyncFanoutQueue> = Layer.effect(
  RoomProxy,
  internal.make({ bufferSize: Settings.defaultBufferSize })
)

/**
 * A proxy with the given options; an option that is given but wrong fails the layer with a
 * `ConfigError` naming it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: ProxyOptions
): Layer.Layer<RoomProxy, Config.ConfigError, SyncFanoutQueue.SyncFanoutQueue> => Layer.effect(RoomProxy, make(options))

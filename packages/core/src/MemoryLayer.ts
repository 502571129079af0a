/**
 * The in-memory engine: the full semantics (S1–S16, S18–S20 where they apply) in one process,
 * driven by Effect's `Clock`, so `TestClock` controls keepalive and ack deadlines. It is also the
 * reference model the Redis engine is tested against.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const queue = yield* SyncFanoutQueue
 *   const deliveries = yield* queue.subscribe("room-1")
 *   yield* queue.send("room-1", { hello: "world" })
 *   const [first] = yield* deliveries.pipe(Stream.take(1), Stream.runCollect)
 * }).pipe(Effect.scoped, Effect.provide(MemoryLayer.layer({ keyPrefix: "demo" })))
 * ```
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Backend from "./Backend.js"
import { Broker, brokerService } from "./internal/memoryBroker.js"
import { makeClient as makeBackendClient } from "./internal/queueClient.js"
import * as QueueConfig from "./QueueConfig.js"
import { RoomAdmin } from "./RoomAdmin.js"
import { SyncFanoutQueue } from "./SyncFanoutQueue.js"

/**
 * The shared in-process "server". Several clients of one `keyPrefix` on one broker see each
 * other's rooms; clients of two prefixes never do (S19, as on one Redis): rooms, members, frames,
 * durable claims (S21) and discovery (S26) are all per prefix.
 * `cut` / `restore` simulate a network partition of one client (for S10 / S12 tests): its
 * operations fail with `EngineError` (`engine: "memory"`) and the frames sent to it are lost.
 *
 * @since 0.1.0
 * @category services
 */
export class MemoryBroker extends Context.Service<MemoryBroker, {
  /**
   * The server side of a new client with this id, under this prefix (the engine SPI, see
   * `Backend`). Since 1.0.0 it takes the prefix: before, every client of a broker shared one
   * namespace whatever its `keyPrefix`.
   */
  readonly connect: (
    options: { readonly keyPrefix: string; readonly clientId: string }
  ) => Effect.Effect<Backend.BackendClient>
  /** cut every connection of this client id (under every prefix) */
  readonly cut: (clientId: string) => Effect.Effect<void>
  /** heal the cut of this client id */
  readonly restore: (clientId: string) => Effect.Effect<void>
}>()("@lockstep/core/MemoryBroker") {}

/**
 * A fresh broker.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeBroker: Effect.Effect<MemoryBroker["Service"]> = Effect.sync(() => brokerService(new Broker()))

/**
 * A broker for clients to share.
 *
 * @since 0.1.0
 * @category layers
 */
export const broker: Layer.Layer<MemoryBroker> = Layer.effect(MemoryBroker, makeBroker)

/**
 * One client on the broker, as a scoped Effect: its queue and its operator's side (S29, S30).
 *
 * @since 1.1.0
 * @category constructors
 */
export const makeClient = (
  config: QueueConfig.QueueConfig
): Effect.Effect<
  { readonly queue: SyncFanoutQueue["Service"]; readonly admin: RoomAdmin["Service"] },
  Config.ConfigError | Backend.BackendError,
  MemoryBroker | Scope.Scope
> =>
  Effect.gen(function*() {
    const resolved = yield* QueueConfig.resolve(config)
    const broker = yield* MemoryBroker
    return yield* makeBackendClient((clientId) => broker.connect({ keyPrefix: resolved.keyPrefix, clientId }), resolved)
  })

/**
 * One client on the broker, as a scoped Effect (`makeClient` gives its `RoomAdmin` too).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: QueueConfig.QueueConfig
): Effect.Effect<SyncFanoutQueue["Service"], Config.ConfigError | Backend.BackendError, MemoryBroker | Scope.Scope> =>
  Effect.map(makeClient(config), (client) => client.queue)

/**
 * One client on the broker in context: its `SyncFanoutQueue` and (since 1.1.0) its `RoomAdmin`.
 * Closing the layer's scope leaves its rooms (S20).
 *
 * @since 0.1.0
 * @category layers
 */
export const client = (
  config: QueueConfig.QueueConfig
): Layer.Layer<SyncFanoutQueue | RoomAdmin, Config.ConfigError | Backend.BackendError, MemoryBroker> =>
  Layer.effectContext(
    Effect.map(
      makeClient(config),
      ({ admin, queue }) => Context.make(SyncFanoutQueue, queue).pipe(Context.add(RoomAdmin, admin))
    )
  )

/**
 * A client on a fresh broker of its own: each `layer(config)` built is a separate in-process
 * server, also when several are provided in one program (Effect 4 shares a layer built by an
 * enclosing `Effect.provide`; the broker here is `Layer.fresh`). For clients that talk to each
 * other, provide `client(config)` with one `broker`. Provides `SyncFanoutQueue` and (since 1.1.0)
 * `RoomAdmin`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: QueueConfig.QueueConfig
): Layer.Layer<SyncFanoutQueue | RoomAdmin, Config.ConfigError | Backend.BackendError> =>
  client(config).pipe(Layer.provide(Layer.fresh(broker)))

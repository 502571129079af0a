/**
 * The Redis engine of lockstep. Every module is exported as a namespace: the one-call layers
 * `ClientLayer.standalone` / `ClientLayer.cluster`, or `ClientLayer.layer` composed with
 * `RedisLayer` and `ShardLayer`.
 *
 * @since 0.1.0
 */

/**
 * One lockstep client on Redis: `standalone`, `cluster` (one call), `layer`, `make`, `layerConfig(config?)`.
 *
 * @since 0.1.0
 */
export * as ClientLayer from "./ClientLayer.js"

/**
 * The connection service `ClientLayer` runs on.
 *
 * @since 0.1.0
 */
export * as RedisConnection from "./RedisConnection.js"

/**
 * Layers providing a `RedisConnection`: `layer` (standalone), `cluster`, `layerConfig(config?)`.
 *
 * @since 0.1.0
 */
export * as RedisLayer from "./RedisLayer.js"

/**
 * Room → shard → hash tag (S17).
 *
 * @since 0.1.0
 */
export * as Sharding from "./Sharding.js"

/**
 * `Sharding` layers: `single`, `layer({ shards })`.
 *
 * @since 0.1.0
 */
export * as ShardLayer from "./ShardLayer.js"

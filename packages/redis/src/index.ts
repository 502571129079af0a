/**
 * @since 0.1.0
 */
export * as ClientLayer from "./ClientLayer.js"
/** @since 0.1.0 */
export * as RedisConnection from "./RedisConnection.js"
/** @since 0.1.0 */
export * as RedisLayer from "./RedisLayer.js"
/** @since 0.1.0 */
export * as Sharding from "./Sharding.js"
/** @since 0.1.0 */
export * as ShardLayer from "./ShardLayer.js"

/**
 * @since 0.1.0
 */

/**
 * The `RoomProxy` service and its local clients (`ProxyClient`).
 *
 * @since 0.1.0
 */
export * as RoomProxy from "./RoomProxy.js"

/**
 * `ProxyLayer.layer` / `ProxyLayer.make`: the proxy over the `SyncFanoutQueue` in context.
 *
 * @since 0.1.0
 */
export * as ProxyLayer from "./ProxyLayer.js"

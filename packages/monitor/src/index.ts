/**
 * `@lockstep/monitor`: a live board, JSON and Prometheus endpoints for lockstep rooms, as an
 * `HttpRouter` (`effect/http`) to mount.
 *
 * @since 0.1.0
 */

/**
 * The monitor's routes (`Monitor.router`, a layer for an `HttpRouter`) and a layer serving them (`Monitor.layer`).
 *
 * @since 0.1.0
 */
export * as Monitor from "./Monitor.js"

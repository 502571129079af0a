/**
 * `@lockstep/monitor`: a live board, JSON and Prometheus endpoints for lockstep rooms, as an
 * `@effect/platform` `HttpRouter` to mount.
 *
 * @since 0.1.0
 */

/**
 * The monitor's router (`Monitor.router`) and a layer serving it (`Monitor.layer`).
 *
 * @since 0.1.0
 */
export * as Monitor from "./Monitor.js"

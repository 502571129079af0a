/**
 * A monitor for lockstep rooms: routes for an Effect `HttpRouter` (`effect/http`) over the
 * `SyncFanoutQueue` in context, to mount in an application's own HTTP server next to its own routes.
 *
 * - `GET /` — the live board: every active room (S26) with backlog, in-flight message and age,
 *   its sync members marked acked or holding (S14), stalled rooms first, holders that went away.
 * - `GET /events` — the board's server-sent events: a JSON snapshot whenever it changes.
 * - `GET /rooms?cursor=&limit=` — a page of active rooms with their state (S26, S14).
 * - `GET /rooms/:room?peek=` — a room's state and its next queued messages (S14, S13).
 * - `GET /metrics` — Effect's metrics (the lockstep counters and latency histogram, S15) in the
 *   Prometheus text format, through `effect/observability/PrometheusMetrics`.
 *
 * ```ts
 * const Routes = Layer.mergeAll(MyRoutes, Monitor.router({ prefix: "/monitor" }))
 * const Server = HttpRouter.serve(Routes).pipe(
 *   // an open board's event stream never ends: don't let it hold a shutdown for Effect's default 20 s
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 3000, gracefulShutdownTimeout: "1 second" })),
 *   Layer.provide(ClientLayer.standalone(url, { keyPrefix: "app" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { SyncFanoutQueue } from "@lockstep/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServer from "effect/http/HttpServer"
import type * as Layer from "effect/Layer"
import * as Prometheus from "./internal/prometheus.js"
import * as Router from "./internal/router.js"

/**
 * Options of the monitor; every field has a default.
 *
 * @since 0.1.0
 * @category models
 */
export interface MonitorOptions {
  /**
   * where to mount the monitor's routes (default: at the root); the board at the prefix itself,
   * e.g. `/monitor`, the others below it (`/monitor/rooms`, …)
   *
   * @since 1.0.0
   */
  readonly prefix?: `/${string}` | undefined
  /** how often a connected board is refreshed (one snapshot per board and interval; default 500 ms) */
  readonly pollInterval?: Duration.Input | undefined
  /** a room whose in-flight message is older than this is shown as stalled (default 5 s) */
  readonly stalledAfter?: Duration.Input | undefined
  /** the board shows at most this many rooms (default 1000) */
  readonly maxRooms?: number | undefined
  /** how many of the oldest in-flight rooms `metrics` reports (`stalledRooms`, default 10) */
  readonly stalledRooms?: number | undefined
  /** how many queued messages `/rooms/:room` shows by default (default 10) */
  readonly peekLimit?: number | undefined
  /** the `service_name` label of the `target_info` series of `/metrics` (default "lockstep") */
  readonly serviceName?: string | undefined
  /** the board's title (default "lockstep rooms") */
  readonly title?: string | undefined
}

/**
 * The monitor's routes over the `SyncFanoutQueue` in context, as a layer that adds them to the
 * `HttpRouter` being built: merge it with your own routes and serve them with `HttpRouter.serve`
 * (or `HttpRouter.toHttpEffect` / `toWebHandler`). Mount it under a path with `prefix`; the board
 * finds its events relative to its own URL. Each open board polls while it is connected and
 * stops when it disconnects.
 *
 * @since 0.1.0
 * @category layers
 */
export const router = (
  options: MonitorOptions = {}
): Layer.Layer<never, never, HttpRouter.HttpRouter | SyncFanoutQueue.SyncFanoutQueue> =>
  HttpRouter.addAll(
    Effect.gen(function*() {
      const queue = yield* SyncFanoutQueue.SyncFanoutQueue
      const scrape = yield* Prometheus.make(options.serviceName ?? "lockstep")
      return Router.make(queue, scrape, {
        pollInterval: Duration.fromInputUnsafe(options.pollInterval ?? "500 millis"),
        stalledAfter: Duration.fromInputUnsafe(options.stalledAfter ?? "5 seconds"),
        maxRooms: Math.max(1, options.maxRooms ?? 1000),
        stalledRooms: Math.min(1000, Math.max(0, options.stalledRooms ?? 10)),
        peekLimit: Math.max(0, options.peekLimit ?? 10),
        title: options.title ?? "lockstep rooms"
      })
    }),
    { prefix: options.prefix }
  )

/**
 * Serve the monitor alone on the `HttpServer` in context, e.g. a dedicated port:
 * `Monitor.layer().pipe(Layer.provide(NodeHttpServer.layer(createServer, { port: 9464, gracefulShutdownTimeout: "1 second" })))`.
 * An open board's event stream never ends by itself: a server's `gracefulShutdownTimeout` (Effect's
 * default 20 s) is how long an open board can hold a shutdown.
 * Like the monitor of 0.x it logs nothing per request (`HttpRouter.serve(Monitor.router())`
 * serves it with the router's request log).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: MonitorOptions = {}
): Layer.Layer<never, never, HttpServer.HttpServer | SyncFanoutQueue.SyncFanoutQueue> =>
  HttpRouter.serve(router(options), { disableLogger: true, disableListenLog: true })

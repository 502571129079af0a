/**
 * A monitor for lockstep rooms: an `@effect/platform` `HttpRouter` over the `SyncFanoutQueue` in
 * context, to mount in an application's own HTTP server.
 *
 * - `GET /` — the live board: every active room (S26) with backlog, in-flight message and age,
 *   its sync members marked acked or holding (S14), stalled rooms first, holders that went away.
 * - `GET /events` — the board's server-sent events: a JSON snapshot whenever it changes.
 * - `GET /rooms?cursor=&limit=` — a page of active rooms with their state (S26, S14).
 * - `GET /rooms/:room?peek=` — a room's state and its next queued messages (S14, S13).
 * - `GET /metrics` — Effect's metrics (the lockstep counters and latency histogram, S15) in the
 *   Prometheus text format, through `@effect/opentelemetry` and the OpenTelemetry serializer.
 *
 * @since 0.1.0
 */
import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { SyncFanoutQueue } from "@lockstep/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Prometheus from "./internal/prometheus.js"
import * as Router from "./internal/router.js"

/**
 * Options of the monitor; every field has a default.
 *
 * @since 0.1.0
 * @category models
 */
export interface MonitorOptions {
  /** how often a connected board is refreshed (one snapshot per board and interval; default 500 ms) */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** a room whose in-flight message is older than this is shown as stalled (default 5 s) */
  readonly stalledAfter?: Duration.DurationInput | undefined
  /** the board shows at most this many rooms (default 1000) */
  readonly maxRooms?: number | undefined
  /** how many of the oldest in-flight rooms `metrics` reports (`stalledRooms`, default 10) */
  readonly stalledRooms?: number | undefined
  /** how many queued messages `/rooms/:room` shows by default (default 10) */
  readonly peekLimit?: number | undefined
  /** the `service.name` of the metrics' resource (default "lockstep") */
  readonly serviceName?: string | undefined
  /** the board's title (default "lockstep rooms") */
  readonly title?: string | undefined
}

/**
 * The monitor's router over the `SyncFanoutQueue` in context. Mount it where you like
 * (`HttpRouter.mount("/monitor", router)`); the board finds its events relative to its own URL.
 * The scope holds the metrics reader; each open board polls while it is connected and stops when
 * it disconnects.
 *
 * @since 0.1.0
 * @category constructors
 */
export const router = (
  options: MonitorOptions = {}
): Effect.Effect<HttpRouter.HttpRouter, never, SyncFanoutQueue.SyncFanoutQueue | Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* SyncFanoutQueue.SyncFanoutQueue
    const scrape = yield* Prometheus.make(options.serviceName ?? "lockstep")
    return Router.make(queue, scrape, {
      pollInterval: Duration.decode(options.pollInterval ?? "500 millis"),
      stalledAfter: Duration.decode(options.stalledAfter ?? "5 seconds"),
      maxRooms: Math.max(1, options.maxRooms ?? 1000),
      stalledRooms: Math.min(1000, Math.max(0, options.stalledRooms ?? 10)),
      peekLimit: Math.max(0, options.peekLimit ?? 10),
      title: options.title ?? "lockstep rooms"
    })
  })

/**
 * Serve the monitor at the root of the `HttpServer` in context, e.g. a dedicated port:
 * `Monitor.layer().pipe(Layer.provide(NodeHttpServer.layer(createServer, { port: 9464 })))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: MonitorOptions = {}
): Layer.Layer<never, never, HttpServer.HttpServer | SyncFanoutQueue.SyncFanoutQueue> =>
  Layer.scopedDiscard(Effect.flatMap(router(options), (app) => HttpServer.serveEffect(app)))

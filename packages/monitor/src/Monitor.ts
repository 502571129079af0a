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
 * - with `actions` (off by default): `POST /rooms/:room/{eject,pause,resume,skip,purge,redrive}`
 *   and `GET /dead-letters/:room`, the operator's `RoomAdmin` (S29, S30) behind an `authorize`
 *   hook and a cross-site check, and their buttons on the board.
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
import { QueueConfig, RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import type * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Actions from "./internal/actions.js"
import * as Http from "./internal/http.js"
import * as Prometheus from "./internal/prometheus.js"
import * as Router from "./internal/router.js"
import * as Settings from "./internal/settings.js"

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
  /**
   * how often the open boards are refreshed (default 500 ms): one snapshot per interval, shared
   * by every open board; nothing is read while no board is open
   */
  readonly pollInterval?: Duration.Input | undefined
  /** a room whose in-flight message is older than this is shown as stalled (default 5 s) */
  readonly stalledAfter?: Duration.Input | undefined
  /** the board shows at most this many rooms (1–1000000, default 1000) */
  readonly maxRooms?: number | undefined
  /** how many of the oldest in-flight rooms `metrics` reports (`stalledRooms`, 0–1000, default 10) */
  readonly stalledRooms?: number | undefined
  /** how many queued messages `/rooms/:room` shows by default (1–10000, default 10) */
  readonly peekLimit?: number | undefined
  /** the `service_name` label of the `target_info` series of `/metrics` (default "lockstep") */
  readonly serviceName?: string | undefined
  /** the board's title (default "lockstep rooms") */
  readonly title?: string | undefined
}

/**
 * The options of a monitor with board actions (S29, S30). Without `actions` (a plain
 * `MonitorOptions`) the board stays read-only and the action routes do not exist; with them the
 * monitor needs the `RoomAdmin` of its client in context (every client layer provides it next to
 * `SyncFanoutQueue`), and what `authorize` requires.
 *
 * @since 1.1.0
 * @category models
 */
export interface MonitorOptionsWithActions<R = never> extends MonitorOptions {
  readonly actions: MonitorActions<R>
}

/**
 * Board actions: eject a member, pause and resume a room, skip its in-flight message, purge its
 * backlog, browse its dead letters and redrive one, through the `RoomAdmin` in context (S29, S30).
 *
 * A request may act when it passes, in this order:
 * 1. the cross-site check: `Sec-Fetch-Site: same-origin`, or else an `Origin` naming this server
 *    (the `Host` it was sent to), or an origin of `trustedOrigins`;
 * 2. the page token: the `x-lockstep-token` header holds a token issued with a board page of
 *    this monitor (each page gets a fresh one; a restarted monitor refuses the old ones);
 * 3. `authorize(request)` answers true.
 *
 * Otherwise it is a 403 `{ "error": … }` and nothing happens. `GET /dead-letters/:room` changes
 * nothing and is read by the page's script: it needs only `authorize`. The board page asks
 * `authorize` too: it shows the buttons (and carries a token) only to a viewer it approves.
 *
 * ```ts
 * Monitor.router({
 *   actions: {
 *     // e.g. a header your reverse proxy sets once it authenticated an operator
 *     authorize: (request) => Effect.succeed(request.headers["x-operator"] !== undefined)
 *   }
 * })
 * ```
 *
 * @since 1.1.0
 * @category models
 */
export interface MonitorActions<R = never> {
  /**
   * Whether the request may act: look at its headers, cookies or address and answer. It runs for
   * every action and for every board page (to decide whether it shows the buttons). It cannot
   * fail: turn your own failures into `false` (refused) or a defect (a 500). Its requirements
   * `R` become requirements of the monitor's layer.
   */
  readonly authorize: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<boolean, never, R>
  /**
   * Origins (`"https://ops.example.com"`) whose pages may act besides this server's own, for a
   * board reached through a proxy that rewrites `Host`, by browsers that do not send
   * `Sec-Fetch-Site` (default: none)
   */
  readonly trustedOrigins?: ReadonlyArray<string> | undefined
}

/** The `RoomAdmin` of the monitor's client, which actions need: its absence is a `ConfigError`. */
const roomAdmin = Effect.flatMap(
  Effect.serviceOption(RoomAdmin.RoomAdmin),
  Option.match({
    onNone: () =>
      Effect.fail(
        QueueConfig.invalidData(
          "actions",
          "actions need the RoomAdmin of the monitor's client in context (every client layer provides it next to SyncFanoutQueue)"
        )
      ),
    onSome: Effect.succeed
  })
)

/**
 * The monitor's routes over the `SyncFanoutQueue` in context, as a layer that adds them to the
 * `HttpRouter` being built: merge it with your own routes and serve them with `HttpRouter.serve`
 * (or `HttpRouter.toHttpEffect` / `toWebHandler`). Mount it under a path with `prefix`; the board
 * finds its events relative to its own URL. One loop reads the board's snapshots for every open
 * board: it starts with the first and stops with the last.
 *
 * Options that are given but wrong (a `peekLimit` of 0, a `prefix` without its leading `/`, a
 * `pollInterval` that is not a positive duration, …) fail the layer with a `ConfigError` naming
 * the option. Below its prefix (every path when mounted at the root) a path without a route is a
 * JSON 404, and a room whose escapes cannot be decoded a JSON 400: the monitor adds a global
 * middleware for these two answers.
 *
 * With `actions` (`MonitorOptionsWithActions`, since 1.1.0) it also needs the `RoomAdmin` of its
 * client and what `authorize` requires; without it, a `RoomAdmin` missing from the context is a
 * `ConfigError` when the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const router: {
  <R = never>(
    options: MonitorOptionsWithActions<R>
  ): Layer.Layer<
    never,
    Config.ConfigError,
    HttpRouter.HttpRouter | SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin | R
  >
  (
    options?: MonitorOptions
  ): Layer.Layer<never, Config.ConfigError, HttpRouter.HttpRouter | SyncFanoutQueue.SyncFanoutQueue>
} = <R = never>(options: MonitorOptions & { readonly actions?: MonitorActions<R> | undefined } = {}) =>
  Layer.mergeAll(
    HttpRouter.addAll(
      Effect.gen(function*() {
        const settings = yield* Effect.fromResult(Settings.validate(options))
        const queue = yield* SyncFanoutQueue.SyncFanoutQueue
        const scrape = yield* Prometheus.make(options.serviceName ?? "lockstep")
        const actions = options.actions === undefined
          ? Option.none()
          : Option.some(yield* Actions.make(yield* roomAdmin, options.actions, settings.trustedOrigins))
        return yield* Router.make(queue, scrape, settings, actions)
      }),
      { prefix: options.prefix }
    ),
    Http.notFound(options.prefix, { deadLetters: options.actions !== undefined })
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
export const layer: {
  <R = never>(
    options: MonitorOptionsWithActions<R>
  ): Layer.Layer<
    never,
    Config.ConfigError,
    HttpServer.HttpServer | SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin | R
  >
  (
    options?: MonitorOptions
  ): Layer.Layer<never, Config.ConfigError, HttpServer.HttpServer | SyncFanoutQueue.SyncFanoutQueue>
} = <R = never>(options: MonitorOptions & { readonly actions?: MonitorActions<R> | undefined } = {}) =>
  HttpRouter.serve(router(options as MonitorOptionsWithActions<R>), { disableLogger: true, disableListenLog: true })

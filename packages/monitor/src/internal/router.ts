/**
 * The monitor's routes over one `SyncFanoutQueue` client: `/rooms`, `/rooms/:room`, `/metrics`,
 * `/events` (server-sent events) and the board at `/`.
 */
import { QueueError, type SyncFanoutQueue } from "@lockstep/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { page } from "./page.js"
import type * as Prometheus from "./prometheus.js"
import { contentType as prometheusContentType } from "./prometheus.js"
import * as View from "./view.js"

/** Resolved options. */
export interface Settings {
  readonly pollInterval: Duration.Duration
  readonly stalledAfter: Duration.Duration
  readonly maxRooms: number
  readonly stalledRooms: number
  readonly peekLimit: number
  readonly title: string
}

const error = (status: number, message: string) => HttpServerResponse.jsonUnsafe({ error: message }, { status })

/** A queue failure as an HTTP answer: bad input 400, engine trouble 502, a timeout 504. */
const failure = (e: QueueError.QueueError) => {
  switch (e._tag) {
    case "InvalidRoom":
    case "InvalidArgument":
      return error(400, e.message)
    case "OperationTimeout":
      return error(504, e.message)
    default:
      return error(502, e.message)
  }
}

type Params = HttpServerRequest.ParsedSearchParams["Service"]

/** An optional non-negative integer query parameter; anything else is `InvalidArgument`. */
const intParam = (params: Params, name: string) => {
  const raw = params[name]
  if (raw === undefined) return Effect.succeed(undefined)
  const value = typeof raw === "string" ? raw : raw[0] ?? ""
  return /^\d{1,9}$/.test(value)
    ? Effect.succeed(Number(value))
    : Effect.fail(new QueueError.InvalidArgument({ message: `${name} must be a non-negative integer, got "${value}"` }))
}

const stringParam = (params: Params, name: string) => {
  const raw = params[name]
  return raw === undefined ? undefined : typeof raw === "string" ? raw : raw[0]
}

const encoder = new TextEncoder()
const sse = (text: string) => encoder.encode(text)

/**
 * The routes: every handler answers (queue failures become 4xx/5xx JSON), so they fail with
 * nothing and need nothing but what the router provides (the request, its search parameters, the
 * route's parameters).
 */
export const make = (
  queue: SyncFanoutQueue.SyncFanoutQueue["Service"],
  scrape: Prometheus.Scrape,
  settings: Settings
): ReadonlyArray<HttpRouter.Route> => {
  const html = page(settings.title)
  const snapshot = View.board(queue, settings)

  /** Snapshots while the client listens: polled, sent when they change, with the holders that went away. */
  const events = Stream.fromEffectSchedule(Effect.result(snapshot), Schedule.spaced(settings.pollInterval)).pipe(
    Stream.mapAccum(
      () => ({
        previous: Option.none<View.BoardJson>(),
        departures: [] as ReadonlyArray<View.DepartureJson>,
        last: ""
      }),
      (state, result) => {
        if (Result.isFailure(result)) {
          return [state, [`event: failure\ndata: ${JSON.stringify({ error: result.failure.message })}\n\n`]]
        }
        const next = result.success
        const gone = Option.match(state.previous, { onNone: () => [], onSome: (p) => View.departures(p, next) })
        const departures = [...gone, ...state.departures].slice(0, 20)
        const board: View.BoardJson = { ...next, departures }
        const print = View.fingerprint(board)
        const out = print === state.last ? [] : [`data: ${JSON.stringify(board)}\n\n`]
        return [{ previous: Option.some(next), departures, last: print }, out]
      }
    ),
    // a comment now and then keeps proxies from closing an idle stream
    Stream.merge(Stream.map(Stream.tick("15 seconds"), () => ": keepalive\n\n"), { haltStrategy: "left" }),
    Stream.map(sse)
  )

  return [
    HttpRouter.route("GET", "/", HttpServerResponse.html(html)),
    HttpRouter.route(
      "GET",
      "/events",
      // a new stream per request: its polling belongs to the request and stops when the client disconnects
      Effect.sync(() =>
        HttpServerResponse.stream(Stream.concat(Stream.make(sse("retry: 2000\n\n")), events), {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
        })
      )
    ),
    HttpRouter.route(
      "GET",
      "/rooms",
      Effect.gen(function*() {
        const params = yield* HttpServerRequest.ParsedSearchParams
        const limit = yield* intParam(params, "limit")
        const page = yield* queue.rooms({ cursor: stringParam(params, "cursor"), limit })
        const states = yield* Effect.forEach(page.rooms, (room) => queue.roomState(room), { concurrency: 16 })
        return HttpServerResponse.jsonUnsafe({
          rooms: states.map((s) => View.roomJson(s, true)),
          cursor: Option.getOrNull(page.cursor)
        })
      }).pipe(Effect.catch((e) => Effect.succeed(failure(e))), Effect.withSpan("Monitor.rooms"))
    ),
    HttpRouter.route(
      "GET",
      "/rooms/*",
      Effect.gen(function*() {
        // a wildcard, not `:room`: room names may contain "/" (S1), sent encoded as %2F; a wildcard
        // is also not cut at the router's `maxParamLength` (100), and names have up to 256 code units
        const room = (yield* HttpRouter.params)["*"] ?? ""
        const params = yield* HttpServerRequest.ParsedSearchParams
        const peek = (yield* intParam(params, "peek")) ?? settings.peekLimit
        const [state, next] = yield* Effect.all([
          queue.roomState(room),
          queue.peek(room, { limit: peek })
        ], { concurrency: 2 })
        return HttpServerResponse.jsonUnsafe({ ...View.roomJson(state, true), next: next.map(View.queuedJson) })
      }).pipe(Effect.catch((e) => Effect.succeed(failure(e))), Effect.withSpan("Monitor.room"))
    ),
    HttpRouter.route(
      "GET",
      "/metrics",
      Effect.map(scrape, (text) => HttpServerResponse.text(text, { contentType: prometheusContentType }))
    )
  ]
}

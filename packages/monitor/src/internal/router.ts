/**
 * The monitor's routes over one `SyncFanoutQueue` client: `/rooms`, `/rooms/:room`, `/metrics`,
 * `/events` (server-sent events) and the board at `/`.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { QueueError, type SyncFanoutQueue } from "@lockstep/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
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

const error = (status: number, message: string) => HttpServerResponse.unsafeJson({ error: message }, { status })

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

type Params = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

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

/** The router: every handler answers (queue failures become 4xx/5xx JSON), so it fails with nothing. */
export const make = (
  queue: SyncFanoutQueue.SyncFanoutQueue["Type"],
  scrape: Prometheus.Scrape,
  settings: Settings
): HttpRouter.HttpRouter => {
  const html = page(settings.title)
  const snapshot = View.board(queue, settings)

  /** Snapshots while the client listens: polled, sent when they change, with the holders that went away. */
  const events = Stream.repeatEffectWithSchedule(Effect.either(snapshot), Schedule.spaced(settings.pollInterval)).pipe(
    Stream.mapAccum(
      { previous: Option.none<View.BoardJson>(), departures: [] as ReadonlyArray<View.DepartureJson>, last: "" },
      (state, result) => {
        if (result._tag === "Left") {
          return [state, Option.some(`event: failure\ndata: ${JSON.stringify({ error: result.left.message })}\n\n`)]
        }
        const gone = Option.match(state.previous, { onNone: () => [], onSome: (p) => View.departures(p, result.right) })
        const departures = [...gone, ...state.departures].slice(0, 20)
        const board: View.BoardJson = { ...result.right, departures }
        const print = View.fingerprint(board)
        const out = print === state.last ? Option.none<string>() : Option.some(`data: ${JSON.stringify(board)}\n\n`)
        return [{ previous: Option.some(result.right), departures, last: print }, out]
      }
    ),
    Stream.filterMap((x) => x),
    // a comment now and then keeps proxies from closing an idle stream
    Stream.merge(Stream.map(Stream.tick("15 seconds"), () => ": keepalive\n\n"), { haltStrategy: "left" }),
    Stream.map(sse)
  )

  return HttpRouter.empty.pipe(
    HttpRouter.get("/", Effect.succeed(HttpServerResponse.html(html))),
    HttpRouter.get(
      "/events",
      Effect.succeed(HttpServerResponse.stream(Stream.concat(Stream.make(sse("retry: 2000\n\n")), events), {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
      }))
    ),
    HttpRouter.get(
      "/rooms",
      Effect.gen(function*() {
        const params = yield* HttpServerRequest.ParsedSearchParams
        const limit = yield* intParam(params, "limit")
        const page = yield* queue.rooms({ cursor: stringParam(params, "cursor"), limit })
        const states = yield* Effect.forEach(page.rooms, (room) => queue.roomState(room), { concurrency: 16 })
        return HttpServerResponse.unsafeJson({
          rooms: states.map((s) => View.roomJson(s, true)),
          cursor: Option.getOrNull(page.cursor)
        })
      }).pipe(Effect.catchAll(failure), Effect.withSpan("Monitor.rooms"))
    ),
    HttpRouter.get(
      "/rooms/*",
      Effect.gen(function*() {
        // a wildcard, not `:room`: room names may contain "/" (S1), sent encoded as %2F
        const room = (yield* HttpRouter.params)["*"]
        const params = yield* HttpServerRequest.ParsedSearchParams
        const peek = (yield* intParam(params, "peek")) ?? settings.peekLimit
        const [state, next] = yield* Effect.all([
          queue.roomState(room ?? ""),
          queue.peek(room ?? "", { limit: peek })
        ], { concurrency: 2 })
        return HttpServerResponse.unsafeJson({ ...View.roomJson(state, true), next: next.map(View.queuedJson) })
      }).pipe(Effect.catchAll(failure), Effect.withSpan("Monitor.room"))
    ),
    HttpRouter.get(
      "/metrics",
      Effect.map(scrape, (text) => HttpServerResponse.text(text, { contentType: prometheusContentType }))
    )
  )
}

/**
 * The monitor's routes over one `SyncFanoutQueue` client: `/rooms`, `/rooms/:room`, `/metrics`,
 * `/events` (server-sent events) and the board at `/`, and with actions `POST /rooms/:room/<action>`
 * and `/dead-letters/:room` (see `actions.ts`). Every route answers GET and HEAD, the room route
 * POST too when actions are enabled; every other method is a 405 (see `Http.route`).
 */
import type { SyncFanoutQueue } from "@lockstep/core"
import * as Effect from "effect/Effect"
import type * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Actions from "./actions.js"
import * as Http from "./http.js"
import * as Page from "./page.js"
import * as Poller from "./poller.js"
import type * as Prometheus from "./prometheus.js"
import { contentType as prometheusContentType } from "./prometheus.js"
import type { Settings } from "./settings.js"
import * as View from "./view.js"

const encoder = new TextEncoder()
const sse = (text: string) => encoder.encode(text)

/** A snapshot of the board, or the message of the failure that kept it from being read. */
type Snapshot = Result.Result<View.BoardJson, string>

/**
 * The routes: every handler answers (queue failures become 4xx/5xx JSON), so they fail with
 * nothing and need nothing but the request. The board's snapshots are read by one loop, shared by
 * every open board, that lives in the scope of the monitor.
 */
export const make = (
  queue: SyncFanoutQueue.SyncFanoutQueue["Service"],
  scrape: Prometheus.Scrape,
  settings: Settings,
  actions: Option.Option<Actions.Actions>
): Effect.Effect<ReadonlyArray<HttpRouter.Route>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pageHeaders = yield* Page.headers
    /** The board, with a token (and the buttons) for a viewer who may act. */
    const board = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.map(
        Option.match(actions, { onNone: () => Effect.succeedNone, onSome: (a) => a.pageToken(request) }),
        (token) => HttpServerResponse.setHeaders(HttpServerResponse.html(Page.page(settings.title, token)), pageHeaders)
      )
    const poller = yield* Poller.make<Snapshot>(
      View.board(queue, settings).pipe(
        Effect.mapError((e) => e.message),
        Effect.catchDefect((defect) =>
          Effect.andThen(
            Effect.logError("Monitor: reading a board snapshot failed unexpectedly", defect),
            Effect.fail("the monitor could not read a snapshot (see the server log)")
          )
        ),
        Effect.result
      ),
      {
        interval: settings.pollInterval,
        // a failure is sent once, until it changes or the engine answers again
        key: Result.match({
          onSuccess: (board) => `board ${View.fingerprint(board)}`,
          onFailure: (e) => `failure ${e}`
        })
      }
    )

    /** This board's events: the shared snapshots, with the holders that went away since it opened. */
    const events = poller.snapshots.pipe(
      Stream.mapAccum(
        () => ({ previous: Option.none<View.BoardJson>(), departures: [] as ReadonlyArray<View.DepartureJson> }),
        (state, snapshot) => {
          if (Result.isFailure(snapshot)) {
            return [state, [`event: failure\ndata: ${JSON.stringify({ error: snapshot.failure })}\n\n`]]
          }
          const next = snapshot.success
          const gone = Option.match(state.previous, { onNone: () => [], onSome: (p) => View.departures(p, next) })
          const departures = [...gone, ...state.departures].slice(0, 20)
          const board: View.BoardJson = { ...next, departures }
          return [{ previous: Option.some(next), departures }, [`data: ${JSON.stringify(board)}\n\n`]]
        }
      ),
      // a comment now and then keeps proxies from closing an idle stream
      Stream.merge(Stream.map(Stream.tick("15 seconds"), () => ": keepalive\n\n"), { haltStrategy: "left" }),
      Stream.map(sse)
    )
    const eventHeaders = { "cache-control": "no-cache", "x-accel-buffering": "no" }

    /** `/rooms` (a page of rooms) and `/rooms/<room>` (one room), read from the request target as it came. */
    const rooms = (url: string) => {
      const { path, query } = Http.splitTarget(url)
      const params = new URLSearchParams(query)
      const raw = Http.roomSegment(path)
      return (raw === undefined
        ? Effect.gen(function*() {
          const limit = yield* Http.intParam(params, "limit")
          const page = yield* queue.rooms({ cursor: params.get("cursor") ?? undefined, limit })
          const states = yield* Effect.forEach(page.rooms, (room) => queue.roomState(room), { concurrency: 16 })
          return HttpServerResponse.jsonUnsafe({
            rooms: states.map((s) => View.roomJson(s, true)),
            cursor: Option.getOrNull(page.cursor)
          })
        }).pipe(Effect.withSpan("Monitor.rooms"))
        : Effect.gen(function*() {
          const room = yield* Effect.fromResult(Http.decodeRoom(raw))
          const peek = (yield* Http.intParam(params, "peek")) ?? settings.peekLimit
          const [state, next] = yield* Effect.all([
            queue.roomState(room),
            queue.peek(room, { limit: peek })
          ], { concurrency: 2 })
          return HttpServerResponse.jsonUnsafe({ ...View.roomJson(state, true), next: next.map(View.queuedJson) })
        }).pipe(Effect.withSpan("Monitor.room"))).pipe(Effect.catch((e) => Effect.succeed(Http.failure(e))))
    }

    return [
      Http.get("/", board),
      Http.get("/events", (request) =>
        // a new stream per request: it subscribes to the shared snapshots while the client listens
        Effect.succeed(
          request.method === "HEAD"
            ? HttpServerResponse.empty({
              status: 200,
              headers: { ...eventHeaders, "content-type": "text/event-stream" }
            })
            : HttpServerResponse.stream(Stream.concat(Stream.make(sse("retry: 2000\n\n")), events), {
              contentType: "text/event-stream",
              headers: eventHeaders
            })
        )),
      // `/rooms/*`, not `/rooms/:room`: room names may contain "/" (S1), and a wildcard is not cut
      // at the router's `maxParamLength` (100), while names have up to 256 code units
      Http.get("/rooms", (request) => rooms(request.url)),
      // with actions, POST /rooms/<room>/<action>: the action is the last segment
      Http.route("/rooms/*", {
        get: (request) => rooms(request.url),
        post: Option.getOrUndefined(Option.map(actions, (a) => a.post))
      }),
      ...Option.match(actions, {
        onNone: () => [],
        onSome: (a) => [Http.get("/dead-letters/*", a.deadLetters)]
      }),
      Http.get(
        "/metrics",
        () => Effect.map(scrape, (text) => HttpServerResponse.text(text, { contentType: prometheusContentType }))
      )
    ]
  })

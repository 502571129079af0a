/**
 * A monitoring endpoint with `@effect/platform` (HttpRouter on NodeHttpServer):
 *
 * - `GET /rooms?room=a&room=b`: `roomState` of each room as JSON (S14), plus the top rooms by
 *   backlog and the client count from `metrics()` (S15). Without `room` parameters it shows the
 *   configured rooms (`MONITOR_ROOMS`, comma-separated).
 * - `GET /metrics`: the Effect metric registry in Prometheus text format (the lockstep counters
 *   and the delivery latency histogram, S15), encoded by a small formatter (examples/src/internal/prometheus.ts).
 *
 * Some traffic runs meanwhile: a worker acks `match-1` slowly, and a member of `match-2` never
 * acks, so a backlog builds up there. As an example it serves on `MONITOR_PORT` (default: a free
 * port), queries itself once, prints the answers and exits; with `MONITOR_SERVE=1` it keeps serving
 * until Ctrl-C.
 *
 * Engine: `LOCKSTEP_REDIS_URL`, else a spawned `redis-server` when installed, else the in-memory
 * engine. Run: `pnpm --filter @lockstep/examples monitor` (or `MONITOR_SERVE=1 MONITOR_PORT=9464 …`).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { QueueMetrics, type RoomState, SyncFanoutQueue } from "@lockstep/core"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import * as Engine from "./internal/engine.js"
import { runMain } from "./internal/main.js"
import * as Prometheus from "./internal/prometheus.js"

/** Rooms shown by `/rooms` without `room` parameters. */
const MonitorRooms = Config.array(Config.string(), "MONITOR_ROOMS").pipe(
  Config.map((rooms) => rooms.map((r) => r.trim()).filter((r) => r.length > 0)),
  Config.withDefault(["lobby", "match-1", "match-2"])
)

const roomJson = (state: RoomState.RoomState) => ({
  room: state.room,
  backlog: state.backlog,
  members: state.members,
  acked: state.acked,
  inFlight: Option.match(state.inFlight, {
    onNone: () => null,
    onSome: (f) => ({ id: f.id, releasedAt: f.releasedAt.toISOString(), ageMs: Duration.toMillis(f.age) })
  })
})

/** The HTTP app: `/rooms` and `/metrics`, over the `SyncFanoutQueue` in context. */
const app = (configuredRooms: ReadonlyArray<string>) =>
  HttpRouter.empty.pipe(
    HttpRouter.get(
      "/rooms",
      Effect.gen(function*() {
        const params = yield* HttpServerRequest.ParsedSearchParams
        const asked = params["room"]
        const rooms = asked === undefined ? configuredRooms : typeof asked === "string" ? [asked] : asked
        const queue = yield* SyncFanoutQueue.SyncFanoutQueue
        const states = yield* Effect.forEach(rooms, (room) => queue.roomState(room), { concurrency: 8 })
        const metrics = yield* queue.metrics({ topRooms: 10 })
        return yield* HttpServerResponse.json({
          rooms: states.map(roomJson),
          topRooms: metrics.topRooms,
          knownRooms: metrics.knownRooms,
          knownClients: metrics.knownClients
        })
      }).pipe(
        Effect.catchTags({
          InvalidRoom: (e) => HttpServerResponse.json({ error: e.message }, { status: 400 }),
          EngineError: (e) => HttpServerResponse.json({ error: e.message }, { status: 502 }),
          OperationTimeout: (e) => HttpServerResponse.json({ error: e.message }, { status: 504 })
        })
      )
    ),
    HttpRouter.get(
      "/metrics",
      Effect.map(Metric.snapshot, (snapshot) =>
        HttpServerResponse.text(Prometheus.encode(snapshot), { contentType: Prometheus.contentType }))
    )
  )

const main = Effect.gen(function*() {
  const engine = yield* Engine.acquire()
  yield* Console.log(`engine: ${engine.description}`)
  const keyPrefix = `lockstep-monitor-${process.pid}`
  const rooms = yield* MonitorRooms
  const port = yield* Config.integer("MONITOR_PORT").pipe(Config.withDefault(0))
  const host = yield* Config.string("MONITOR_HOST").pipe(Config.withDefault("127.0.0.1"))
  const serve = yield* Config.boolean("MONITOR_SERVE").pipe(Config.withDefault(false))

  // some traffic to look at
  const monitor = yield* engine.client({ keyPrefix })
  const producer = yield* engine.client({ keyPrefix })
  const worker = yield* engine.client({ keyPrefix })
  const stuck = yield* engine.client({ keyPrefix })
  const work = yield* worker.queue.subscribe("match-1")
  yield* work.pipe(
    Stream.runForEach((d) => Effect.zipRight(Effect.sleep("25 millis"), d.ack)),
    Effect.forkScoped
  )
  yield* stuck.queue.subscribe("match-2") // a member that never acks: match-2 backs up (no ackTimeout set)
  const sendSome = Effect.forEach(
    [0, 1, 2, 3, 4, 5],
    (n) =>
      Effect.zipRight(
        producer.queue.send("match-1", { move: n }, { priority: n % 3 }),
        producer.queue.send("match-2", { move: n })
      ),
    { discard: true }
  )
  yield* sendSome
  yield* producer.queue.sendOutOfBand("match-1", { notice: "hello" })
  yield* Console.log("traffic: match-1 has a worker acking every 25 ms; match-2 has a member that never acks")

  // read every lockstep metric once, so /metrics lists them (at 0) before they first change
  yield* Effect.forEach(
    [QueueMetrics.receivedTotal, QueueMetrics.invalidTotal, QueueMetrics.sentTotal, QueueMetrics.ejectedTotal],
    Metric.value,
    { discard: true }
  )

  // the server
  const server = yield* Layer.build(
    HttpServer.serve(app(rooms)).pipe(
      Layer.provide(Layer.succeed(SyncFanoutQueue.SyncFanoutQueue, monitor.queue)),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port, host }))
    )
  )
  const address = Context.get(server, HttpServer.HttpServer).address
  const base = address._tag === "TcpAddress" ? `http://${address.hostname}:${address.port}` : "http://localhost"
  yield* Console.log(`serving on ${base}: GET /rooms, /rooms?room=a&room=b, /metrics`)

  if (serve) {
    yield* sendSome.pipe(Effect.repeat(Schedule.spaced("2 seconds")), Effect.ignore, Effect.forkScoped)
    yield* Console.log("MONITOR_SERVE=1: serving until Ctrl-C")
    return yield* Effect.never
  }

  // as an example: ask ourselves once, print, exit
  yield* Effect.sleep("100 millis")
  const client = yield* HttpClient.HttpClient
  const roomsUrl = `${base}/rooms?room=match-1&room=match-2`
  const roomsBody = yield* client.get(roomsUrl).pipe(Effect.flatMap((r) => r.json))
  yield* Console.log(`\nGET ${roomsUrl}\n${JSON.stringify(roomsBody, null, 2)}`)
  const metricsText = yield* client.get(`${base}/metrics`).pipe(Effect.flatMap((r) => r.text))
  const lines = metricsText.trimEnd().split("\n")
  const ours = lines.filter((line) => /^(# (HELP|TYPE) )?lockstep_/.test(line))
  yield* Console.log(
    `\nGET ${base}/metrics (the lockstep_* series; ${lines.length - ours.length} lines of other metrics not shown)\n` +
      ours.join("\n")
  )
}).pipe(
  Effect.scoped,
  Effect.provide(FetchHttpClient.layer),
  Effect.provide(NodeContext.layer)
)

runMain(main)

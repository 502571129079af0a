/**
 * A monitoring endpoint with `@lockstep/monitor`: `Monitor.layer` served by `NodeHttpServer`.
 *
 * - `GET /` the live board (every active room, stalled rooms first, holders marked), fed by
 *   `GET /events` (server-sent events);
 * - `GET /rooms` a page of active rooms with their state (S26, S14), `GET /rooms/:room` one room
 *   and its next messages (S13);
 * - `GET /metrics` the Effect metrics (the lockstep counters and latency histogram, S15) in
 *   Prometheus text, through `effect/observability/PrometheusMetrics`.
 *
 * Some traffic runs meanwhile (examples/src/internal/monitorApp.ts): a worker acks `match-1`
 * every 25 ms, and a member of `match-2` never acks, so the room stalls and a backlog builds up.
 * Nobody tells the monitor the room names. As an example it serves on `MONITOR_PORT` (default: a
 * free port), queries itself once, prints the answers and exits; with `MONITOR_SERVE=1` it keeps
 * serving (open the board in a browser) until Ctrl-C.
 *
 * Engine: `LOCKSTEP_REDIS_URL`, else a spawned `redis-server` when installed, else the in-memory
 * engine. Run: `pnpm --filter @lockstep/examples monitor` (or `MONITOR_SERVE=1 MONITOR_PORT=9464 …`).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { QueueMetrics } from "@lockstep/core"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Engine from "./internal/engine.js"
import { runMain } from "./internal/main.js"
import * as MonitorApp from "./internal/monitorApp.js"

const main = Effect.gen(function*() {
  const engine = yield* Engine.acquire()
  yield* Console.log(`engine: ${engine.description}`)
  const port = yield* Config.Int("MONITOR_PORT").pipe(Config.withDefault(0))
  const host = yield* Config.String("MONITOR_HOST").pipe(Config.withDefault("127.0.0.1"))
  const serve = yield* Config.Boolean("MONITOR_SERVE").pipe(Config.withDefault(false))

  const { monitor, send } = yield* MonitorApp.traffic(engine, `lockstep-monitor-${process.pid}`)
  yield* Console.log("traffic: match-1 has a worker acking every 25 ms; match-2 has a member that never acks")

  // read every lockstep metric once, so /metrics lists them (at 0) before they first change
  yield* Effect.forEach(
    [QueueMetrics.receivedTotal, QueueMetrics.invalidTotal, QueueMetrics.sentTotal, QueueMetrics.ejectedTotal],
    Metric.value,
    { discard: true }
  )

  const base = yield* MonitorApp.serve(monitor, { port, host, monitor: { stalledAfter: "1 second" } })
  yield* Console.log(`serving on ${base}: the board at ${base}/, GET /rooms, /rooms/:room, /metrics, /events`)

  if (serve) {
    yield* send.pipe(Effect.repeat(Schedule.spaced("2 seconds")), Effect.ignore, Effect.forkScoped)
    yield* Console.log("MONITOR_SERVE=1: serving until Ctrl-C")
    return yield* Effect.never
  }

  // as an example: ask ourselves once, print, exit
  const client = yield* HttpClient.HttpClient
  const get = (path: string) => client.get(`${base}${path}`).pipe(Effect.flatMap((r) => r.text))
  const rooms = yield* get("/rooms")
  yield* Console.log(`\nGET ${base}/rooms\n${JSON.stringify(JSON.parse(rooms), null, 2)}`)
  const room = yield* get("/rooms/match-2?peek=2")
  yield* Console.log(`\nGET ${base}/rooms/match-2?peek=2\n${JSON.stringify(JSON.parse(room), null, 2)}`)
  const metricsText = yield* get("/metrics")
  const lines = metricsText.trimEnd().split("\n")
  const ours = lines.filter((line) => /^(# (HELP|TYPE) )?lockstep_/.test(line))
  yield* Console.log(
    `\nGET ${base}/metrics (the lockstep_* series; ${lines.length - ours.length} lines of other metrics not shown)\n` +
      ours.join("\n")
  )
}).pipe(
  Effect.scoped,
  Effect.provide(FetchHttpClient.layer),
  Effect.provide(NodeServices.layer)
)

runMain(main)

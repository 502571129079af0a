/**
 * A lockstep subscriber meant to run as a CHILD process of the fault tests and the soak:
 *
 *   TSX_TSCONFIG_PATH=<repo>/tsconfig.base.json node --import tsx packages/redis/test/faults/worker.ts
 *
 * It connects with `RedisLayer.layerConfig()` + `ShardLayer.single` + `ClientLayer.layerConfig()`
 * (`LOCKSTEP_REDIS_URL`, `LOCKSTEP_KEY_PREFIX`, `LOCKSTEP_CLIENT_TIMEOUT`, … as in
 * `QueueConfig.config`), subscribes to its rooms in sync mode and prints one JSON line per event
 * on stdout (logs go to stderr):
 *
 * - `{"event":"ready","clientId":…,"rooms":n}` once every room is subscribed (live)
 * - `{"event":"delivery","room":…,"id":…,"data":…,"kind":…,"attempt":…}` per delivery, acked after
 *   `LOCKSTEP_WORKER_ACK_DELAY_MS` (default 0)
 * - `{"event":"holding","room":…,"id":…}` for a delivery it will never ack
 *   (`LOCKSTEP_WORKER_HANG_AFTER` = n: in each room, the deliveries after the n-th acked one)
 * - `{"event":"ejected","room":…,"reason":…}` when a stream fails with `ClientEjected`; with
 *   `LOCKSTEP_WORKER_REJOIN=1` it subscribes again and prints `{"event":"rejoined","room":…}`
 * - `{"event":"crashing","room":…,"id":…,"attempt":…}` then a SIGKILL of itself, for a delivery whose
 *   data is `LOCKSTEP_WORKER_CRASH_ON` (JSON): a handler that brings its process down (a poison message, S28)
 * - `{"event":"stats","rss":…,"heapUsed":…}` every `LOCKSTEP_WORKER_STATS_MS` (default off)
 *
 * With `LOCKSTEP_WORKER_USE_ROOMWORKER=1` the process runs `RoomWorker.make(rooms, handler)` (its
 * defaults: retry, reject, rejoin per `defaultRejoin`) instead of the loop written here: `ready` once
 * `make` returned (every room joined), the same `delivery`, `holding` (the handler never returns)
 * and `crashing` events, the worker acking what the handler returned from; `ejected` and `rejoined`
 * (and `subscribe-failed` for a join that could not reach Redis) are read from the worker's own log
 * lines ("lockstep: worker ejected from room …", with its `room` and `reason` annotations), so the
 * rejoin is the worker's, not this file's; `worker-failed` with the error's tag if it stops.
 *
 * Rooms: `LOCKSTEP_WORKER_ROOMS`, a JSON array of room names. SIGTERM / SIGINT close the client
 * (it leaves its rooms, S20; with `LOCKSTEP_CLIENT_ID` and `LOCKSTEP_ON_CLOSE=detach` it keeps
 * them for its successor, S24); SIGKILL is a crash (the server ejects it after clientTimeout, S10,
 * unless a successor with the same `LOCKSTEP_CLIENT_ID` resumes them first, S22).
 * With `LOCKSTEP_WORKER_EXIT_WITH_PARENT=1` it also stops when its stdin closes (the parent died
 * without stopping it, e.g. a test runner killed on timeout), so no worker outlives its test.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { type Delivery, RoomWorker, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisLayer, ShardLayer } from "@lockstep/redis"
import { Cause, Config, Duration, Effect, Layer, Logger, References, Schedule, Schema, Stream } from "effect"

const emit = (event: Record<string, unknown>): void => {
  // stdout is a pipe: writes are synchronous on Linux, so a line is out before a SIGKILL can land
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

const WorkerConfig = Config.all({
  rooms: Config.schema(
    Schema.fromJsonString(Schema.Array(Schema.String)).annotate({ description: "a JSON array of room names" }),
    "LOCKSTEP_WORKER_ROOMS"
  ),
  ackDelayMs: Config.Int("LOCKSTEP_WORKER_ACK_DELAY_MS").pipe(Config.withDefault(0)),
  hangAfter: Config.option(Config.Int("LOCKSTEP_WORKER_HANG_AFTER")),
  rejoin: Config.Boolean("LOCKSTEP_WORKER_REJOIN").pipe(Config.withDefault(false)),
  statsMs: Config.Int("LOCKSTEP_WORKER_STATS_MS").pipe(Config.withDefault(0)),
  crashOn: Config.option(Config.String("LOCKSTEP_WORKER_CRASH_ON")),
  useRoomWorker: Config.Boolean("LOCKSTEP_WORKER_USE_ROOMWORKER").pipe(Config.withDefault(false))
})

/**
 * The events of a `RoomWorker` read from its log lines (`LOCKSTEP_WORKER_USE_ROOMWORKER`): its
 * messages start with "lockstep: worker …" and carry the room (and the reason) as annotations.
 */
const roomWorkerEvents = Logger.make(({ fiber, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
  if (!text.startsWith("lockstep: worker ")) return
  const annotations = fiber.getRef(References.CurrentLogAnnotations)
  const room = annotations["room"]
  if (text.startsWith("lockstep: worker ejected from room ")) {
    emit({ event: "ejected", room, reason: annotations["reason"] })
  } else if (text.startsWith("lockstep: worker rejoined room ")) {
    emit({ event: "rejoined", room })
  } else if (text.startsWith("lockstep: worker could not join room ")) {
    emit({ event: "subscribe-failed", room, error: text })
  }
})

const program = Effect.gen(function*() {
  const settings = yield* WorkerConfig
  const queue = yield* SyncFanoutQueue.SyncFanoutQueue
  const hangAfter = settings.hangAfter._tag === "Some" ? settings.hangAfter.value : Infinity
  // compared with each delivery's data as JSON text (the variable holds JSON)
  const crashOn = settings.crashOn._tag === "Some" ? JSON.stringify(JSON.parse(settings.crashOn.value)) : undefined
  let subscribed = 0

  if (settings.statsMs > 0) {
    yield* Effect.sync(() => {
      const m = process.memoryUsage()
      emit({ event: "stats", rss: m.rss, heapUsed: m.heapUsed })
    }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(settings.statsMs))), Effect.forkScoped)
  }

  /** the delivery event, and a crash on the poison message */
  const receive = (room: string, d: Delivery.Delivery) =>
    Effect.gen(function*() {
      emit({ event: "delivery", room, id: d.id, data: d.data, kind: d.kind, attempt: d.attempt })
      if (d.kind === "queued" && crashOn !== undefined && JSON.stringify(d.data) === crashOn) {
        emit({ event: "crashing", room, id: d.id, attempt: d.attempt })
        process.kill(process.pid, "SIGKILL")
        return yield* Effect.never
      }
    })

  if (settings.useRoomWorker) {
    const handled = new Map<string, number>()
    const worker = yield* RoomWorker.make(settings.rooms, (d) =>
      Effect.gen(function*() {
        yield* receive(d.room, d)
        if (d.kind !== "queued") return
        const n = handled.get(d.room) ?? 0
        if (n >= hangAfter) {
          emit({ event: "holding", room: d.room, id: d.id })
          return yield* Effect.never
        }
        if (settings.ackDelayMs > 0) yield* Effect.sleep(Duration.millis(settings.ackDelayMs))
        handled.set(d.room, n + 1) // the worker acks it once this returns
      }))
    emit({ event: "ready", clientId: queue.clientId, rooms: settings.rooms.length })
    yield* Effect.addFinalizer(() => Effect.sync(() => emit({ event: "stopped", clientId: queue.clientId })))
    return yield* worker.await.pipe(
      Effect.tapError((e) => Effect.sync(() => emit({ event: "worker-failed", error: e._tag })))
    )
  }

  const handle = (room: string, acked: { n: number }) => (d: Delivery.Delivery) =>
    Effect.gen(function*() {
      yield* receive(room, d)
      if (d.kind !== "queued") return
      if (acked.n >= hangAfter) return emit({ event: "holding", room, id: d.id })
      if (settings.ackDelayMs > 0) yield* Effect.sleep(Duration.millis(settings.ackDelayMs))
      // an ack never fails: it does not wait for the server, and one lost is repeated (S12)
      yield* d.ack
      acked.n++
    })

  /** One subscription of `room`, until its stream ends or fails; `onLive` runs once it is live. */
  const attempt = (room: string, onLive: Effect.Effect<void>) =>
    Effect.scoped(Effect.gen(function*() {
      const stream = yield* queue.subscribe(room, { mode: "sync" })
      yield* onLive
      yield* Stream.runForEach(stream, handle(room, { n: 0 }))
    }))

  const runRoom = (room: string): Effect.Effect<void> => {
    let first = true
    const onLive = Effect.sync(() => {
      if (first) {
        first = false
        if (++subscribed === settings.rooms.length) {
          emit({ event: "ready", clientId: queue.clientId, rooms: subscribed })
        }
      } else {
        emit({ event: "rejoined", room })
      }
    })
    const loop: Effect.Effect<void> = attempt(room, onLive).pipe(
      Effect.catch((e) => {
        if (e._tag === "ClientEjected") {
          emit({ event: "ejected", room, reason: e.reason })
          return settings.rejoin
            ? Effect.andThen(Effect.sleep("100 millis"), Effect.suspend(() => loop))
            : Effect.never
        }
        // the server is out of reach (e.g. restarting): try again
        emit({ event: "subscribe-failed", room, error: e._tag })
        return Effect.andThen(Effect.sleep("200 millis"), Effect.suspend(() => loop))
      })
    )
    return loop
  }

  yield* Effect.forEach(settings.rooms, (room) => Effect.forkScoped(runRoom(room)), { discard: true })
  if (settings.rooms.length === 0) emit({ event: "ready", clientId: queue.clientId, rooms: 0 })
  yield* Effect.addFinalizer(() => Effect.sync(() => emit({ event: "stopped", clientId: queue.clientId })))
  return yield* Effect.never
})

const Live = ClientLayer.layerConfig().pipe(
  Layer.provide(ShardLayer.single),
  Layer.provide(RedisLayer.layerConfig())
)

if (process.env.LOCKSTEP_WORKER_EXIT_WITH_PARENT === "1") {
  process.stdin.on("close", () => process.kill(process.pid, "SIGTERM"))
  process.stdin.resume()
}

program.pipe(
  Effect.scoped,
  Effect.provide(Live),
  // a failure is logged here, with the logger below (runMain's own report would go to stdout)
  Effect.tapCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logError(cause)),
  // stdout carries the events: logs go to stderr
  Effect.provide(Logger.layer([Logger.withConsoleError(Logger.formatLogFmt), roomWorkerEvents])),
  NodeRuntime.runMain({ disableErrorReporting: true })
)

/**
 * Leak checks (S20): after a client layer's whole lifecycle (connect, subscribe, send, ack,
 * out-of-band, close), no Node handle (socket, timer, …) and no fiber it started is left, also
 * when the network was cut before the scope closed. Unhandled rejections and uncaught exceptions
 * fail every file of this project (`setup.ts`).
 *
 * Fibers are counted through `Metric.FiberRuntimeMetrics` (Effect 4 has no `Supervisor`): the
 * runtime reports to it the start and the end of every fiber whose context holds it, i.e. every
 * fiber the lifecycle forks, directly or through a runtime captured inside it.
 */
import { describe, expect, layer } from "@effect/vitest"
import { SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import { Context, Duration, Effect, Layer, Metric, Schedule, Stream } from "effect"
import { freshPrefix } from "../utils/redisProbe.js"

/** Active Node resources by type, e.g. { TCPSocketWrap: 4, Timeout: 2 } */
const resources = () => {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1
  return counts
}

/** resource types of which `now` has more than `baseline` */
const leaked = (baseline: Record<string, number>, now: Record<string, number>) =>
  Object.fromEntries(Object.entries(now).filter(([kind, n]) => n > (baseline[kind] ?? 0)))

/**
 * Poll until no resource type has more instances than in `baseline` (sockets close and timers
 * clear asynchronously); returns what is still above it after `timeout`.
 */
const leftOver = (baseline: Record<string, number>, timeout: Duration.Input = "3 seconds") =>
  Effect.sync(() => leaked(baseline, resources())).pipe(
    Effect.filterOrFail((extra) => Object.keys(extra).length === 0, () => "still above the baseline" as const),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo({ duration: timeout }))),
    Effect.catch(() => Effect.sync(() => leaked(baseline, resources())))
  )

/** Counts the fibers started and ended in the effects it tracks (as v3's `Supervisor.track`). */
const fiberCounter = () => {
  const counts = { started: 0, ended: 0 }
  const service: Metric.FiberRuntimeMetricsService = {
    recordFiberStart: () => {
      counts.started++
    },
    recordFiberEnd: () => {
      counts.ended++
    }
  }
  return {
    track: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.provideService(effect, Metric.FiberRuntimeMetrics, service),
    /** fibers started so far, and how many of them are still running */
    value: Effect.sync(() => ({ started: counts.started, alive: counts.started - counts.ended }))
  }
}

/** One client's whole life on `port`: every kind of operation, then the scope closes. */
const lifecycle = (port: number, keyPrefix: string, beforeClose: Effect.Effect<void> = Effect.void) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      ClientLayer.layer({ keyPrefix, clientTimeout: "2 seconds" }).pipe(
        Layer.provide(ShardLayer.single),
        Layer.provide(RedisLayer.layer({ host: "127.0.0.1", port }))
      )
    )
    const queue = Context.get(context, SyncFanoutQueue.SyncFanoutQueue)
    const sync = yield* queue.subscribe("room")
    const async = yield* queue.subscribe("other", { mode: "async" })
    yield* queue.send("room", 1)
    yield* queue.send("room", 2)
    yield* queue.sendOutOfBand("other", "oob")
    yield* sync.pipe(Stream.take(2), Stream.runForEach((d) => d.ack))
    yield* async.pipe(Stream.take(1), Stream.runDrain)
    yield* queue.peek("room")
    yield* queue.roomState("room")
    yield* queue.metrics()
    // let keepalive and housekeeping run at least once (every 2 s / 3)
    yield* Effect.sleep("800 millis")
    yield* beforeClose
  }).pipe(Effect.scoped, Effect.orDie)

describe("faults: leaks", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
    it.effect("S20: a client layer's lifecycle leaves no socket, timer or fiber behind", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const before = resources()
        const fibers = fiberCounter()
        yield* lifecycle(port, freshPrefix("leak")).pipe(fibers.track)
        expect(yield* leftOver(before)).toEqual({})
        const { alive, started } = yield* fibers.value
        // at least the client's keepalive, housekeeping and reconnect watcher ran, and the two streams' consumers
        expect(started).toBeGreaterThanOrEqual(5)
        expect(alive).toBe(0)
      }))

    it.effect("S20: no socket, timer or fiber is left when the network was cut before the scope closed", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const proxy = yield* TcpProxy.make({ targetPort: port })
        const before = resources()
        const fibers = fiberCounter()
        // the scope closes while ioredis is reconnecting in vain
        yield* lifecycle(proxy.port, freshPrefix("leak-cut"), Effect.andThen(proxy.cut, Effect.sleep("300 millis")))
          .pipe(fibers.track)
        yield* proxy.restore
        expect(yield* leftOver(before)).toEqual({})
        const { alive, started } = yield* fibers.value
        // at least the client's keepalive, housekeeping and reconnect watcher ran, and the two streams' consumers
        expect(started).toBeGreaterThanOrEqual(5)
        expect(alive).toBe(0)
      }))
  })
})

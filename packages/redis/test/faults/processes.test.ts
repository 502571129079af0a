/**
 * Faults across processes: three subscriber processes (`worker.ts`) on one spawned redis-server,
 * a producer in the test process. One worker dies while it holds an unacked message.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { describe, expect, layer } from "@effect/vitest"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Duration, Effect, Layer, Option } from "effect"
import { connect, eventually, freshPrefix, makeClient } from "../utils/redisProbe.js"
import { is, spawnWorker, type Worker } from "./utils/workers.js"

const N = 12
/** the victim acks K - 1 messages and holds the K-th */
const K = 4

const deliveredIds = (worker: Worker) => worker.events.filter(is("delivery")).map((e) => e.id)

const deliveredData = (worker: Worker) => worker.events.filter(is("delivery")).map((e) => e.data)

describe("faults: subscriber processes", () => {
  layer(Layer.merge(RedisTestServer.layer(), NodeServices.layer), { excludeTestServices: true })((it) => {
    it.effect(
      "S10: a SIGKILLed worker holding m stalls the room for at most clientTimeout + one housekeeping interval; " +
        "the survivors get every queued message, in order",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisTestServer.RedisTestServer
          const clientTimeout = Duration.seconds(2)
          // QueueConfig defaults: keepalive and housekeeping every clientTimeout / 3
          const interval = Duration.toMillis(clientTimeout) / 3
          const prefix = freshPrefix("proc")
          const room = "orders"
          const common = { redisUrl: server.url, keyPrefix: prefix, rooms: [room], clientTimeout }
          const [w1, w2, victim] = yield* Effect.all([
            spawnWorker({ ...common, name: "w1", ackDelayMs: 2 }),
            spawnWorker({ ...common, name: "w2", ackDelayMs: 2 }),
            spawnWorker({ ...common, name: "victim", hangAfter: K - 1 })
          ], { concurrency: "unbounded" })
          const ready = yield* Effect.all(
            [w1, w2, victim].map((w) => w.waitFor(is("ready"), "60 seconds")),
            { concurrency: "unbounded" }
          )
          const [id1, id2, idVictim] = ready.map((r) => r.clientId) as [string, string, string]
          const producer = yield* makeClient(yield* connect(server.port, "producer"), {
            keyPrefix: prefix,
            clientTimeout
          })
          expect((yield* producer.roomState(room)).members).toEqual([id1, id2, idVictim].sort())

          const ids: Array<string> = []
          for (let n = 1; n <= N; n++) ids.push(yield* producer.send(room, { n }))

          // the victim got the K-th message and will never ack it; the others acked it
          const held = yield* victim.waitFor(is("holding"))
          expect(held.id).toBe(ids[K - 1])
          yield* eventually(
            producer.roomState(room).pipe(Effect.orDie),
            (s) => s.acked.length === 2,
            "w1 and w2 to ack the K-th message",
            "5 seconds"
          )
          const waiting = yield* producer.roomState(room)
          expect(Option.map(waiting.inFlight, (f) => f.id)).toEqual(Option.some(ids[K - 1]))
          expect(waiting.acked).toEqual([id1, id2].sort())
          expect(waiting.backlog).toBe(N - K)

          const killedAt = Date.now()
          yield* victim.kill("SIGKILL")
          expect(yield* victim.exit).toBe("SIGKILL")

          // the room resumes once the server expired the victim (its last keepalive was at most one
          // interval before the kill) and a housekeeping run of a live client ejected it
          const resumed = yield* Effect.all(
            [w1, w2].map((w) => w.waitFor(is("delivery", (e) => e.id === ids[K]), "10 seconds")),
            { concurrency: "unbounded" }
          )
          const stall = Math.min(...resumed.map((e) => e.at)) - killedAt
          yield* Effect.log(
            `room stalled ${stall} ms after the SIGKILL (clientTimeout ${Duration.format(clientTimeout)})`
          )
          // (slack: a keepalive round trip and scheduling delays on a loaded 2-core machine)
          expect(stall).toBeGreaterThanOrEqual(Duration.toMillis(clientTimeout) - interval - 400)
          expect(stall).toBeLessThanOrEqual(Duration.toMillis(clientTimeout) + interval + 1500)

          // nothing queued is lost: both survivors get everything, exactly once, in order
          yield* Effect.all(
            [w1, w2].map((w) => w.waitFor(is("delivery", (e) => e.id === ids[N - 1]), "10 seconds")),
            { concurrency: "unbounded" }
          )
          yield* eventually(
            producer.roomState(room).pipe(Effect.orDie),
            (s) => Option.isNone(s.inFlight),
            "the last message to be acked",
            "5 seconds"
          )
          expect({ w1: deliveredIds(w1), w2: deliveredIds(w2), victim: deliveredIds(victim) }).toEqual({
            w1: ids,
            w2: ids,
            victim: ids.slice(0, K)
          })
          const all = Array.from({ length: N }, (_, i) => ({ n: i + 1 }))
          expect(deliveredData(w1)).toEqual(all)
          expect(deliveredData(w2)).toEqual(all)
          expect([...w1.events, ...w2.events].filter((e) => e.event === "ejected")).toEqual([])
          const state = yield* producer.roomState(room)
          expect(state).toMatchObject({ backlog: 0, members: [id1, id2].sort() })
          expect((yield* producer.metrics()).knownClients).toBe(3) // w1, w2, producer
        }),
      60_000
    )

    it.effect(
      "S20: a worker stopped with SIGTERM while holding m leaves at once; the room does not wait for clientTimeout",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisTestServer.RedisTestServer
          const clientTimeout = Duration.seconds(10)
          const prefix = freshPrefix("proc-term")
          const room = "orders"
          const common = { redisUrl: server.url, keyPrefix: prefix, rooms: [room], clientTimeout }
          const [w1, victim] = yield* Effect.all([
            spawnWorker({ ...common, name: "w1", ackDelayMs: 2 }),
            spawnWorker({ ...common, name: "victim", hangAfter: K - 1 })
          ], { concurrency: "unbounded" })
          const [ready1] = yield* Effect.all(
            [w1, victim].map((w) => w.waitFor(is("ready"), "60 seconds")),
            { concurrency: "unbounded" }
          )
          const producer = yield* makeClient(yield* connect(server.port, "producer"), {
            keyPrefix: prefix,
            clientTimeout
          })
          const ids: Array<string> = []
          for (let n = 1; n <= N; n++) ids.push(yield* producer.send(room, { n }))
          yield* victim.waitFor(is("holding", (e) => e.id === ids[K - 1]))
          yield* w1.waitFor(is("delivery", (e) => e.id === ids[K - 1]))

          const stoppedAt = Date.now()
          yield* victim.kill("SIGTERM")
          yield* victim.waitFor(is("stopped"))
          const resumed = yield* w1.waitFor(is("delivery", (e) => e.id === ids[K]), "5 seconds")
          yield* Effect.log(`room resumed ${resumed.at - stoppedAt} ms after the SIGTERM`)
          expect(resumed.at - stoppedAt).toBeLessThan(Duration.toMillis(clientTimeout) / 4)

          yield* w1.waitFor(is("delivery", (e) => e.id === ids[N - 1]))
          expect({ w1: deliveredIds(w1), victim: deliveredIds(victim) }).toEqual({
            w1: ids,
            victim: ids.slice(0, K)
          })
          expect((yield* producer.roomState(room)).members).toEqual([ready1!.clientId])
        }),
      60_000
    )
  })
})

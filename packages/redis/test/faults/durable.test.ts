/**
 * Durable members across processes (S21–S24): worker processes (`worker.ts`) with a
 * `LOCKSTEP_CLIENT_ID`, killed and started again, on one spawned redis-server; a producer in the
 * test process. "Processed" is what a worker acked: its deliveries, less the one it holds. The
 * SIGKILL story (S22) runs twice: with worker.ts's own loop and with `RoomWorker` doing the work.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { describe, expect, layer } from "@effect/vitest"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Duration, Effect, Fiber, Layer, Option } from "effect"
import { connect, eventually, freshPrefix, makeClient } from "../utils/redisProbe.js"
import { is, processed, queued, spawnWorker, trouble, type Worker } from "./utils/workers.js"

/**
 * The ids the processes of one durable id processed, in order, one process after the other; a
 * message delivered again to a successor (its predecessor stopped before its ack reached the
 * server, S22) counts once: deliveries carry their id for that.
 */
const processedByAll = (workers: ReadonlyArray<Worker>) => {
  const out: Array<string> = []
  for (const id of workers.flatMap(processed)) if (out[out.length - 1] !== id) out.push(id)
  return out
}

describe("faults: durable workers", () => {
  layer(Layer.merge(RedisTestServer.layer(), NodeServices.layer), { excludeTestServices: true })((it) => {
    // the hand-written loop of worker.ts, and RoomWorker (`LOCKSTEP_WORKER_USE_ROOMWORKER`): the same story
    for (const roomWorker of [false, true]) {
      it.effect(
        `S22: ${
          roomWorker ? "a durable RoomWorker process" : "a durable worker"
        } SIGKILLed while holding m and started ` +
          "again under its id: the room waits, the new process gets m (same id) and then every later message; every " +
          `worker processed the same list${roomWorker ? " (S27: m at attempt 2, the later ones at 1)" : ""}`,
        () =>
          Effect.gen(function*() {
            const server = yield* RedisTestServer.RedisTestServer
            const clientTimeout = Duration.seconds(15)
            const prefix = freshPrefix(roomWorker ? "durable-kill-worker" : "durable-kill")
            const room = "orders"
            const N = 12
            const K = 4
            const common = {
              redisUrl: server.url,
              keyPrefix: prefix,
              rooms: [room],
              clientTimeout,
              ackDelayMs: 2,
              roomWorker
            }
            const [w1, w2, victim] = yield* Effect.all([
              spawnWorker({ ...common, name: "w1" }),
              spawnWorker({ ...common, name: "w2" }),
              spawnWorker({ ...common, name: "edge-1 (first)", clientId: "edge-1", hangAfter: K - 1 })
            ], { concurrency: "unbounded" })
            const ready = yield* Effect.all(
              [w1, w2, victim].map((w) => w.waitFor(is("ready"), "60 seconds")),
              { concurrency: "unbounded" }
            )
            expect(ready[2]!.clientId).toBe("edge-1")
            const producer = yield* makeClient(yield* connect(server.port, "producer"), {
              keyPrefix: prefix,
              clientTimeout
            })
            const ids: Array<string> = []
            for (let n = 1; n <= N; n++) ids.push(yield* producer.send(room, { n }))

            const held = yield* victim.waitFor(is("holding"))
            expect(held.id).toBe(ids[K - 1])
            expect((yield* victim.waitFor(is("delivery", (e) => e.id === held.id))).attempt).toBe(1)
            yield* eventually(
              producer.roomState(room).pipe(Effect.orDie),
              (s) => s.acked.length === 2,
              "w1 and w2 to ack the K-th message",
              "5 seconds"
            )
            yield* victim.kill("SIGKILL")
            expect(yield* victim.exit).toBe("SIGKILL")

            const successor = yield* spawnWorker({ ...common, name: "edge-1 (second)", clientId: "edge-1" })
            expect((yield* successor.waitFor(is("ready"), "60 seconds")).clientId).toBe("edge-1")
            // the room waited for edge-1: nothing after m reached anybody before the successor got m
            const again = yield* successor.waitFor(is("delivery"))
            expect({ id: again.id, attempt: again.attempt }).toEqual({ id: ids[K - 1], attempt: 2 })
            for (const w of [w1, w2]) {
              const after = yield* w.waitFor(is("delivery", (e) => e.id === ids[K]))
              expect(after.at).toBeGreaterThanOrEqual(again.at)
            }

            yield* Effect.all(
              [w1, w2, successor].map((w) => w.waitFor(is("delivery", (e) => e.id === ids[N - 1]))),
              { concurrency: "unbounded" }
            )
            yield* eventually(
              producer.roomState(room).pipe(Effect.orDie),
              (s) => Option.isNone(s.inFlight),
              "the last message to be acked",
              "5 seconds"
            )
            expect({
              w1: processed(w1),
              w2: processed(w2),
              "edge-1": processedByAll([victim, successor])
            }).toEqual({ w1: ids, w2: ids, "edge-1": ids })
            // every later message reached the successor once, at its first attempt
            expect(queued(successor).slice(1).map((e) => e.attempt)).toEqual(ids.slice(K).map(() => 1))
            expect(trouble([w1, w2, victim, successor])).toEqual([])
            expect((yield* producer.roomState(room)).members).toEqual(
              [ready[0]!.clientId, ready[1]!.clientId, "edge-1"].sort()
            )
          }),
        90_000
      )
    }

    it.effect(
      "S24: a rolling restart (SIGTERM, onClose \"detach\") of every durable worker, one after the other, " +
        "while a producer keeps sending: every worker processed every message, in order, with no gap",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisTestServer.RedisTestServer
          const clientTimeout = Duration.seconds(15)
          const prefix = freshPrefix("durable-roll")
          const room = "orders"
          const names = ["edge-1", "edge-2", "edge-3"]
          const common = {
            redisUrl: server.url,
            keyPrefix: prefix,
            rooms: [room],
            clientTimeout,
            ackDelayMs: 2,
            onClose: "detach" as const
          }
          const generations = new Map<string, Array<Worker>>()
          const start = (clientId: string) =>
            Effect.gen(function*() {
              const list = generations.get(clientId) ?? []
              generations.set(clientId, list)
              const w = yield* spawnWorker({ ...common, name: `${clientId} #${list.length + 1}`, clientId })
              list.push(w)
              expect((yield* w.waitFor(is("ready"), "60 seconds")).clientId).toBe(clientId)
              return w
            })
          yield* Effect.all(names.map(start), { concurrency: "unbounded" })
          const producer = yield* makeClient(yield* connect(server.port, "producer"), {
            keyPrefix: prefix,
            clientTimeout
          })

          // the producer sends all along the restarts
          const ids: Array<string> = []
          let sending = true
          const sender = yield* Effect.gen(function*() {
            let n = 0
            while (sending || n < 20) {
              ids.push(yield* producer.send(room, { n: ++n }))
              yield* Effect.sleep("25 millis")
            }
          }).pipe(Effect.orDie, Effect.forkChild)

          for (const clientId of names) {
            yield* Effect.sleep("300 millis")
            const current = generations.get(clientId)!.at(-1)!
            yield* current.kill("SIGTERM")
            yield* current.waitFor(is("stopped"))
            yield* start(clientId)
          }
          sending = false
          yield* Fiber.join(sender)
          const last = ids[ids.length - 1]!
          yield* Effect.all(
            names.map((id) => generations.get(id)!.at(-1)!.waitFor(is("delivery", (e) => e.id === last), "30 seconds")),
            { concurrency: "unbounded" }
          )
          const lists = Object.fromEntries(names.map((id) => [id, processedByAll(generations.get(id)!)]))
          expect(lists).toEqual(Object.fromEntries(names.map((id) => [id, ids])))
          const all = [...generations.values()].flat()
          expect(trouble(all)).toEqual([])
          const redelivered = all.reduce((n, w) => n + processed(w).length, 0) - names.length * ids.length
          yield* Effect.log(`${ids.length} messages, 3 restarts, ${redelivered} delivered again to a successor`)
          expect((yield* producer.roomState(room)).members).toEqual(names)
        }),
      120_000
    )

    it.effect(
      "S21: two live processes with one client id: the older one is fenced within a keepalive interval",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisTestServer.RedisTestServer
          const clientTimeout = Duration.seconds(3)
          const prefix = freshPrefix("durable-fence")
          const room = "orders"
          const common = { redisUrl: server.url, keyPrefix: prefix, rooms: [room], clientTimeout, clientId: "edge-1" }
          const older = yield* spawnWorker({ ...common, name: "older" })
          yield* older.waitFor(is("ready"), "60 seconds")
          const newer = yield* spawnWorker({ ...common, name: "newer" })
          const ready = yield* newer.waitFor(is("ready"), "60 seconds")
          const fenced = yield* older.waitFor(is("ejected"), "10 seconds")
          expect(fenced.reason).toBe("superseded")
          // one keepalive interval (clientTimeout / 3), plus scheduling slack
          expect(fenced.at - ready.at).toBeLessThan(Duration.toMillis(clientTimeout) / 3 + 1500)
          const producer = yield* makeClient(yield* connect(server.port, "producer"), {
            keyPrefix: prefix,
            clientTimeout
          })
          const id = yield* producer.send(room, "after")
          yield* newer.waitFor(is("delivery", (e) => e.id === id))
          expect(older.events.filter(is("delivery"))).toEqual([])
          expect((yield* producer.roomState(room)).members).toEqual(["edge-1"])
        }),
      90_000
    )
  })
})

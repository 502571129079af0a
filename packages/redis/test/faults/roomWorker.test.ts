/**
 * `RoomWorker` across processes: worker processes (`worker.ts` with `LOCKSTEP_WORKER_USE_ROOMWORKER`,
 * so the loop, the acks and the rejoins are the library's) on one spawned redis-server, a producer
 * in the test process. One worker is partitioned from Redis past `clientTimeout` (a TCP proxy
 * between it and the server, cut by the test) and has to join the room again by itself (S10).
 * (A durable RoomWorker process SIGKILLed and started again under its id: `durable.test.ts`, which
 * runs its S22 story with both loops.)
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { describe, expect, layer } from "@effect/vitest"
import { RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import { Duration, Effect, Layer, Option } from "effect"
import { connect, eventually, freshPrefix, makeClient } from "../utils/redisProbe.js"
import { is, processed, spawnWorker, trouble } from "./utils/workers.js"

const room = "orders"

describe("faults: RoomWorker processes", () => {
  layer(Layer.merge(RedisTestServer.layer(), NodeServices.layer), { excludeTestServices: true })((it) => {
    it.effect(
      "S10: a RoomWorker process partitioned from Redis past clientTimeout is ejected (keepalive-timeout) and joins " +
        "the room again by itself once Redis is reachable; it gets what is released after its rejoin, and the room " +
        "did not wait on it longer than clientTimeout + one housekeeping interval",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisTestServer.RedisTestServer
          const clientTimeout = Duration.seconds(2)
          // QueueConfig defaults: keepalive and housekeeping every clientTimeout / 3
          const interval = Duration.toMillis(clientTimeout) / 3
          const prefix = freshPrefix("worker-partition")
          const common = { keyPrefix: prefix, rooms: [room], clientTimeout, ackDelayMs: 2, roomWorker: true }
          // the partitioned worker reaches Redis through a proxy the test cuts
          const proxy = yield* TcpProxy.make({ targetPort: server.port })
          const [w1, w2, cutOff] = yield* Effect.all([
            spawnWorker({ ...common, redisUrl: server.url, name: "w1" }),
            spawnWorker({ ...common, redisUrl: server.url, name: "w2" }),
            spawnWorker({ ...common, redisUrl: `redis://${proxy.host}:${proxy.port}`, name: "cut-off" })
          ], { concurrency: "unbounded" })
          const ready = yield* Effect.all(
            [w1, w2, cutOff].map((w) => w.waitFor(is("ready"), "60 seconds")),
            { concurrency: "unbounded" }
          )
          const cutOffId = ready[2]!.clientId
          const producer = yield* makeClient(yield* connect(server.port, "producer"), {
            keyPrefix: prefix,
            clientTimeout
          })
          const before = [yield* producer.send(room, { n: 1 }), yield* producer.send(room, { n: 2 })]
          yield* Effect.all(
            [w1, w2, cutOff].map((w) => w.waitFor(is("delivery", (e) => e.id === before[1]))),
            { concurrency: "unbounded" }
          )
          yield* eventually(
            producer.roomState(room).pipe(Effect.orDie),
            (s) => Option.isNone(s.inFlight) && s.members.includes(cutOffId),
            "the room to be idle with the three members",
            "5 seconds"
          )

          // the partition: m is released to the three members, the cut-off one never gets it, and
          // the room waits on it until the server ejects it (its last keepalive was at most one
          // interval before the cut, and a housekeeping run of a live client ejects it)
          const cutAt = Date.now()
          yield* proxy.cut
          const during = [yield* producer.send(room, { n: 3 }), yield* producer.send(room, { n: 4 })]
          const moved = yield* Effect.all(
            [w1, w2].map((w) => w.waitFor(is("delivery", (e) => e.id === during[1]), "10 seconds")),
            { concurrency: "unbounded" }
          )
          const stall = Math.min(...moved.map((e) => e.at)) - cutAt
          yield* Effect.log(`room waited ${stall} ms on the partitioned worker (clientTimeout 2 s)`)
          expect(stall).toBeGreaterThanOrEqual(Duration.toMillis(clientTimeout) - interval - 400)
          // (slack: a keepalive round trip and scheduling delays on a loaded 2-core machine)
          expect(stall).toBeLessThanOrEqual(Duration.toMillis(clientTimeout) + interval + 1500)
          const members = (yield* producer.roomState(room)).members
          expect(members).not.toContain(cutOffId)

          // its own client gave the room up too: the worker knows it was ejected, and keeps trying
          const ejected = yield* cutOff.waitFor(is("ejected"), "10 seconds")
          expect(ejected).toMatchObject({ room, reason: "keepalive-timeout" })
          const restoredAt = Date.now()
          yield* proxy.restore
          const rejoined = yield* cutOff.waitFor(is("rejoined"), "15 seconds")
          expect(rejoined.room).toBe(room)
          expect(rejoined.at).toBeGreaterThanOrEqual(restoredAt)
          yield* Effect.log(
            `the worker joined the room again ${rejoined.at - restoredAt} ms after the partition healed`
          )
          yield* eventually(
            producer.roomState(room).pipe(Effect.orDie),
            (s) => s.members.includes(cutOffId),
            "the worker to be a member again",
            "5 seconds"
          )

          const after = [yield* producer.send(room, { n: 5 }), yield* producer.send(room, { n: 6 })]
          yield* Effect.all(
            [w1, w2, cutOff].map((w) => w.waitFor(is("delivery", (e) => e.id === after[1]))),
            { concurrency: "unbounded" }
          )
          const all = [...before, ...during, ...after]
          expect({ w1: processed(w1), w2: processed(w2), cutOff: processed(cutOff) }).toEqual({
            w1: all,
            w2: all,
            cutOff: [...before, ...after]
          })
          expect(trouble([w1, w2])).toEqual([])
          expect(cutOff.events.filter(is("ejected"))).toHaveLength(1)
          expect(cutOff.events.filter(is("worker-failed"))).toEqual([])
          yield* eventually(
            producer.roomState(room).pipe(Effect.orDie),
            (s) => Option.isNone(s.inFlight) && s.backlog === 0,
            "the last message to be acked",
            "5 seconds"
          )
        }),
      90_000
    )
  })
})

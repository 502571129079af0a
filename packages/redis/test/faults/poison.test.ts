/**
 * A poison message across processes (S27, S28): three durable workers (`worker.ts`) on one spawned
 * redis-server; the third SIGKILLs itself whenever it is handed message K, and the test starts it
 * again under its id each time, as a process supervisor would. With `maxDeliveries` the room moves
 * on after the last allowed attempt; without it, it stalls on K for good (what S28 is for).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { describe, expect, layer } from "@effect/vitest"
import { RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer } from "@lockstep/redis"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Context, Duration, Effect, Layer, Option } from "effect"
import { connect, eventually, freshPrefix } from "../utils/redisProbe.js"
import { is, spawnWorker, type Timed, type Worker } from "./utils/workers.js"

const room = "orders"
const N = 6
/** the poison message is the K-th sent */
const K = 3
const poison = { n: K }

/** the queued ids a worker acked, in order: its deliveries less the ones it crashed on */
const processed = (workers: ReadonlyArray<Worker>) => {
  const out: Array<string> = []
  for (const w of workers) {
    const crashed = new Set(w.events.filter(is("crashing")).map((e) => e.id))
    for (const e of w.events.filter(is("delivery", (d) => d.kind === "queued"))) {
      if (!crashed.has(e.id) && out[out.length - 1] !== e.id) out.push(e.id)
    }
  }
  return out
}

const crashOrNext = (next: string) => (e: Timed): e is Timed =>
  e.event === "crashing" || (e.event === "delivery" && e.id === next)

/** A client of the test process on the spawned server, with its `RoomAdmin` (S29, S30). */
const producerOf = (port: number, keyPrefix: string) =>
  Effect.gen(function*() {
    const context = yield* connect(port, "producer")
    const services = yield* Layer.build(ClientLayer.layer({ keyPrefix, clientTimeout: "15 seconds" })).pipe(
      Effect.provide(context),
      Effect.orDie
    )
    return {
      queue: Context.get(services, SyncFanoutQueue.SyncFanoutQueue),
      admin: Context.get(services, RoomAdmin.RoomAdmin)
    }
  })

describe("faults: a poison message", () => {
  layer(Layer.merge(RedisTestServer.layer(), NodeServices.layer), { excludeTestServices: true })((it) => {
    /**
     * Start the three workers, send N messages (the K-th is the poison) and restart the third
     * worker each time it crashes, up to `restarts` times or until it gets the message after K.
     */
    const poisonLoop = (prefix: string, maxDeliveries: number | undefined, restarts: number) =>
      Effect.gen(function*() {
        const server = yield* RedisTestServer.RedisTestServer
        const common = {
          redisUrl: server.url,
          keyPrefix: prefix,
          rooms: [room],
          clientTimeout: Duration.seconds(15),
          ackDelayMs: 2,
          ...(maxDeliveries === undefined ? {} : { maxDeliveries })
        }
        const start = (clientId: string, name: string) =>
          Effect.gen(function*() {
            const w = yield* spawnWorker({
              ...common,
              name,
              clientId,
              ...(clientId === "edge-3" ? { crashOn: poison } : {})
            })
            expect((yield* w.waitFor(is("ready"), "60 seconds")).clientId).toBe(clientId)
            return w
          })
        const [edge1, edge2, first] = yield* Effect.all(
          [start("edge-1", "edge-1"), start("edge-2", "edge-2"), start("edge-3", "edge-3 #1")],
          { concurrency: "unbounded" }
        )
        const { admin, queue } = yield* producerOf(server.port, prefix)
        const ids: Array<string> = []
        for (let n = 1; n <= N; n++) ids.push(yield* queue.send(room, { n }))

        // each generation of edge-3 either crashes on K (attempt = its generation) or gets K + 1
        const generations: Array<Worker> = [first]
        const attempts: Array<number> = []
        for (;;) {
          const current = generations[generations.length - 1]!
          const seen = yield* current.waitFor(crashOrNext(ids[K]!), "60 seconds")
          if (seen.event !== "crashing") break
          attempts.push((seen as Extract<Timed, { event: "crashing" }>).attempt)
          expect(yield* current.exit).toBe("SIGKILL")
          if (generations.length > restarts) break
          generations.push(yield* start("edge-3", `edge-3 #${generations.length + 1}`))
        }
        return { admin, queue, ids, edge1, edge2, generations, attempts }
      })

    it.effect(
      "S28: with maxDeliveries 3, a durable worker that crashes on message K gets it for attempts 1, 2 and 3; " +
        "restarted once more it gets K + 1 instead, K is a dead letter, and every worker processed the same list",
      () =>
        Effect.gen(function*() {
          const { admin, edge1, edge2, generations, attempts, ids, queue } = yield* poisonLoop(
            freshPrefix("poison-max"),
            3,
            5
          )
          expect(attempts).toEqual([1, 2, 3])
          expect(generations).toHaveLength(4)
          // the fourth process never got K: its first delivery is K + 1
          const fourth = generations[3]!
          expect(fourth.events.filter(is("delivery")).map((e) => e.id)[0]).toBe(ids[K])

          yield* Effect.all(
            [edge1, edge2, fourth].map((w) => w.waitFor(is("delivery", (e) => e.id === ids[N - 1]))),
            { concurrency: "unbounded" }
          )
          yield* eventually(
            queue.roomState(room).pipe(Effect.orDie),
            (s) => Option.isNone(s.inFlight) && s.backlog === 0,
            "the last message to be acked",
            "10 seconds"
          )
          expect(processed([edge1])).toEqual(ids)
          expect(processed([edge2])).toEqual(ids)
          expect(processed(generations)).toEqual(ids.filter((_, i) => i !== K - 1))

          const page = yield* admin.deadLetters(room)
          expect(
            page.letters.map((l) => ({
              id: l.message.id,
              data: l.message.data,
              member: l.member,
              attempts: l.attempts,
              reason: l.reason
            }))
          )
            .toEqual([{ id: ids[K - 1], data: poison, member: "edge-3", attempts: 3, reason: "max-deliveries" }])
        }),
      180_000
    )

    it.effect(
      "S28: without maxDeliveries, the room stalls on the poison message: every restart gets it again (attempts 1 to 4) " +
        "and the other workers never get K + 1",
      () =>
        Effect.gen(function*() {
          const { admin, attempts, edge1, edge2, ids, queue } = yield* poisonLoop(
            freshPrefix("poison-stall"),
            undefined,
            3
          )
          expect(attempts).toEqual([1, 2, 3, 4])
          const state = yield* queue.roomState(room)
          expect(Option.map(state.inFlight, (m) => m.id)).toEqual(Option.some(ids[K - 1]))
          expect(state.acked).toEqual(["edge-1", "edge-2"])
          expect(state.members).toContain("edge-3")
          for (const w of [edge1, edge2]) {
            expect(w.events.filter(is("delivery", (e) => e.id === ids[K])).length).toBe(0)
          }
          expect((yield* admin.deadLetters(room)).letters).toEqual([])
        }),
      180_000
    )
  })
})

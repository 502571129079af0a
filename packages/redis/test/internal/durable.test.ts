/**
 * Durable members on the Redis engine (S21–S25), at the backend level (`RedisBackend.make`: no
 * keepalive or housekeeping fiber runs beside the calls under test): claim epochs, fencing of
 * every write of a superseded backend (nothing changes on the server), resume with the in-flight
 * message, detach and the housekeeping of detached memberships, memberships, and what fencing
 * costs (one HGET per script call of a durable client, none for the others). Standalone, then a
 * 3-master cluster for the claim across shards and fencing on a shard other than 0.
 */
import { describe, expect, layer } from "@effect/vitest"
import { type Backend, QueueError } from "@lockstep/core"
import { RedisTestCluster, RedisTestServer } from "@lockstep/redis/testing"
import { Deferred, Effect, Exit, Option, Scope } from "effect"
import type { Redis } from "ioredis"
import * as Keys from "../../src/internal/keys.js"
import { slotOf } from "../../src/internal/slot.js"
import { clusterEngine, joinDefaults, standaloneEngine } from "../utils/backends.js"
import { ownerOf } from "../utils/clusterProbe.js"
import { cmd, monitor, scanKeys } from "../utils/redisProbe.js"

type BackendClient = Backend.BackendClient

/** Every key of `prefix` with its content: what a fenced call must leave as it was. */
const snapshot = (redis: Redis, prefix: string) =>
  Effect.gen(function*() {
    const out: Record<string, unknown> = {}
    for (const key of yield* scanKeys(redis, prefix)) {
      const type = String(yield* cmd(redis, "TYPE", key))
      out[key] = type === "string"
        ? yield* cmd(redis, "GET", key)
        : type === "hash"
        ? yield* Effect.promise(() => redis.hgetall(key))
        : type === "set"
        ? [...(yield* cmd(redis, "SMEMBERS", key)) as Array<string>].sort()
        : type === "zset"
        ? yield* cmd(redis, "ZRANGE", key, 0, -1, "WITHSCORES")
        : type
    }
    return out
  })

/** The failure of an ack, as its `onFailure` reports it (or "none" after `wait`). */
const ackOutcome = (backend: BackendClient, room: string, id: string, wait = "500 millis" as const) =>
  Effect.gen(function*() {
    const failed = yield* Deferred.make<Backend.BackendError | "none">()
    let calls = 0
    backend.ack(room, id, (_room, _id, error) => {
      calls++
      Deferred.doneUnsafe(failed, Exit.succeed(error))
    })
    const outcome = yield* Deferred.await(failed).pipe(
      Effect.timeoutOption(wait),
      Effect.map(Option.getOrElse(() => "none" as const))
    )
    yield* Effect.sleep("100 millis") // a second report (a retry per shard) would come now
    return { outcome, calls }
  })

const envelope = (data: string) => JSON.stringify({ k: "q", d: data })

const superseded = (error: unknown, clientId: string) => {
  expect(error).toBeInstanceOf(QueueError.ClientSuperseded)
  expect(error).toMatchObject({ clientId })
}

describe("durable members, backend level", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    const standalone = standaloneEngine

    it.effect("S21: the epochs of an id grow with each claim; claims are kept per id, the client registered", () =>
      Effect.gen(function*() {
        const { backend, base, raw } = yield* standalone("ep")
        expect(yield* backend("edge-1").claim(2000)).toEqual({ epoch: 1 })
        expect(yield* backend("edge-1").claim(2000)).toEqual({ epoch: 2 })
        expect(yield* backend("edge-2").claim(2000)).toEqual({ epoch: 1 })
        expect(yield* backend("edge-1").claim(2000)).toEqual({ epoch: 3 })
        expect(yield* cmd(raw, "HGETALL", Keys.claims(base(0)))).toEqual(["edge-1", "3", "edge-2", "1"])
        expect(yield* cmd(raw, "ZSCORE", Keys.clients(base(0)), "edge-1")).not.toBeNull()
        // a claim of an id without memberships starts no resume deadline
        expect(yield* cmd(raw, "EXISTS", Keys.detached(base(0)))).toBe(0)
      }))

    it.effect("S21: after a newer claim every write of the older holder fails with ClientSuperseded and changes nothing", () =>
      Effect.gen(function*() {
        const { backend, prefix, raw } = yield* standalone("fence")
        const producer = backend("producer")
        const older = backend("edge-1")
        yield* older.claim(2000)
        const join = { mode: "sync", ackTimeoutMs: null, clientTimeoutMs: 2000, ...joinDefaults } as const
        yield* older.join("r", join)
        yield* older.join("gone", join)
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* producer.send("r", envelope("m2"), 0, "producer:2")
        // the older holder still writes before the newer claim
        yield* older.send("r", envelope("o1"), 0, "edge-1:1")
        expect((yield* producer.roomState("r")).backlog).toBe(2)

        const newer = backend("edge-1")
        expect(yield* newer.claim(2000)).toEqual({ epoch: 2 })
        const before = yield* snapshot(raw, prefix)

        superseded(yield* Effect.flip(older.send("r", envelope("late"), 0, "edge-1:2")), "edge-1")
        superseded(yield* Effect.flip(older.sendOutOfBand("r", envelope("late"))), "edge-1")
        superseded(yield* Effect.flip(older.join("other", join)), "edge-1")
        superseded(yield* Effect.flip(older.join("r", { ...join, mode: "async" })), "edge-1")
        superseded(yield* Effect.flip(older.leave("r")), "edge-1")
        superseded(yield* Effect.flip(older.detach("r", 2000)), "edge-1")
        superseded(yield* Effect.flip(older.keepalive(["r"], 60_000)), "edge-1")
        superseded(yield* Effect.flip(older.unregister(["r", "gone"])), "edge-1")
        const acked = yield* ackOutcome(older, "r", "producer:1")
        superseded(acked.outcome, "edge-1")
        expect(acked.calls).toBe(1)

        // nothing changed: not a frame published (`ev`), not an expiry refreshed
        expect(yield* snapshot(raw, prefix)).toEqual(before)
        const state = yield* producer.roomState("r")
        expect(state).toMatchObject({ members: ["edge-1"], acked: [], backlog: 2 })
        expect(state.inFlight?.id).toBe("producer:1")

        // read-only calls still answer; the newer holder writes
        expect(yield* older.peek("r", 0, 10)).toEqual([envelope("m2"), envelope("o1")])
        expect(yield* newer.keepalive(["r"], 2000)).toBe(true)
        yield* newer.send("r", envelope("n1"), 0, "edge-1:4294967297")
        expect((yield* producer.roomState("r")).backlog).toBe(3)
      }))

    it.effect("S22: a resumed join answers the in-flight message while the id holds it unacked, nothing once it acked", () =>
      Effect.gen(function*() {
        const { backend, base, raw } = yield* standalone("resume")
        const producer = backend("producer")
        const peer = backend("peer")
        const join = { mode: "sync", ackTimeoutMs: null, clientTimeoutMs: 2000, ...joinDefaults } as const
        const first = backend("edge-1")
        yield* first.claim(2000)
        const fresh = yield* first.join("r", join)
        expect(fresh.inFlight).toBeNull()
        yield* peer.join("r", join)
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* producer.send("r", envelope("m2"), 0, "producer:2")

        // a successor claims: the membership waits to be resumed (S23)
        const second = backend("edge-1")
        yield* second.claim(2000)
        expect(yield* cmd(raw, "ZSCORE", Keys.detached(base(0)), "edge-1|r")).not.toBeNull()
        const resumed = yield* second.join("r", join)
        // S27: the first process received m1 (its release), this is attempt 2
        expect(resumed.inFlight).toEqual({ id: "producer:1", envelope: envelope("m1"), attempt: 2 })
        expect(resumed.event).toBe(Number(yield* cmd(raw, "GET", Keys.shardKey("frames")(base(0)))))
        expect(yield* cmd(raw, "ZSCORE", Keys.detached(base(0)), "edge-1|r")).toBeNull()
        // still one membership, still a holder
        const state = yield* producer.roomState("r")
        expect([...state.members].sort()).toEqual(["edge-1", "peer"])
        expect(state.acked).toEqual([])
        expect(yield* second.resync("r")).toEqual({ id: "producer:1", envelope: envelope("m1"), attempt: 2 })

        // the id acks; the peer has not: m1 stays in flight, and the next successor is not given it
        yield* Effect.flatMap(
          ackOutcome(second, "r", "producer:1"),
          ({ outcome }) => Effect.sync(() => expect(outcome).toBe("none"))
        )
        const third = backend("edge-1")
        yield* third.claim(2000)
        const again = yield* third.join("r", join)
        expect(again.inFlight).toBeNull()
        expect(yield* producer.roomState("r")).toMatchObject({ acked: ["edge-1"], backlog: 1 })
      }))

    it.effect("S22/S25: a resumed join in the other mode leaves (releasing what it held) and joins afresh", () =>
      Effect.gen(function*() {
        const { backend } = yield* standalone("mode")
        const producer = backend("producer")
        const first = backend("edge-1")
        yield* first.claim(2000)
        yield* first.join("r", { mode: "sync", ackTimeoutMs: null, clientTimeoutMs: 2000, ...joinDefaults })
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* producer.send("r", envelope("m2"), 0, "producer:2")
        const second = backend("edge-1")
        yield* second.claim(2000)
        const joined = yield* second.join("r", {
          mode: "async",
          ackTimeoutMs: null,
          clientTimeoutMs: 2000,
          ...joinDefaults
        })
        expect(joined.inFlight).toBeNull()
        // no sync member left: m2 was released to whoever listens and is gone (S7)
        expect(yield* producer.roomState("r")).toMatchObject({ members: [], backlog: 0, inFlight: null })
        expect(yield* second.memberships).toEqual([{ room: "r", mode: "async" }])
      }))

    it.effect("S23/S24: a detached membership nobody resumes is ejected by housekeeping after its deadline; a resumed one stays", () =>
      Effect.gen(function*() {
        const { backend, base, raw } = yield* standalone("detach")
        const producer = backend("producer")
        const join = { mode: "sync", ackTimeoutMs: null, clientTimeoutMs: 2000, ...joinDefaults } as const
        const first = backend("edge-1")
        yield* first.claim(2000)
        for (const room of ["kept", "dropped"]) {
          yield* first.join(room, join)
          yield* producer.send(room, envelope(`${room}-1`), 0, `producer:${room}-1`)
          yield* producer.send(room, envelope(`${room}-2`), 0, `producer:${room}-2`)
        }
        const frames: Array<string> = []
        const scope = yield* Scope.make()
        yield* Scope.provide(producer.listen("dropped", (frame) => frames.push(frame)), scope)

        // detach: nothing is left or released; the client's expiry reaches the deadline too
        yield* first.detach("dropped", 800)
        yield* first.detach("kept", 800)
        yield* first.detach("never-joined", 800)
        expect(yield* cmd(raw, "ZRANGE", Keys.detached(base(0)), 0, -1)).toEqual(["edge-1|dropped", "edge-1|kept"])
        expect(yield* producer.roomState("dropped")).toMatchObject({ members: ["edge-1"], backlog: 1 })

        // the successor resumes one room and lives on (a long keepalive: only `detached` ends memberships)
        const second = backend("edge-1")
        yield* second.claim(800)
        yield* second.join("kept", join)
        yield* second.keepalive(["kept"], 60_000)
        yield* producer.housekeep([])
        expect(yield* producer.roomState("dropped")).toMatchObject({ members: ["edge-1"] })

        yield* Effect.sleep("1200 millis")
        // bounded by the lock: a fresh run
        yield* cmd(raw, "DEL", Keys.shardKey("lock")(base(0)))
        yield* producer.housekeep([])
        expect(yield* producer.roomState("dropped")).toMatchObject({ members: [], backlog: 0 })
        expect((yield* producer.roomState("kept")).members).toEqual(["edge-1"])
        expect(yield* second.memberships).toEqual([{ room: "kept", mode: "sync" }])
        expect(yield* cmd(raw, "EXISTS", Keys.detached(base(0)))).toBe(0)
        // the ejection was announced in the room (S10)
        expect(frames.some((f) => f.includes(`"c":"edge-1"`) && f.includes(`"why":"keepalive-timeout"`))).toBe(true)
        yield* Scope.close(scope, Exit.void)
      }))

    it.effect("S18: leaving, unregistering or an ejection leaves no `detached` entry", () =>
      Effect.gen(function*() {
        const { backend, base, raw } = yield* standalone("clean")
        const join = { mode: "sync", ackTimeoutMs: null, clientTimeoutMs: 2000, ...joinDefaults } as const
        const first = backend("edge-1")
        yield* first.claim(2000)
        yield* first.join("a", join)
        yield* first.join("b", join)
        yield* first.join("c", join)
        const second = backend("edge-1")
        yield* second.claim(2000)
        expect(yield* cmd(raw, "ZCARD", Keys.detached(base(0)))).toBe(3)
        yield* second.leave("a")
        expect(yield* cmd(raw, "ZRANGE", Keys.detached(base(0)), 0, -1)).toEqual(["edge-1|b", "edge-1|c"])
        yield* second.unregister(["b"])
        expect(yield* cmd(raw, "EXISTS", Keys.detached(base(0)))).toBe(0)
        expect(yield* second.memberships).toEqual([])
      }))

    it.effect("S20/S24: a durable client's unregister leaves every membership of its id, resumed or not, on every shard", () =>
      Effect.gen(function*() {
        const { backend, sharding } = yield* standalone("unreg", 8)
        const rooms = Array.from({ length: 12 }, (_, i) => `room-${i}`)
        const join = { mode: "sync", ackTimeoutMs: null, clientTimeoutMs: 2000, ...joinDefaults } as const
        const first = backend("edge-1")
        yield* first.claim(2000)
        for (const room of rooms) yield* first.join(room, join)
        const second = backend("edge-1")
        yield* second.claim(2000)
        yield* second.join(rooms[0]!, join)
        expect(new Set(rooms.map(sharding.shardOf)).size).toBeGreaterThan(3)
        yield* second.unregister([rooms[0]!])
        expect(yield* second.memberships).toEqual([])
        for (const room of rooms) expect((yield* backend("p").roomState(room)).members).toEqual([])
      }))

    it.effect("S23: memberships lists the id's rooms with their modes, over every shard", () =>
      Effect.gen(function*() {
        const { backend, sharding } = yield* standalone("list", 8)
        const rooms = Array.from({ length: 12 }, (_, i) => `room-${i}`)
        expect(new Set(rooms.map(sharding.shardOf)).size).toBeGreaterThan(3)
        const first = backend("edge-1")
        yield* first.claim(2000)
        for (const [i, room] of rooms.entries()) {
          yield* first.join(room, {
            mode: i % 3 === 0 ? "async" : "sync",
            ackTimeoutMs: null,
            clientTimeoutMs: 2000,
            ...joinDefaults
          })
        }
        const expected = rooms.map((room, i) => ({ room, mode: i % 3 === 0 ? "async" : "sync" }))
          .sort((a, b) => (a.room < b.room ? -1 : 1))
        expect(yield* first.memberships).toEqual(expected)
        // the successor sees them too (a plain client id of its own has none)
        const second = backend("edge-1")
        yield* second.claim(2000)
        expect(yield* second.memberships).toEqual(expected)
        expect(yield* backend("someone-else").memberships).toEqual([])
      }))

    it.effect("S21: a claim that meets a newer epoch on another shard lost a race: ClientSuperseded, nothing written there", () =>
      Effect.gen(function*() {
        const { backend, base, raw } = yield* standalone("race", 4)
        yield* backend("edge-1").claim(2000)
        // a newer claim got to shard 2 first (its epoch there is ahead of shard 0's next one)
        yield* cmd(raw, "HSET", Keys.claims(base(2)), "edge-1", 7)
        const error = yield* Effect.flip(backend("edge-1").claim(2000))
        superseded(error, "edge-1")
        expect(yield* cmd(raw, "HGET", Keys.claims(base(2)), "edge-1")).toBe("7")
        expect(yield* cmd(raw, "HGET", Keys.claims(base(0)), "edge-1")).toBe("2")
      }))

    it.effect("fencing costs one HGET of `claims` per script call of a durable client, none for the others", () =>
      Effect.gen(function*() {
        const { backend, base, port } = yield* standalone("cost")
        const mon = yield* monitor(port)
        const join = { mode: "sync", ackTimeoutMs: null, clientTimeoutMs: 2000, ...joinDefaults } as const
        const plain = backend("plain")
        const durable = backend("edge-1")
        yield* durable.claim(2000)
        for (const b of [plain, durable]) yield* b.join("r", join)
        /** HGETs of `claims` per script call made by `run` (at least one call) */
        const claimReads = (run: Effect.Effect<unknown, unknown>) =>
          Effect.gen(function*() {
            const from = yield* mon.mark
            yield* run
            const to = yield* mon.mark
            const calls = mon.between(from, to).filter((e) => e.command === "evalsha" || e.command === "eval").length
            expect(calls).toBeGreaterThan(0)
            const reads = mon.withScripts(from, to).filter((e) =>
              e.command === "hget" && e.args[1] === Keys.claims(base(0))
            ).length
            return reads / calls
          })
        // four sends of one turn: one script call
        const sends = (b: BackendClient, label: string) =>
          Effect.all(
            [1, 2, 3, 4].map((i) => b.send("r", envelope(`${label}${i}`), 0, `${label}:${i}`)),
            { concurrency: "unbounded" }
          )
        expect(yield* claimReads(sends(plain, "plain"))).toBe(0)
        expect(yield* claimReads(sends(durable, "edge-1"))).toBe(1)
        expect(yield* claimReads(Effect.orDie(ackOutcome(plain, "r", "plain:1")))).toBe(0)
        expect(yield* claimReads(Effect.orDie(ackOutcome(durable, "r", "plain:1")))).toBe(1)
        expect(yield* claimReads(plain.keepalive(["r"], 2000))).toBe(0)
        expect(yield* claimReads(durable.keepalive(["r"], 2000))).toBe(1)
      }))
  })

  layer(RedisTestCluster.layer({ masters: 3 }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("cluster: a claim reaches every shard; a superseded backend is fenced on a shard other than 0", () =>
      Effect.gen(function*() {
        const { backend, base, cluster, nodes, prefix, sharding } = yield* clusterEngine("cl")
        const any = nodes.get(cluster.masters[0]!.port)!
        const nodeOf = (shard: number) =>
          Effect.map(ownerOf(any, slotOf(sharding.tagOf(shard))), (port) => nodes.get(port)!)
        const onEveryShard = (f: (node: Redis, shard: number) => Effect.Effect<unknown>) =>
          Effect.forEach(
            Array.from({ length: 16 }, (_, i) => i),
            (shard) => Effect.flatMap(nodeOf(shard), (node) => f(node, shard))
          )

        const older = backend("edge-1")
        expect(yield* older.claim(2000)).toEqual({ epoch: 1 })
        expect(yield* onEveryShard((node, shard) => cmd(node, "HGET", Keys.claims(base(shard)), "edge-1")))
          .toEqual(Array(16).fill("1"))

        // rooms on a shard other than 0, on another master than shard 0's
        const home = yield* Effect.map(nodeOf(0), (node) => node.options.port)
        let room = ""
        for (let i = 0; i < 1000 && room === ""; i++) {
          const shard = sharding.shardOf(`room-${i}`)
          if (shard !== 0 && (yield* nodeOf(shard)).options.port !== home) room = `room-${i}`
        }
        expect(room).not.toBe("")
        const shard = sharding.shardOf(room)
        const join = { mode: "sync", ackTimeoutMs: null, clientTimeoutMs: 2000, ...joinDefaults } as const
        const producer = backend("producer")
        yield* older.join(room, join)
        yield* producer.send(room, envelope("m1"), 0, "producer:1")
        yield* producer.send(room, envelope("m2"), 0, "producer:2")

        const newer = backend("edge-1")
        expect(yield* newer.claim(2000)).toEqual({ epoch: 2 })
        expect(yield* onEveryShard((node, shard) => cmd(node, "HGET", Keys.claims(base(shard)), "edge-1")))
          .toEqual(Array(16).fill("2"))
        // the membership on that shard waits to be resumed (S23)
        const node = yield* nodeOf(shard)
        expect(yield* cmd(node, "ZSCORE", Keys.detached(base(shard)), `edge-1|${room}`)).not.toBeNull()

        const before = yield* Effect.map(
          Effect.forEach(nodes.values(), (n) => snapshot(n, `${prefix}:`)),
          (all) => Object.assign({}, ...all) as Record<string, unknown>
        )
        superseded(yield* Effect.flip(older.send(room, envelope("late"), 0, "edge-1:9")), "edge-1")
        superseded(yield* Effect.flip(older.leave(room)), "edge-1")
        superseded(yield* Effect.flip(older.join(room, { ...join, mode: "async" })), "edge-1")
        // keepalive of many shards: one call per node (keepaliveMany), refused on shard 0's node
        const rooms = Array.from({ length: 40 }, (_, i) => `k-${i}`)
        superseded(yield* Effect.flip(older.keepalive([room, ...rooms], 60_000)), "edge-1")
        // an ack refused by the node batch is reported once, not made again per shard
        const acked = yield* ackOutcome(older, room, "producer:1")
        superseded(acked.outcome, "edge-1")
        expect(acked.calls).toBe(1)
        const after = yield* Effect.map(
          Effect.forEach(nodes.values(), (n) => snapshot(n, `${prefix}:`)),
          (all) => Object.assign({}, ...all) as Record<string, unknown>
        )
        expect(after).toEqual(before)

        // the newer holder resumes on that shard and gets m1 again
        const resumed = yield* newer.join(room, join)
        expect(resumed.inFlight).toEqual({ id: "producer:1", envelope: envelope("m1"), attempt: 2 })
        expect(yield* newer.keepalive([room, ...rooms], 2000)).toBe(true)
        expect(yield* newer.memberships).toEqual([{ room, mode: "sync" }])
      }))
  })
})

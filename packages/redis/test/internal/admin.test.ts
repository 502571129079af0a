/**
 * Dead letters (S29) and operator actions (S30) on the Redis engine, at the backend level: the
 * copy `redrive` queues is core's `Envelope.redriven` byte for byte, letters are paged newest
 * first and kept per the writer's policy (limit, retention), pause / skip / purge / eject do what
 * S30 says, a superseded operator changes nothing (S21), and nothing of a room is left once it is
 * empty and its letters are dropped or past retention (S18), on a standalone server and on a
 * cluster (where every new key routes with the room's shard, S17).
 */
import { describe, expect, layer } from "@effect/vitest"
import { type Backend, Envelope, QueueError } from "@lockstep/core"
import { RedisTestCluster, RedisTestServer } from "@lockstep/redis/testing"
import { Effect, Result } from "effect"
import type { Redis } from "ioredis"
import * as Keys from "../../src/internal/keys.js"
import { slotOf } from "../../src/internal/slot.js"
import { ackNow, clusterEngine, envelope, framesOf, standaloneEngine, syncJoin } from "../utils/backends.js"
import { cmd, eventually, monitor, scanKeys, scriptOfSha } from "../utils/redisProbe.js"

const policy: Backend.DeadLetterPolicy = { limit: 100, retentionMs: 60_000 }

/** The keys of `room` among `keys` (its hash tag's keys named after it). */
const keysOf = (keys: ReadonlyArray<string>, base: string, room: string) =>
  keys.filter((key) => key.startsWith(base) && key.endsWith(`:${room}`))

/** One backend holding `id` in `room`, rejected for `reason`: a letter. */
const rejected = (backend: Backend.BackendClient, room: string, id: string, reason = "rejected", p = policy) =>
  Effect.flatMap(backend.reject(room, id, 1, reason, p), (done) => Effect.sync(() => expect(done).toBe(true)))

describe("dead letters and operator actions, backend level", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    const standalone = (label: string) =>
      Effect.map(standaloneEngine(label), ({ backend, base, prefix, raw }) => ({
        backend,
        base: base(0),
        prefix,
        raw,
        producer: backend("producer"),
        admin: backend("admin")
      }))

    it.effect("S29: redrive queues Envelope.redriven of the letter, byte for byte, with its priority", () =>
      Effect.gen(function*() {
        const { admin, backend, producer } = yield* standalone("rd")
        const member = backend("edge-1")
        yield* member.join("r", syncJoin)
        const envelopes = [
          envelope("plain"),
          envelope(`,"d":1 "quoted" \\ / \u2028 é 🚀 {"k":"q"}`, { pr: -7 }),
          envelope({ a: [1, 2.5, { b: null }], ",\"d\":": true, e: "x" }, { pr: Number.MAX_SAFE_INTEGER }),
          envelope(null, { pr: -Number.MAX_SAFE_INTEGER, t: 1.5 }),
          envelope(1.5e300, { k: "o", p: "someone.else_1", s: 0 }),
          // spacing a client never writes: the data text is kept as it is
          `{"k":"q","p":"x","s":2,"pr":3,"t":4,"d": [ 1 ,  "two" ] }`
        ]
        const template = { producer: "admin", sequence: 42, sentAt: 1_700_000_000_123 }
        yield* admin.pause("r", true)
        for (const [i, text] of envelopes.entries()) {
          const id = `producer:${i + 1}`
          // released into the idle room (not paused yet for this one), then rejected
          yield* admin.pause("r", false)
          yield* producer.send("r", text, 0, id)
          yield* admin.pause("r", true)
          yield* rejected(member, "r", id)
          expect(yield* admin.redrive("r", id, `admin:${i + 1}`, template)).toBe(true)
          // paused: queued, not released
          const [copy] = yield* producer.peek("r", 0, 10)
          expect(copy).toBe(Result.getOrThrow(Envelope.redriven(text, template)))
          expect(yield* admin.purge("r")).toBe(1)
          // its letters are gone: a second redrive queues nothing
          expect(yield* admin.redrive("r", id, `admin:x${i}`, template)).toBe(false)
          expect(yield* producer.peek("r", 0, 10)).toEqual([])
        }
        // the priority of the letter orders the copy among the queued (S2)
        yield* admin.pause("r", false)
        yield* producer.send("r", envelope("first"), 0, "producer:10")
        yield* rejected(member, "r", "producer:10")
        yield* admin.pause("r", true)
        yield* producer.send("r", envelope("late", { pr: 0 }), 0, "producer:11")
        yield* producer.send("r", envelope("early", { pr: -5 }), -5, "producer:12")
        yield* producer.send("r", envelope("d", { pr: -3 }), -3, "producer:13")
        yield* admin.redrive("r", "producer:10", "admin:10", template)
        // priorities: -5, -3, then the copy (0) after the queued message of priority 0 (arrival)
        const queued = (yield* producer.peek("r", 0, 10)).map((e) => JSON.parse(e).d)
        expect(queued).toEqual(["early", "d", "late", "first"])
      }))

    it.effect("S29: a letter that holds no message envelope is not redriven: false, the letter stays", () =>
      Effect.gen(function*() {
        const { admin, backend, producer } = yield* standalone("bad")
        const member = backend("edge-1")
        yield* member.join("r", syncJoin)
        for (
          const [i, text] of [
            "not json",
            `{"k":"e","c":"x","why":"operator"}`,
            `{"k":"q","p":"x","s":1,"pr":1.5,"t":1,"d":0}`
          ].entries()
        ) {
          const id = `producer:${i + 1}`
          yield* producer.send("r", text, 0, id)
          yield* rejected(member, "r", id)
          expect(Result.isFailure(Envelope.redriven(text, { producer: "admin", sequence: 1, sentAt: 1 }))).toBe(true)
          expect(yield* admin.redrive("r", id, "admin:1", { producer: "admin", sequence: 1, sentAt: 1 })).toBe(false)
        }
        expect((yield* admin.deadLetters("r", null, 10)).letters).toHaveLength(3)
        expect(yield* producer.roomState("r")).toMatchObject({ backlog: 0, inFlight: null })
      }))

    it.effect("S29: letters newest first in pages; at most `limit`; none past retention; dropDeadLetters; then no key of the room (S18)", () =>
      Effect.gen(function*() {
        const { admin, backend, base, prefix, producer, raw } = yield* standalone("pages")
        const member = backend("edge-1")
        yield* member.join("r", syncJoin)
        const small = { limit: 3, retentionMs: 60_000 }
        for (let i = 1; i <= 5; i++) {
          yield* producer.send("r", envelope(`m${i}`), 0, `producer:${i}`)
          yield* rejected(member, "r", `producer:${i}`, `why ${i}`, small)
        }
        const all = yield* admin.deadLetters("r", null, 10)
        expect(all.next).toBeNull()
        // the two oldest went: at most `limit`
        expect(all.letters.map((l) => l.reason)).toEqual(["why 5", "why 4", "why 3"])
        expect(all.letters.map((l) => l.envelope)).toEqual(["m5", "m4", "m3"].map((d) => envelope(d)))
        const seqs = all.letters.map((l) => l.seq)
        expect([...seqs].sort((a, b) => b - a)).toEqual(seqs)
        expect(all.letters[0]).toMatchObject({ member: "edge-1", attempts: 1 })
        const first = yield* admin.deadLetters("r", null, 2)
        expect(first).toEqual({ letters: all.letters.slice(0, 2), next: seqs[1] })
        const second = yield* admin.deadLetters("r", first.next, 2)
        expect(second).toEqual({ letters: all.letters.slice(2), next: null })
        // the key expires with the retention after the newest letter
        const letters = Keys.letters(base, "r")
        const pttl = Number(yield* cmd(raw, "PTTL", letters))
        expect(pttl).toBeGreaterThan(59_000)
        expect(pttl).toBeLessThanOrEqual(60_000)

        expect(yield* admin.dropDeadLetters("r")).toBe(3)
        expect(yield* admin.dropDeadLetters("r")).toBe(0)
        expect(yield* admin.deadLetters("r", null, 10)).toEqual({ letters: [], next: null })
        yield* member.leave("r")
        expect(keysOf(yield* scanKeys(raw, prefix), base, "r")).toEqual([])
      }))

    it.effect("S29/S18: letters past retention are dropped by the next letter written, and the key expires after the newest", () =>
      Effect.gen(function*() {
        const { admin, backend, base, producer, raw } = yield* standalone("ret")
        const member = backend("edge-1")
        yield* member.join("r", syncJoin)
        const short = { limit: 100, retentionMs: 300 }
        yield* producer.send("r", envelope("old"), 0, "producer:1")
        yield* rejected(member, "r", "producer:1", "rejected", short)
        // the server clock moves past the first letter's retention (a letter is dropped by time)
        yield* Effect.sleep("350 millis")
        yield* producer.send("r", envelope("new"), 0, "producer:2")
        yield* rejected(member, "r", "producer:2", "rejected", short)
        expect((yield* admin.deadLetters("r", null, 10)).letters.map((l) => l.envelope)).toEqual([envelope("new")])
        yield* member.leave("r")
        yield* eventually(cmd(raw, "EXISTS", Keys.letters(base, "r")), (n) => n === 0, "the letters expire")
      }))

    it.effect("S30: pause: sends queue, the in-flight message completes and releases nothing; resume releases; the flag outlives the room until resumed (S18)", () =>
      Effect.gen(function*() {
        const { admin, backend, base, prefix, producer, raw } = yield* standalone("pause")
        const member = backend("edge-1")
        yield* member.join("r", syncJoin)
        expect(yield* admin.pause("r", true)).toBe(true)
        expect(yield* admin.pause("r", true)).toBe(false)
        // into the idle paused room: queued
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        expect(yield* producer.roomState("r")).toMatchObject({ backlog: 1, inFlight: null, paused: true })
        // out-of-band still flows (S9): nothing queued
        yield* producer.sendOutOfBand("r", JSON.stringify({ k: "o", d: 1 }))
        expect(yield* admin.pause("r", false)).toBe(true)
        expect(yield* admin.pause("r", false)).toBe(false)
        expect(yield* producer.roomState("r")).toMatchObject({
          backlog: 0,
          inFlight: { id: "producer:1" },
          paused: false
        })
        yield* producer.send("r", envelope("m2"), 0, "producer:2")
        yield* admin.pause("r", true)
        // the last ack of the in-flight message releases nothing while paused
        expect(yield* ackNow(member, "r", "producer:1")).toMatchObject({ backlog: 1, inFlight: null, paused: true })
        // the room emptied while paused: only the flag is left
        yield* member.leave("r")
        expect(keysOf(yield* scanKeys(raw, prefix), base, "r")).toEqual(
          [Keys.meta(base, "r"), Keys.queue(base, "r"), Keys.roomKey("payloads")(base, "r")].sort()
        )
        expect(yield* admin.purge("r")).toBe(1)
        expect(keysOf(yield* scanKeys(raw, prefix), base, "r")).toEqual([Keys.meta(base, "r")])
        expect(yield* cmd(raw, "HGETALL", Keys.meta(base, "r"))).toEqual([Keys.metaFields.paused, "1"])
        expect(yield* producer.roomState("r")).toMatchObject({ paused: true, members: [], backlog: 0 })
        // a new member in the paused room: nothing released
        yield* member.join("r", syncJoin)
        yield* producer.send("r", envelope("m3"), 0, "producer:3")
        expect(yield* producer.roomState("r")).toMatchObject({ backlog: 1, inFlight: null })
        yield* admin.pause("r", false)
        expect(yield* producer.roomState("r")).toMatchObject({ backlog: 0, inFlight: { id: "producer:3" } })
        yield* member.leave("r")
        expect(keysOf(yield* scanKeys(raw, prefix), base, "r")).toEqual([])
        // resuming a room that is empty and paused drops its flag: no key left
        yield* admin.pause("r", true)
        yield* admin.pause("r", false)
        expect(keysOf(yield* scanKeys(raw, prefix), base, "r")).toEqual([])
      }))

    it.effect("S30: skip dead-letters the in-flight message for every holder that has not acked it and releases the next", () =>
      Effect.gen(function*() {
        const { admin, backend, producer } = yield* standalone("skip")
        const [a, b, c] = [backend("a"), backend("b"), backend("c")]
        for (const m of [a, b, c]) yield* m.join("r", syncJoin)
        expect(yield* admin.skip("r", policy)).toBeNull()
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* producer.send("r", envelope("m2"), 0, "producer:2")
        yield* ackNow(a, "r", "producer:1")
        expect(yield* admin.skip("r", policy)).toBe("producer:1")
        const { letters } = yield* admin.deadLetters("r", null, 10)
        expect(letters.map((l) => [l.member, l.reason, l.attempts, l.envelope]).sort()).toEqual([
          ["b", "skipped", 1, envelope("m1")],
          ["c", "skipped", 1, envelope("m1")]
        ])
        expect(yield* producer.roomState("r")).toMatchObject({ acked: [], inFlight: { id: "producer:2" }, backlog: 0 })
        // a late ack of the skipped message does nothing (S4)
        expect(yield* ackNow(b, "r", "producer:1")).toMatchObject({ acked: [], inFlight: { id: "producer:2" } })
        // paused: skipped, nothing released
        yield* producer.send("r", envelope("m3"), 0, "producer:3")
        yield* admin.pause("r", true)
        expect(yield* admin.skip("r", policy)).toBe("producer:2")
        expect(yield* producer.roomState("r")).toMatchObject({ inFlight: null, backlog: 1 })
      }))

    it.effect("S28: reject settles the message for the member like an ack; a stale or repeated reject changes nothing", () =>
      Effect.gen(function*() {
        const { admin, backend, producer } = yield* standalone("rej")
        const [a, b] = [backend("a"), backend("b")]
        for (const m of [a, b]) yield* m.join("r", syncJoin)
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* producer.send("r", envelope("m2"), 0, "producer:2")
        expect(yield* a.reject("r", "producer:2", 1, "rejected", policy)).toBe(false)
        expect(yield* a.reject("r", "producer:1", 3, "bad data", policy)).toBe(true)
        expect(yield* a.reject("r", "producer:1", 3, "bad data", policy)).toBe(false)
        expect(yield* producer.roomState("r")).toMatchObject({ acked: ["a"], inFlight: { id: "producer:1" } })
        expect(yield* producer.reject("r", "producer:1", 1, "rejected", policy)).toBe(false)
        const [letter] = (yield* admin.deadLetters("r", null, 10)).letters
        expect(letter).toMatchObject({ member: "a", attempts: 3, reason: "bad data", envelope: envelope("m1") })
        // the last holder's reject releases the next
        expect(yield* b.reject("r", "producer:1", 1, "rejected", policy)).toBe(true)
        expect(yield* producer.roomState("r")).toMatchObject({ acked: [], inFlight: { id: "producer:2" } })
      }))

    it.effect("S30: purge drops the backlog, not the in-flight message", () =>
      Effect.gen(function*() {
        const { admin, backend, base, producer, raw } = yield* standalone("purge")
        const member = backend("edge-1")
        yield* member.join("r", syncJoin)
        expect(yield* admin.purge("r")).toBe(0)
        for (let i = 1; i <= 4; i++) yield* producer.send("r", envelope(`m${i}`), 0, `producer:${i}`)
        expect(yield* cmd(raw, "ZSCORE", Keys.backlog(base), "r")).toBe("3")
        expect(yield* admin.purge("r")).toBe(3)
        expect(yield* cmd(raw, "ZSCORE", Keys.backlog(base), "r")).toBeNull()
        expect(yield* producer.roomState("r")).toMatchObject({ backlog: 0, inFlight: { id: "producer:1" } })
        expect(yield* ackNow(member, "r", "producer:1")).toMatchObject({ inFlight: null })
      }))

    it.effect("S30: eject publishes the notice, releases what the member held and ends a durable membership for good", () =>
      Effect.gen(function*() {
        const { admin, backend, base, producer, raw } = yield* standalone("ej")
        const durable = backend("edge-1")
        yield* durable.claim(2000)
        yield* durable.join("r", syncJoin)
        yield* durable.detach("r", 2000)
        const frames = yield* framesOf(producer, "r")
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* producer.send("r", envelope("m2"), 0, "producer:2")
        expect(yield* admin.eject("r", "nobody")).toBe(false)
        expect(yield* admin.eject("r", "edge-1")).toBe(true)
        expect(yield* admin.eject("r", "edge-1")).toBe(false)
        yield* eventually(
          Effect.sync(() => frames.map((f) => f.envelope)),
          (envelopes) => envelopes.some((e) => e.k === "e" && e.c === "edge-1" && e.why === "operator"),
          "the ejection notice"
        )
        expect(yield* cmd(raw, "ZSCORE", Keys.detached(base), "edge-1|r")).toBeNull()
        expect(yield* cmd(raw, "EXISTS", Keys.roomKey("detachedAt")(base, "r"))).toBe(0)
        // the room had no other member: m2 went to nobody (S7)
        expect(yield* producer.roomState("r")).toMatchObject({ members: [], backlog: 0, inFlight: null })
        // a later join of the id is fresh (S5): no in-flight message answered
        yield* producer.send("r", envelope("m3"), 0, "producer:3")
        const successor = backend("edge-1")
        yield* successor.claim(2000)
        expect((yield* successor.join("r", syncJoin)).inFlight).toBeNull()
      }))

    it.effect("the hot path: an ack makes no command more for S27-S30; a send into an idle room one HEXISTS (the pause)", () =>
      Effect.gen(function*() {
        const { backend, port } = yield* standaloneEngine("hot")
        const mon = yield* monitor(port)
        const [a, b, producer] = [backend("a"), backend("b"), backend("producer")]
        for (const m of [a, b]) yield* m.join("r", syncJoin)
        /** the commands the call of script `name` made in `effect` makes (MONITOR shows them after it) */
        const inScripts = <A, E>(effect: Effect.Effect<A, E>, name = "send") =>
          Effect.gen(function*() {
            const from = yield* mon.mark
            yield* effect
            const to = yield* mon.mark
            const entries = mon.withScripts(from, to)
            const call = entries.findIndex((e) => e.command === "evalsha" && scriptOfSha(e.args[1] ?? "") === name)
            const after = entries.slice(call + 1)
            const end = after.findIndex((e) => e.source !== "lua")
            return after.slice(0, end < 0 ? after.length : end).map((e) => e.command)
          })
        // warm-up: every script registered
        yield* producer.send("r", envelope("m0"), 0, "producer:0")
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* ackNow(a, "r", "producer:0")
        yield* ackNow(b, "r", "producer:0")
        const released = ["incr", "publish", "sunionstore", "hset", "zadd"]
        // in flight: m1; the room busy
        expect(yield* inScripts(producer.send("r", envelope("m2"), 0, "producer:2"))).toEqual([
          "hlen",
          "scard",
          "hincrby",
          "zadd",
          "hset",
          "zincrby"
        ])
        expect(yield* inScripts(ackNow(a, "r", "producer:1"), "ack")).toEqual(["hmget", "smove", "scard"])
        // the last ack releases m2: the records go with the acked set, the flag came with the HMGET
        expect(yield* inScripts(ackNow(b, "r", "producer:1"), "ack")).toEqual([
          "hmget",
          "smove",
          "scard",
          "time",
          "del",
          "zpopmin",
          "hget",
          "hdel",
          "zincrby",
          "zrem",
          ...released
        ])
        yield* ackNow(a, "r", "producer:2")
        yield* ackNow(b, "r", "producer:2")
        // into the idle room: released at once, after reading the flag
        expect(yield* inScripts(producer.send("r", envelope("m3"), 0, "producer:3"))).toEqual([
          "hlen",
          "scard",
          "zcard",
          "hexists",
          "time",
          ...released,
          "hget"
        ])
      }))

    it.effect("S21: an operator whose id was claimed again changes nothing", () =>
      Effect.gen(function*() {
        const { backend, producer } = yield* standalone("fenced")
        const member = backend("edge-1")
        yield* member.join("r", syncJoin)
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* producer.send("r", envelope("m2"), 0, "producer:2")
        yield* rejected(member, "r", "producer:1")
        const older = backend("ops")
        yield* older.claim(2000)
        yield* backend("ops").claim(2000)
        const before = yield* producer.roomState("r")
        const refused: ReadonlyArray<Effect.Effect<unknown, Backend.BackendError>> = [
          older.eject("r", "edge-1"),
          older.pause("r", true),
          older.skip("r", policy),
          older.purge("r"),
          older.redrive("r", "producer:1", "ops:1", { producer: "ops", sequence: 1, sentAt: 1 }),
          older.dropDeadLetters("r"),
          older.reject("r", "producer:2", 1, "rejected", policy)
        ]
        for (const action of refused) {
          expect(yield* Effect.flip(action)).toBeInstanceOf(QueueError.ClientSuperseded)
        }
        expect(yield* producer.roomState("r")).toEqual({ ...before, inFlight: expect.anything() })
        expect((yield* producer.roomState("r")).inFlight?.id).toBe("producer:2")
        expect((yield* producer.deadLetters("r", null, 10)).letters).toHaveLength(1)
      }))
  })

  layer(RedisTestCluster.layer({ masters: 3 }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.effect("cluster: every action routes with the room's shard; nothing of the room is left after it empties and its letters go (S17, S18)", () =>
      Effect.gen(function*() {
        const { backend, base, nodes, prefix, sharding } = yield* clusterEngine("cl")
        const room = "room-7"
        const shard = sharding.shardOf(room)
        expect(shard).not.toBe(0)
        const B = base(shard)
        const allKeys = Effect.map(
          Effect.forEach(nodes.values(), (node: Redis) => scanKeys(node, prefix)),
          (keys) => keys.flat()
        )
        const [producer, admin] = [backend("producer"), backend("admin")]
        const member = backend("edge-1")
        yield* member.claim(2000)
        yield* member.join(room, syncJoin)
        for (let i = 1; i <= 4; i++) yield* producer.send(room, envelope(`m${i}`), 0, `producer:${i}`)
        yield* rejected(member, room, "producer:1")
        expect(yield* admin.skip(room, policy)).toBe("producer:2")
        expect(yield* admin.pause(room, true)).toBe(true)
        expect(yield* admin.redrive(room, "producer:1", "admin:1", { producer: "admin", sequence: 1, sentAt: 5 }))
          .toBe(true)
        expect(yield* producer.peek(room, 0, 10)).toEqual([
          envelope("m4"),
          Result.getOrThrow(Envelope.redriven(envelope("m1"), { producer: "admin", sequence: 1, sentAt: 5 }))
        ])
        expect(yield* admin.purge(room)).toBe(2)
        yield* member.detach(room, 2000)
        // every key of the room is on the room's slot
        const ofRoom = keysOf(yield* allKeys, B, room)
        expect(ofRoom).toContain(Keys.letters(B, room))
        expect(ofRoom).toContain(Keys.roomKey("detachedAt")(B, room))
        expect(new Set(ofRoom.map((key) => slotOf(key.slice(key.indexOf("{") + 1, key.indexOf("}")))))).toEqual(
          new Set([slotOf(sharding.tagOf(shard))])
        )
        expect((yield* admin.deadLetters(room, null, 10)).letters.map((l) => l.reason)).toEqual(["skipped"])
        expect(yield* admin.eject(room, "edge-1")).toBe(true)
        expect(yield* admin.pause(room, false)).toBe(true)
        expect(yield* admin.dropDeadLetters(room)).toBe(1)
        expect(keysOf(yield* allKeys, B, room)).toEqual([])
      }))
  })
})

/**
 * Hostile input that is not covered elsewhere:
 *
 * - garbage PUBLISHED on a room channel: `ClientLayer.test.ts` "S16: garbage published on a room
 *   channel is counted as invalid, the stream goes on" and "S16: a flood of distinct garbage
 *   neither floods the log nor is retained" (a fuzzed variant is below);
 * - `Envelope.decodeFrame` / `decode` on arbitrary strings and JSON: `packages/core/test/Envelope.test.ts`
 *   "decodeFrame never throws on arbitrary strings" and "decode never throws on arbitrary JSON"
 *   (envelope-shaped mutations are below);
 * - odd room names on one prefix: the shared suite's "S1: 256 code units, emoji, braces, colons,
 *   bars and spaces are valid and isolated rooms" (across prefixes below).
 *
 * Here: garbage WRITTEN INTO a room's keys (queue zset, payload hash, in-flight envelope), odd
 * room names across two prefixes, and fuzzed envelope-shaped frames.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { describe, expect, it, layer } from "@effect/vitest"
import { Envelope, MemoryLayer, SyncFanoutQueue, TypedQueue } from "@lockstep/core"
import * as A from "@lockstep/engine-suite/arbitrary"
import { RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import { Arbitrary, Deferred, Effect, Exit, Layer, Option, Result, Schema, Stream } from "effect"
import {
  cmd,
  connect,
  eventually,
  freshPrefix,
  makeClient,
  rawRedis,
  scanKeys,
  subscribe
} from "../utils/redisProbe.js"
import { is, spawnWorker } from "./utils/workers.js"

const quiet = { clientTimeout: "60 seconds" } as const

/**
 * A JSON object with an own, non-callable `toString`: Effect Schema's union lookup calls
 * `String()` on the discriminator (`k`) and throws a TypeError. Before `Envelope.decode` caught
 * it, one PUBLISH of this frame threw out of the ioredis "message" handler: an uncaught exception
 * that killed every subscriber process of the room.
 */
const poisonFrames = [
  "9|{\"k\":{\"toString\":0}}",
  "9|{\"k\":{\"toString\":0,\"valueOf\":0}}",
  "9|{\"k\":\"e\",\"why\":{\"toString\":0}}"
]
const base = (prefix: string) => `${prefix}:{0}:`

// fast-check's generators the frames were built with, over `effect/Arbitrary` (Effect 4 has no fast-check)

/** one of the arbitraries, equally often */
const either = <X>(...arbitraries: ReadonlyArray<Arbitrary.Arbitrary<X>>): Arbitrary.Arbitrary<X> =>
  A.oneof(...arbitraries.map((arbitrary) => ({ weight: 1, arbitrary })))

/**
 * `fc.anything`: JSON values, the values JSON.stringify turns into null or leaves out, and objects
 * with own keys that shadow Object.prototype's (as the poison frames above)
 */
const anything: Arbitrary.Arbitrary<unknown> = A.oneof<unknown>(
  { weight: 4, arbitrary: A.jsonValue },
  { weight: 1, arbitrary: A.constantFrom(undefined, null, NaN, Infinity, -Infinity, -0, true, false, "") },
  {
    weight: 1,
    arbitrary: Arbitrary.map(
      Arbitrary.array(
        Arbitrary.all([
          A.constantFrom("toString", "valueOf", "constructor", "__proto__", "hasOwnProperty", "k"),
          A.jsonValue
        ])
      ),
      (entries) => Object.fromEntries(entries)
    )
  }
)

/** a field of `fc.record(…, { requiredKeys: [] })`: left out half of the time */
const optional = <X>(arbitrary: Arbitrary.Arbitrary<X>): Arbitrary.Arbitrary<X | undefined> =>
  either<X | undefined>(Arbitrary.Constant(undefined), arbitrary)

const hexa12 = Arbitrary.map(
  Arbitrary.array(A.constantFrom(..."0123456789abcdef"), { minLength: 12, maxLength: 12 }),
  (chars) => chars.join("")
)
const double = Arbitrary.schema(Schema.Number)
const int32 = A.integer({ min: -0x80000000, max: 0x7fffffff })

/** a frame that may look like an envelope: every field optional, any type */
const envelopeLike = Arbitrary.map(
  Arbitrary.all({
    k: optional(either<unknown>(A.constantFrom("q", "o", "e", "Q", ""), anything)),
    p: optional(either<unknown>(hexa12, anything)),
    s: optional(either<unknown>(A.nat(), double, anything)),
    pr: optional(either<unknown>(int32, double, anything)),
    t: optional(either<unknown>(A.nat(), A.string, anything)),
    d: optional(A.jsonValue),
    c: optional(anything),
    why: optional(
      either<unknown>(A.constantFrom("keepalive-timeout", "ack-timeout", "slow-consumer", "bored"), anything)
    )
  }),
  (fields) => Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))
)

const frameLike = Arbitrary.map(
  Arbitrary.all([
    either(
      Arbitrary.map(A.nat(), String),
      A.constantFrom("-1", "1.5", "", "1e3", "0x10", "99999999999999999999"),
      A.string
    ),
    Arbitrary.map(envelopeLike, (e) => JSON.stringify(e)),
    // fc.option: nothing one time in five
    A.oneof<number | undefined>({ weight: 1, arbitrary: Arbitrary.Constant(undefined) }, {
      weight: 4,
      arbitrary: A.nat()
    })
  ]),
  ([event, json, cut]) => {
    const frame = `${event}|${json}`
    return cut === undefined ? frame : frame.slice(0, cut % (frame.length + 1))
  }
)

describe("faults: hostile input", () => {
  it.prop("Envelope.decodeFrame never throws on envelope-shaped garbage", [frameLike], ([frame]) => {
    const result = Envelope.decodeFrame(frame)
    expect(Result.isFailure(result) || Result.isSuccess(result)).toBe(true)
    if (Result.isFailure(result)) expect(typeof result.failure).toBe("string")
  }, { arbitrary: { runs: 2000 } })

  it("Envelope.decodeFrame turns discriminators with an own toString into a Failure", () => {
    for (const frame of poisonFrames) expect(Result.isFailure(Envelope.decodeFrame(frame)), frame).toBe(true)
  })

  // data such as { _tag: { toString: 0 } } (valid JSON any producer can send) makes a
  // discriminated-union schema throw; TypedQueue counts it invalid and skips it (S16)
  // (live: the timeout below is real)
  it.live("S16: data that makes the schema throw is counted invalid and skipped", () =>
    Effect.gen(function*() {
      const queue = yield* SyncFanoutQueue.SyncFanoutQueue
      const Shape = Schema.Union([Schema.TaggedStruct("A", { n: Schema.Number }), Schema.TaggedStruct("B", {})])
      const typed = yield* TypedQueue.make(Shape)
      const stream = yield* typed.subscribe("room", { mode: "async" })
      yield* queue.send("room", { _tag: { toString: 0 } })
      yield* typed.send("room", { _tag: "A", n: 1 })
      const first = yield* stream.pipe(Stream.take(1), Stream.runCollect, Effect.timeout("2 seconds"))
      expect([...first].map((d) => d.data)).toEqual([{ _tag: "A", n: 1 }])
      expect((yield* queue.metrics()).invalid).toBe(1)
    }).pipe(Effect.provide(MemoryLayer.layer({ keyPrefix: "typed-poison" }))))

  layer(Layer.merge(RedisTestServer.layer(), NodeServices.layer), { excludeTestServices: true })((it) => {
    it.effect(
      "a subscriber PROCESS survives poison frames on its room channel and goes on delivering",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisTestServer.RedisTestServer
          const raw = yield* rawRedis(server.port)
          const prefix = freshPrefix("poison")
          const worker = yield* spawnWorker({
            name: "poisoned",
            redisUrl: server.url,
            keyPrefix: prefix,
            rooms: ["room"],
            clientTimeout: "10 seconds"
          })
          yield* worker.waitFor(is("ready"), "60 seconds")
          const p = yield* makeClient(yield* connect(server.port, "poison-p"), { keyPrefix: prefix, ...quiet })
          for (const frame of [...poisonFrames, "garbage", "1|{}"]) {
            yield* cmd(raw, "PUBLISH", `${base(prefix)}c:room`, frame)
          }
          const m1 = yield* p.send("room", "after the poison")
          const d = yield* worker.waitFor(is("delivery", (e) => e.id === m1), "10 seconds")
          expect(d.data).toBe("after the poison")
          const m2 = yield* p.send("room", "and the next")
          yield* worker.waitFor(is("delivery", (e) => e.id === m2), "10 seconds")
          expect(worker.stderr()).not.toContain("TypeError")
        }),
      60_000
    )

    it.effect(
      "junk in the queue zset and a payload without an id are skipped by the release; peek counts them invalid; " +
        "the room moves on at the next ack and leaves no key",
      () =>
        Effect.gen(function*() {
          const { port } = yield* RedisTestServer.RedisTestServer
          const raw = yield* rawRedis(port)
          const prefix = freshPrefix("junk")
          const B = base(prefix)
          const ctx = yield* connect(port, "junk")
          const a = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet })
          const p = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet })
          const s = yield* subscribe(a, "room")
          const m1 = yield* p.send("room", "m1")
          const m2 = yield* p.send("room", "m2")
          const m3 = yield* p.send("room", "m3")
          const d1 = yield* s.next()
          expect(d1.id).toBe(m1)

          // ahead of m2: a member without payload, a payload without "<id>|", a member of the
          // payload hash that is not queued
          yield* cmd(raw, "ZADD", `${B}q:room`, -10, "junk-without-payload")
          yield* cmd(raw, "ZADD", `${B}q:room`, -9, "junk-without-id")
          yield* cmd(raw, "HSET", `${B}p:room`, "junk-without-id", "no id and no envelope")
          yield* cmd(raw, "HSET", `${B}p:room`, "not-queued", "x|y")

          // peek shows the real messages; the payload without an id is counted invalid
          expect((yield* p.peek("room")).map((m) => m.id)).toEqual([m2, m3])
          expect((yield* p.metrics()).invalid).toBe(1)

          // the ack's release pops the junk and hands out m2; nothing fails
          yield* d1.ack
          const d2 = yield* s.next()
          expect(d2.id).toBe(m2)
          yield* d2.ack
          const d3 = yield* s.next()
          expect(d3.id).toBe(m3)
          yield* d3.ack
          expect(yield* p.roomState("room")).toMatchObject({ backlog: 0, inFlight: Option.none() })
          expect(yield* Deferred.isDone(s.done)).toBe(false)

          // the last leave removes the room's keys, the stray payload hash entry included (S18)
          yield* s.close
          const left = yield* scanKeys(raw, prefix)
          expect(left.filter((k) => k.includes(":room"))).toEqual([])
        })
    )

    it.effect(
      "S16: a non-envelope payload with an id is released, counted invalid and acked by every member, so the " +
        "room moves on by itself",
      () =>
        Effect.gen(function*() {
          const { port } = yield* RedisTestServer.RedisTestServer
          const raw = yield* rawRedis(port)
          const prefix = freshPrefix("bogus")
          const B = base(prefix)
          const ctx = yield* connect(port, "bogus")
          const a = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet })
          const b = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet })
          const p = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet })
          const sa = yield* subscribe(a, "room")
          const sb = yield* subscribe(b, "room")
          const m1 = yield* p.send("room", "m1")
          yield* p.send("room", "m2")
          const m3 = yield* p.send("room", "m3")
          const [a1, b1] = [yield* sa.next(), yield* sb.next()]
          expect([a1.id, b1.id]).toEqual([m1, m1])
          const [m2Member] = (yield* cmd(raw, "ZRANGE", `${B}q:room`, 0, 0)) as Array<string>
          yield* cmd(raw, "HSET", `${B}p:room`, m2Member!, "bogus-id|{\"k\":\"q\",\"d\":")

          yield* a1.ack
          yield* b1.ack
          // both members count the bogus message invalid, ack it (they hold it), and m3 follows
          const [a3, b3] = [yield* sa.next(), yield* sb.next()]
          expect([a3.id, b3.id]).toEqual([m3, m3])
          const [ma, mb] = yield* Effect.all([a.metrics(), b.metrics()]).pipe(Effect.orDie)
          expect([ma.invalid, mb.invalid]).toEqual([1, 1])
          expect([ma.received, mb.received]).toEqual([2, 2]) // m1 and m3
          expect(yield* Deferred.isDone(sa.done)).toBe(false)
          expect(yield* Deferred.isDone(sb.done)).toBe(false)
        })
    )

    it.effect(
      "garbage in the in-flight envelope (fenv) is counted invalid when a resync reads it, and acked (S16): the room moves on, the stream goes on",
      () =>
        Effect.gen(function*() {
          const { port } = yield* RedisTestServer.RedisTestServer
          const raw = yield* rawRedis(port)
          const prefix = freshPrefix("fenv")
          const B = base(prefix)
          const proxy = yield* TcpProxy.make({ targetPort: port })
          yield* Effect.addFinalizer(() => proxy.restore)
          const config = { keyPrefix: prefix, clientTimeout: "10 seconds" } as const
          const a = yield* makeClient(yield* connect(proxy.port, "fenv-a"), config)
          const b = yield* makeClient(yield* connect(port, "fenv-b"), config)
          const sa = yield* subscribe(a, "room")
          const sb = yield* subscribe(b, "room")

          // a misses m1 during a cut, and m1's stored envelope is overwritten before it is back
          yield* proxy.cut
          const m1 = yield* b.send("room", "m1")
          const m2 = yield* b.send("room", "m2")
          const b1 = yield* sb.next()
          expect(b1.id).toBe(m1)
          yield* b1.ack
          yield* cmd(raw, "HSET", `${B}m:room`, "fenv", "{garbage")
          yield* proxy.restore

          // S12 resync hands a the stored envelope: undecodable, counted, not delivered, and acked
          // as every undecodable message a sync member holds (S16), so the room moves on by itself
          yield* eventually(
            // metrics fail fast while a's command connection is still reconnecting
            a.metrics().pipe(Effect.map((m) => m.invalid), Effect.orElseSucceed(() => -1)),
            (invalid) => invalid === 1,
            "a's resync to count the garbage",
            "8 seconds"
          )
          const [a2, b2] = [yield* sa.next(), yield* sb.next()]
          expect([a2.id, b2.id]).toEqual([m2, m2])
          expect(yield* Deferred.isDone(sa.done)).toBe(false)
          expect(yield* b.roomState("room")).toMatchObject({
            members: [a.clientId, b.clientId].sort(),
            inFlight: Option.some({ id: m2 })
          })
        }),
      30_000
    )

    it.effect("odd room names stay isolated across two prefixes on one server (S1, S19)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const px = freshPrefix("odd")
        const prefixes = [px, `${px}:x`, `${px}x`] as const
        const rooms = [
          "{0}",
          "{x}",
          "}{",
          "a:b",
          ":",
          "c:room",
          "{0}:m:a",
          "a b",
          " ",
          "🎉".repeat(128),
          "x".repeat(256),
          "ключ",
          "a|b"
        ]
        const ctx = yield* connect(port, "odd")
        const clients = yield* Effect.forEach(prefixes, (keyPrefix) => makeClient(ctx, { keyPrefix, ...quiet }))
        const subs = yield* Effect.forEach(clients, (c) => Effect.forEach(rooms, (room) => subscribe(c, room)))
        for (let i = 0; i < prefixes.length; i++) {
          for (const room of rooms) yield* clients[i]!.send(room, { prefix: prefixes[i], room })
        }
        for (let i = 0; i < prefixes.length; i++) {
          for (let r = 0; r < rooms.length; r++) {
            const d = yield* subs[i]![r]!.next()
            expect(d.room).toBe(rooms[r])
            expect(d.data).toEqual({ prefix: prefixes[i], room: rooms[r] })
          }
        }
        for (let i = 0; i < prefixes.length; i++) {
          for (let r = 0; r < rooms.length; r++) {
            expect((yield* clients[i]!.roomState(rooms[r]!)).members).toEqual([clients[i]!.clientId])
          }
        }
        // nothing crossed over (frames arrive in publish order: a leak would be here by now)
        for (const boxes of subs) {
          for (const box of boxes) expect(Exit.isFailure(yield* Effect.exit(box.next("20 millis")))).toBe(true)
        }
      }))

    it.effect("fuzzed envelope-shaped frames published on a room channel are counted invalid, the stream goes on", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const prefix = freshPrefix("fuzz")
        const ctx = yield* connect(port, "fuzz")
        const sub = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet })
        const p = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet })
        const s = yield* subscribe(sub, "room")
        // frames that decode are left out: they would be (correctly) delivered or dropped as old
        const frames = (yield* Arbitrary.sampleEffect(frameLike, { count: 500, seed: 42 }).pipe(Effect.orDie))
          .filter((f) => Result.isFailure(Envelope.decodeFrame(f)))
        expect(frames.length).toBeGreaterThan(400)
        for (const frame of frames) yield* cmd(raw, "PUBLISH", `${base(prefix)}c:room`, frame)
        const m = yield* p.send("room", "real")
        const d = yield* s.next()
        expect(d.id).toBe(m)
        expect((yield* sub.metrics()).invalid).toBe(frames.length)
        yield* d.ack
        expect(yield* Deferred.isDone(s.done)).toBe(false)
      }))
  })
})

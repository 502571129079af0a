/**
 * `lockstep` as a user runs it: a child process (`utils/lockstep.ts`) against a `redis-server`
 * spawned by `@lockstep/redis/testing`, over rooms that clients of this test set up (each test on
 * a key prefix of its own). Every run must exit by itself (S20: the command's client leaves
 * nothing behind). Few runs, some side by side: each costs a Node start.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, expect, layer } from "@effect/vitest"
import { type Delivery, QueueError, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestServer } from "@lockstep/redis/testing"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { lines, lockstep, type Run } from "./utils/lockstep.js"

let prefixes = 0
const freshPrefix = () => `cli-test-${process.pid}-${++prefixes}`

/** A durable client of the test (its id names it in the CLI's output). */
const client = (url: string, keyPrefix: string, clientId: string) =>
  Effect.map(
    Layer.build(ClientLayer.standalone(url, { keyPrefix, clientId })),
    (context) => Context.get(context, SyncFanoutQueue.SyncFanoutQueue)
  )

/** The first delivery of a subscription, within 10 s. */
const first = (stream: Stream.Stream<Delivery.Delivery, QueueError.ClientEjected>) =>
  Stream.runHead(stream).pipe(
    Effect.flatMap(Effect.fromOption),
    Effect.timeout("10 seconds"),
    Effect.orDie
  )

/** Poll `check` until it holds (every 20 ms, at most 10 s). */
const eventually = <A, E>(effect: Effect.Effect<A, E>, check: (a: A) => boolean) =>
  effect.pipe(
    Effect.filterOrFail(check, () => new Error("not yet")),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo({ duration: "10 seconds" }))),
    Effect.orDie
  )

/**
 * Room `orders` waiting on `edge-b`: sync members `edge-a` and `edge-b`; `m1` released and acked
 * by `edge-a` only; `{ n: 2 }` (priority 5) and `{ n: 3 }` (priority 0) queued behind it.
 */
const heldRoom = (url: string, keyPrefix: string) =>
  Effect.gen(function*() {
    const a = yield* client(url, keyPrefix, "edge-a")
    const b = yield* client(url, keyPrefix, "edge-b")
    const streamA = yield* a.subscribe("orders")
    const streamB = yield* b.subscribe("orders")
    const m1 = yield* a.send("orders", { n: 1 })
    const m2 = yield* a.send("orders", { n: 2 }, { priority: 5 })
    const m3 = yield* a.send("orders", { n: 3 }, { priority: 0 })
    const deliveryA = yield* first(streamA)
    const deliveryB = yield* first(streamB)
    assert.strictEqual(deliveryA.id, m1)
    yield* deliveryA.ack
    // an ack does not wait for the server: wait until the room shows it
    yield* eventually(a.roomState("orders"), (s) => s.acked.includes("edge-a"))
    return { a, b, streamB, deliveryB, m1, m2, m3 }
  })

const ok = (run: Run) => {
  assert.strictEqual(run.stderr, "", `no stderr; exit ${run.code}`)
  assert.strictEqual(run.code, 0)
  return run
}

const json = (run: Run): unknown => JSON.parse(ok(run).stdout)

/** One failure line on stderr, nothing on stdout. */
const failed = (run: Run, code: number) => {
  expect(run.stdout).toBe("")
  expect(run.stderr.replace(/\n$/, "").split("\n")).toHaveLength(1)
  expect(run.code).toBe(code)
  return run.stderr.trim()
}

layer(Layer.merge(RedisTestServer.layer(), NodeServices.layer), { excludeTestServices: true, timeout: 120_000 })(
  "lockstep, run as a process",
  (it) => {
    const env = (url: string, prefix: string) => ({ LOCKSTEP_REDIS_URL: url, LOCKSTEP_KEY_PREFIX: prefix })

    it.effect(
      "S14 S13 S26: rooms, state, peek and stalled as tables and as JSON; S20: each run exits by itself, and an application's LOCKSTEP_CLIENT_ID is never claimed",
      () =>
        Effect.gen(function*() {
          const { url } = yield* RedisTestServer.RedisTestServer
          const prefix = freshPrefix()
          const { b, m1, m2, m3 } = yield* heldRoom(url, prefix)
          const base = env(url, prefix)
          const [rooms, roomsJson, state, stateJson, peek, peekJson, stalled, stalledJson] = yield* Effect.all([
            lockstep(["rooms"], base),
            lockstep(["rooms", "--json"], base),
            // the application's durable id in the environment: a client that claimed it would fence edge-b (S21)
            lockstep(["state", "orders"], { ...base, LOCKSTEP_CLIENT_ID: "edge-b" }),
            lockstep(["--json", "state", "orders"], base),
            lockstep(["peek", "orders"], base),
            lockstep(["peek", "orders", "--json"], base),
            lockstep(["stalled"], base),
            lockstep(["stalled", "--json"], base)
          ], { concurrency: 4 })

          expect(lines(ok(rooms))[0]).toMatch(/^ROOM {4}BACKLOG {2}MEMBERS {2}ACKED {2}IN FLIGHT +AGE {2}PAUSED$/)
          expect(lines(rooms)[1]).toMatch(new RegExp(`^orders {8}2 {8}2 {6}1  ${m1} +\\d[\\w. ]*$`))
          expect(lines(rooms)).toHaveLength(2)

          const inFlight = { id: m1, releasedAt: expect.stringMatching(/Z$/), ageMs: expect.any(Number) }
          const ordersJson = {
            room: "orders",
            backlog: 2,
            paused: false,
            members: [{ id: "edge-a", acked: true }, { id: "edge-b", acked: false }],
            inFlight
          }
          expect(json(roomsJson)).toEqual({ rooms: [ordersJson], cursor: null })

          expect(lines(ok(state))).toEqual([
            "ROOM       orders",
            "paused     no",
            "backlog    2 queued messages",
            expect.stringMatching(new RegExp(`^in flight  ${m1}, released \\S+Z \\(.+ ago\\)$`)),
            "members    2 sync, 1 acked",
            "",
            "MEMBER  ACKED",
            "edge-a  yes",
            "edge-b  no (holds the room)"
          ])
          expect(json(stateJson)).toEqual(ordersJson)
          // not fenced: a claim of edge-b by the command would make this fail with ClientSuperseded
          yield* b.memberships

          expect(lines(ok(peek))).toEqual([
            expect.stringMatching(/^ID +PRIORITY {2}PRODUCER {2}SENT AT +DATA$/),
            expect.stringMatching(new RegExp(`^${m3} +0  edge-a +\\S+Z  \\{"n":3\\}$`)),
            expect.stringMatching(new RegExp(`^${m2} +5  edge-a +\\S+Z  \\{"n":2\\}$`))
          ])
          expect(json(peekJson)).toEqual({
            room: "orders",
            offset: 0,
            messages: [m3, m2].map((id, i) => ({
              id,
              priority: i === 0 ? 0 : 5,
              producer: "edge-a",
              sequence: expect.any(Number),
              sentAt: expect.stringMatching(/Z$/),
              data: { n: i === 0 ? 3 : 2 }
            }))
          })

          expect(lines(ok(stalled))).toEqual([
            expect.stringMatching(/^ROOM +IN FLIGHT +AGE {2}WAITING FOR$/),
            expect.stringMatching(new RegExp(`^orders  ${m1} +\\S+  edge-b$`))
          ])
          expect(json(stalledJson)).toEqual({
            stalled: [{
              room: "orders",
              inFlight: m1,
              releasedAt: expect.stringMatching(/Z$/),
              ageMs: expect.any(Number),
              waitingFor: ["edge-b"]
            }]
          })
        }).pipe(Effect.scoped)
    )

    it.effect("S30: pause holds the room (state shows it, the last ack releases nothing), resume releases the next", () =>
      Effect.gen(function*() {
        const { url } = yield* RedisTestServer.RedisTestServer
        const prefix = freshPrefix()
        const { a, deliveryB, m3 } = yield* heldRoom(url, prefix)
        const base = env(url, prefix)

        expect(ok(yield* lockstep(["pause", "orders"], base)).stdout).toBe("paused room orders\n")
        yield* deliveryB.ack
        const paused = yield* eventually(
          a.roomState("orders"),
          (s) => s.acked.length === 2 || Option.isNone(s.inFlight)
        )
        expect(Option.isNone(paused.inFlight)).toBe(true)
        expect(json(yield* lockstep(["state", "orders", "--json"], base))).toMatchObject({
          paused: true,
          backlog: 2,
          inFlight: null
        })
        expect(json(yield* lockstep(["resume", "orders", "--json"], base))).toEqual({
          room: "orders",
          paused: false,
          changed: true
        })
        const resumed = yield* eventually(a.roomState("orders"), (s) => Option.isSome(s.inFlight))
        expect(Option.map(resumed.inFlight, (f) => f.id)).toEqual(Option.some(m3))
      }).pipe(Effect.scoped))

    it.effect("S30: eject ends a member (its stream fails: operator); a client that is no member is nothing to do", () =>
      Effect.gen(function*() {
        const { url } = yield* RedisTestServer.RedisTestServer
        const prefix = freshPrefix()
        const { a, streamB } = yield* heldRoom(url, prefix)
        const base = env(url, prefix)

        expect(ok(yield* lockstep(["eject", "orders", "edge-b"], base)).stdout).toBe(
          "ejected edge-b from room orders\n"
        )
        const ended = yield* Stream.runDrain(streamB).pipe(Effect.flip, Effect.timeout("10 seconds"), Effect.orDie)
        expect(ended).toMatchObject({ _tag: "ClientEjected", clientId: "edge-b", reason: "operator" })
        expect((yield* a.roomState("orders")).members).toEqual(["edge-a"])
        expect(json(yield* lockstep(["eject", "orders", "nobody", "--json"], base))).toEqual({
          room: "orders",
          clientId: "nobody",
          ejected: false
        })
      }).pipe(Effect.scoped))

    it.effect(
      "S29 S30: skip dead-letters the in-flight message for its holder, dead-letters lists it, redrive queues a copy and removes it; purge drops the backlog and counts it",
      () =>
        Effect.gen(function*() {
          const { url } = yield* RedisTestServer.RedisTestServer
          const prefix = freshPrefix()
          const { a, m1, m3 } = yield* heldRoom(url, prefix)
          const base = env(url, prefix)

          expect(json(yield* lockstep(["skip", "orders", "--json"], base))).toEqual({ room: "orders", skipped: m1 })
          const letters = json(yield* lockstep(["dead-letters", "orders", "--json"], base))
          expect(letters).toEqual({
            room: "orders",
            letters: [{
              message: {
                id: m1,
                priority: 0,
                producer: "edge-a",
                sequence: expect.any(Number),
                sentAt: expect.stringMatching(/Z$/),
                data: { n: 1 }
              },
              member: "edge-b",
              attempts: 1,
              at: expect.stringMatching(/Z$/),
              reason: "skipped"
            }],
            cursor: null
          })
          // the room moved on to the next message
          const next = yield* eventually(a.roomState("orders"), (s) => Option.isSome(s.inFlight))
          expect(Option.map(next.inFlight, (f) => f.id)).toEqual(Option.some(m3))

          const redriven = json(yield* lockstep(["redrive", "orders", m1, "--json"], base))
          expect(redriven).toEqual({ room: "orders", id: m1, redriven: expect.any(String) })
          const copy = (redriven as { readonly redriven: string }).redriven
          expect(copy).not.toBe(m1)
          const queued = yield* a.peek("orders")
          expect(queued.find((m) => m.id === copy)?.data).toEqual({ n: 1 })
          expect(ok(yield* lockstep(["dead-letters", "orders"], base)).stdout).toBe("no dead letters in room orders\n")

          expect(json(yield* lockstep(["purge", "orders", "--json"], base))).toEqual({
            room: "orders",
            purged: queued.length
          })
          expect(yield* a.peek("orders")).toEqual([])
        }).pipe(Effect.scoped)
    )

    it.effect("S17: --shards (or LOCKSTEP_SHARDS) reads an application on ShardLayer.layer({ shards })", () =>
      Effect.gen(function*() {
        const { url } = yield* RedisTestServer.RedisTestServer
        const prefix = freshPrefix()
        const context = yield* Layer.build(
          ClientLayer.layer({ keyPrefix: prefix }).pipe(
            Layer.provide(ShardLayer.layer({ shards: 4 })),
            Layer.provide(RedisLayer.layer(url))
          )
        )
        const app = Context.get(context, SyncFanoutQueue.SyncFanoutQueue)
        // a member in each room holds its first message: the rooms are active (S26)
        for (const room of ["r1", "r2", "r3", "r4", "r5"]) {
          yield* app.subscribe(room)
          yield* app.send(room, "held")
        }
        const [byFlag, byEnv] = yield* Effect.all([
          lockstep(["rooms", "--shards", "4", "--json"], env(url, prefix)),
          lockstep(["rooms", "--json"], { ...env(url, prefix), LOCKSTEP_SHARDS: "4" })
        ], { concurrency: 2 })
        for (const run of [byFlag, byEnv]) {
          const { rooms } = json(run) as { readonly rooms: ReadonlyArray<{ readonly room: string }> }
          expect(rooms.map((r) => r.room)).toEqual(["r1", "r2", "r3", "r4", "r5"])
        }
      }).pipe(Effect.scoped))

    it.effect("a bad room name or a missing prefix: one line on stderr, exit 2; Redis out of reach: one line, exit 1, at once", () =>
      Effect.gen(function*() {
        const { url } = yield* RedisTestServer.RedisTestServer
        const prefix = freshPrefix()
        const [badRoom, noPrefix, unreachable] = yield* Effect.all([
          lockstep(["state", ""], env(url, prefix)),
          lockstep(["rooms"], { LOCKSTEP_REDIS_URL: url }),
          lockstep(["rooms", "--url", "redis://127.0.0.1:1", "--prefix", prefix])
        ], { concurrency: 3 })
        expect(failed(badRoom, 2)).toBe("lockstep: invalid room \"\": a room must not be empty")
        expect(failed(noPrefix, 2)).toBe(
          "lockstep: the key prefix is missing: give --prefix or set LOCKSTEP_KEY_PREFIX"
        )
        expect(failed(unreachable, 1)).toMatch(/^lockstep: redis: connect failed: .*ECONNREFUSED/)
        // refused at once, not retried until the connect deadline (10 s): the whole run, Node's start
        // included, ends before that deadline would have
        expect(unreachable.ms).toBeLessThan(10_000)
      }))

    it.effect("--help lists every command; no Redis needed", () =>
      Effect.gen(function*() {
        const help = ok(yield* lockstep(["--help"], { LOCKSTEP_REDIS_URL: "redis://127.0.0.1:1" }))
        for (
          const command of [
            "rooms",
            "state",
            "peek",
            "stalled",
            "pause",
            "resume",
            "skip",
            "purge",
            "eject",
            "dead-letters",
            "redrive",
            "drop-dead-letters"
          ]
        ) {
          expect(help.stdout).toMatch(new RegExp(`^  ${command} `, "m"))
        }
        for (const flag of ["--url", "--cluster-nodes", "--shards", "--prefix", "--timeout", "--json"]) {
          expect(help.stdout).toContain(flag)
        }
      }))
  }
)

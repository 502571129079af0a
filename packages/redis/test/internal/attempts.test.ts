/**
 * Attempts (S27) and max deliveries (S28) on the Redis engine, at the backend level: what a
 * resumed join (S22) and a resync answer, the records in `attempts` and `detachedAt` and when they
 * go, the dead letter a resumed join writes past `maxDeliveries`, and that the joiner receives the
 * message it released.
 */
import { describe, expect, layer } from "@effect/vitest"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Effect } from "effect"
import * as Keys from "../../src/internal/keys.js"
import { ackNow, envelope, framesOf, standaloneEngine, syncJoin } from "../utils/backends.js"
import { cmd, eventually } from "../utils/redisProbe.js"

const policy = { limit: 100, retentionMs: 60_000 }

describe("attempts and max deliveries, backend level", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    const standalone = (label: string) =>
      Effect.map(standaloneEngine(label), ({ backend, base, raw }) => ({
        backend,
        base,
        raw,
        attemptsKey: Keys.roomKey("attempts")(base(0), "r"),
        producer: backend("producer")
      }))

    it.effect("S27: the successor of a process that died holding m counts attempt 2; a repeated join counts nothing, one after a hand-over one more", () =>
      Effect.gen(function*() {
        const { attemptsKey, backend, producer, raw } = yield* standalone("att")
        const first = backend("edge-1")
        yield* first.claim(2000)
        yield* first.join("r", syncJoin)
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* producer.send("r", envelope("m2"), 0, "producer:2")
        // the release is attempt 1, and a resync counts none
        expect(yield* first.resync("r")).toMatchObject({ id: "producer:1", attempt: 1 })
        expect(yield* first.resync("r")).toMatchObject({ id: "producer:1", attempt: 1 })

        const second = backend("edge-1")
        const { epoch } = yield* second.claim(2000)
        expect((yield* second.join("r", syncJoin)).inFlight).toEqual({
          id: "producer:1",
          envelope: envelope("m1"),
          attempt: 2
        })
        expect(yield* cmd(raw, "HGET", attemptsKey, "edge-1")).toBe(`producer:1|2|${epoch}`)
        // the answer never reached a consumer (handed is not m1): the same attempt
        expect((yield* second.join("r", syncJoin)).inFlight?.attempt).toBe(2)
        // the consumer got it, and the membership resumes again within the claim: one more
        expect((yield* second.join("r", { ...syncJoin, handed: "producer:1" })).inFlight?.attempt).toBe(3)
        expect(yield* second.resync("r")).toMatchObject({ id: "producer:1", attempt: 3 })
        // another claim: its epoch differs, so it counts whatever `handed` says
        const third = backend("edge-1")
        yield* third.claim(2000)
        expect((yield* third.join("r", syncJoin)).inFlight?.attempt).toBe(4)

        // the release of m2 drops the records of m1: m2 is attempt 1
        yield* ackNow(third, "r", "producer:1")
        expect(yield* cmd(raw, "EXISTS", attemptsKey)).toBe(0)
        expect(yield* third.resync("r")).toMatchObject({ id: "producer:2", attempt: 1 })
      }))

    it.effect("S24/S27: a message released while the membership was detached, or after its id was claimed, is attempt 1 for the successor", () =>
      Effect.gen(function*() {
        const { backend, base, producer, raw } = yield* standalone("det")
        const detachedAt = Keys.roomKey("detachedAt")(base(0), "r")
        const first = backend("edge-1")
        yield* first.claim(2000)
        yield* first.join("r", syncJoin)
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* ackNow(first, "r", "producer:1")

        // detached, then m2 released, then the successor claims and resumes
        yield* first.detach("r", 2000)
        expect(yield* cmd(raw, "HEXISTS", detachedAt, "edge-1")).toBe(1)
        yield* producer.send("r", envelope("m2"), 0, "producer:2")
        const second = backend("edge-1")
        yield* second.claim(2000)
        expect((yield* second.join("r", syncJoin)).inFlight).toMatchObject({ id: "producer:2", attempt: 1 })
        // resumed: the record of the detach is gone
        expect(yield* cmd(raw, "HEXISTS", detachedAt, "edge-1")).toBe(0)
        yield* ackNow(second, "r", "producer:2")

        // detached, the successor claims, then m3 released, then it resumes
        yield* second.detach("r", 2000)
        const third = backend("edge-1")
        yield* third.claim(2000)
        yield* producer.send("r", envelope("m3"), 0, "producer:3")
        expect((yield* third.join("r", syncJoin)).inFlight).toMatchObject({ id: "producer:3", attempt: 1 })
        // that process dies holding m3: its successor counts 2
        const fourth = backend("edge-1")
        yield* fourth.claim(2000)
        expect((yield* fourth.join("r", syncJoin)).inFlight).toMatchObject({ id: "producer:3", attempt: 2 })

        // leaving drops both records (S18)
        yield* fourth.detach("r", 2000)
        yield* fourth.leave("r")
        expect(yield* cmd(raw, "EXISTS", detachedAt)).toBe(0)
        expect(yield* cmd(raw, "EXISTS", Keys.meta(base(0), "r"))).toBe(0)
      }))

    it.effect("S28: past maxDeliveries a resumed join dead-letters m, counts it as the member's ack, and the joiner receives the next message after the event it answered", () =>
      Effect.gen(function*() {
        const { backend, producer } = yield* standalone("max")
        const first = backend("edge-1")
        yield* first.claim(2000)
        yield* first.join("r", syncJoin)
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* producer.send("r", envelope("m2"), 0, "producer:2")

        const second = backend("edge-1")
        yield* second.claim(2000)
        const frames = yield* framesOf(second, "r")
        const joined = yield* second.join("r", { ...syncJoin, maxDeliveries: 1, deadLetters: policy })
        expect(joined.inFlight).toBeNull()
        const [letter] = (yield* producer.deadLetters("r", null, 10)).letters
        expect(letter).toMatchObject({
          envelope: envelope("m1"),
          member: "edge-1",
          attempts: 1,
          reason: "max-deliveries"
        })
        // m2 was released by the join, to the joiner: a frame after the one it answered
        expect((yield* producer.roomState("r")).inFlight?.id).toBe("producer:2")
        const released = yield* eventually(
          Effect.sync(() => frames.find((f) => f.envelope.k === "q" && f.envelope.d === "m2")),
          (frame) => frame !== undefined,
          "the joiner receives m2"
        )
        expect(released!.event).toBeGreaterThan(joined.event)
        expect(yield* second.resync("r")).toMatchObject({ id: "producer:2", attempt: 1 })
      }))

    it.effect("S28/S30: in a paused room the dead letter of a resumed join releases nothing until resumed; with another holder the room waits for it", () =>
      Effect.gen(function*() {
        const { backend, producer } = yield* standalone("maxp")
        const peer = backend("peer")
        const first = backend("edge-1")
        yield* first.claim(2000)
        yield* first.join("r", syncJoin)
        yield* peer.join("r", syncJoin)
        yield* producer.send("r", envelope("m1"), 0, "producer:1")
        yield* producer.send("r", envelope("m2"), 0, "producer:2")
        const second = backend("edge-1")
        yield* second.claim(2000)
        expect((yield* second.join("r", { ...syncJoin, maxDeliveries: 1 })).inFlight).toBeNull()
        // the peer still holds m1; edge-1 counts as having acked it
        expect(yield* producer.roomState("r")).toMatchObject({ acked: ["edge-1"], inFlight: { id: "producer:1" } })
        expect(yield* producer.pause("r", true)).toBe(true)
        yield* ackNow(peer, "r", "producer:1")
        expect(yield* producer.roomState("r")).toMatchObject({ backlog: 1, inFlight: null, paused: true })
        expect(yield* producer.pause("r", false)).toBe(true)
        expect(yield* producer.roomState("r")).toMatchObject({
          backlog: 0,
          inFlight: { id: "producer:2" },
          paused: false
        })
      }))
  })
})

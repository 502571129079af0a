/**
 * The state machine of one subscription (`internal/subscription.ts`), without an engine: frames
 * go in as strings, deliveries come out of the group's buffer, and the host records what the
 * subscription asks of its client (ejections, acks of undecodable messages).
 */
import { describe, expect, it } from "@effect/vitest"
import { Envelope, type QueueError } from "@lockstep/core"
import { Context, Duration, Effect, Stream } from "effect"
import { ClientStats } from "../src/internal/clientStats.js"
import * as DeliveryStream from "../src/internal/deliveryStream.js"
import { Group, Subscription, type SubscriptionHost } from "../src/internal/subscription.js"

const me = "me0000000000"

const envelope = (s: number, kind: "q" | "o" = "q"): Envelope.MessageEnvelope => ({
  k: kind,
  p: "producer",
  s,
  pr: 0,
  t: 1000,
  d: `m${s}`
})
const frame = (event: number, body: Envelope.MessageEnvelope | string) =>
  `${event}|${typeof body === "string" ? body : JSON.stringify(body)}`

/** A host that records what its subscriptions ask of it. */
const recordingHost = (subscriberBuffer = 100) => {
  const ejected: Array<{ readonly room: string; readonly reason: QueueError.EjectReason; readonly leave: boolean }> = []
  const undecodable: Array<string> = []
  const acked: Array<string> = []
  const rejected: Array<string> = []
  // an empty context: the metrics go to the default registry; logs are dropped
  const stats = new ClientStats(me, Context.empty(), () => {})
  const host: SubscriptionHost = {
    clientId: me,
    subscriberBuffer,
    now: () => 1500,
    stats,
    ackFor: (sub, id) => Effect.sync(() => acked.push(`${sub.room}/${id}`)),
    rejectFor: (sub, id, attempt) => (reason) =>
      Effect.sync(() => {
        rejected.push(`${sub.room}/${id}@${attempt}:${reason ?? "rejected"}`)
      }),
    eject: (subs, reason, leave) => {
      for (const sub of subs) {
        sub.closed = true
        ejected.push({ room: sub.room, reason, leave })
      }
    },
    undecodable: (sub) => undecodable.push(sub.room)
  }
  return { host, stats, ejected, undecodable, acked, rejected }
}

/** Everything buffered in `group`, taken at once (as its stream takes it). */
const takeAll = (group: Group) =>
  Effect.suspend(() => Stream.runCollect(Stream.take(DeliveryStream.toStream(group.buffer), group.buffer.size)))

/** A subscription to room "r", alone in its group. */
const setup = (options: { readonly mode?: "sync" | "async"; readonly subscriberBuffer?: number } = {}) => {
  const recorded = recordingHost(options.subscriberBuffer)
  const group = new Group(true)
  const sub = new Subscription("r", options.mode ?? "sync", group, recorded.host)
  group.add(sub)
  const take = takeAll(group)
  const ids = Effect.map(take, (ds) => ds.map((d) => d.id))
  return { ...recorded, sub, group, take, ids }
}

describe("Subscription", () => {
  it.effect("S5: frames heard while joining wait for the join; those up to its frame number are dropped", () =>
    Effect.gen(function*() {
      const t = setup()
      t.sub.onFrame(frame(3, envelope(1)))
      t.sub.onFrame(frame(7, envelope(2)))
      expect(t.group.buffer.size).toBe(0) // joining: nothing delivered yet
      t.sub.joined(5)
      expect(yield* t.ids).toEqual(["producer:2"])
      t.sub.onFrame(frame(5, envelope(3))) // not after the join: dropped
      t.sub.onFrame(frame(8, envelope(4)))
      expect(yield* t.ids).toEqual(["producer:4"])
    }))

  it.effect("a delivery carries the envelope's fields, its latency on the client's clock, and an ack for sync queued messages only", () =>
    Effect.gen(function*() {
      const t = setup()
      t.sub.joined(0)
      t.sub.onFrame(frame(1, { ...envelope(1), pr: -3 }))
      t.sub.onFrame(frame(2, envelope(2, "o")))
      const [queued, outOfBand] = yield* t.take
      expect(queued).toMatchObject({
        room: "r",
        id: "producer:1",
        data: "m1",
        kind: "queued",
        priority: -3,
        producer: "producer",
        sequence: 1
      })
      expect(queued!.sentAt.getTime()).toBe(1000)
      expect(Duration.toMillis(queued!.latency)).toBe(500) // received at 1500 on the client's clock
      expect(outOfBand!.kind).toBe("out-of-band")
      yield* queued!.ack
      yield* outOfBand!.ack
      expect(t.acked).toEqual(["r/producer:1"])
      expect(t.stats.received).toBe(2)
    }))

  it.effect("an async member's queued deliveries need no ack", () =>
    Effect.gen(function*() {
      const t = setup({ mode: "async" })
      t.sub.joined(0)
      t.sub.onFrame(frame(1, envelope(1)))
      const [d] = yield* t.take
      yield* d!.ack
      expect(t.acked).toEqual([])
    }))

  it.effect("S12: the same queued message (a resync racing its published frame) reaches a sync member once", () =>
    Effect.gen(function*() {
      const t = setup()
      t.sub.joined(0)
      t.sub.deliver(envelope(1))
      t.sub.onFrame(frame(1, envelope(1)))
      t.sub.onFrame(frame(2, envelope(2)))
      expect(yield* t.ids).toEqual(["producer:1", "producer:2"])
      expect(t.sub.queuedCount).toBe(2)
    }))

  it.effect("a consumer that lets subscriberBuffer deliveries pile up is ejected as a slow consumer and leaves", () =>
    Effect.gen(function*() {
      const t = setup({ subscriberBuffer: 2 })
      t.sub.joined(0)
      t.sub.onFrame(frame(1, envelope(1)))
      t.sub.onFrame(frame(2, envelope(2)))
      expect(t.ejected).toEqual([])
      // what the stream takes no longer counts: two more fit
      expect((yield* t.ids).length).toBe(2)
      expect(t.sub.buffered).toBe(0)
      t.sub.onFrame(frame(3, envelope(3)))
      t.sub.onFrame(frame(4, envelope(4)))
      t.sub.onFrame(frame(5, envelope(5)))
      expect(t.ejected).toEqual([{ room: "r", reason: "slow-consumer", leave: true }])
    }))

  it.effect("S10, S11: an ejection notice for this client ends it; one for another client does not", () =>
    Effect.gen(function*() {
      const t = setup()
      t.sub.joined(0)
      t.sub.onFrame(frame(1, Envelope.encodeEject("someone-else", "ack-timeout")))
      expect(t.ejected).toEqual([])
      t.sub.onFrame(frame(2, Envelope.encodeEject(me, "ack-timeout")))
      expect(t.ejected).toEqual([{ room: "r", reason: "ack-timeout", leave: false }])
      t.sub.onFrame(frame(3, envelope(1))) // closed: ignored
      expect(t.group.buffer.size).toBe(0)
    }))

  it.effect("S16: an undecodable frame is counted; a sync member asks to ack it if it is the in-flight message", () =>
    Effect.gen(function*() {
      const sync = setup()
      sync.sub.joined(0)
      sync.sub.onFrame("1|not json")
      sync.sub.onFrame("garbage")
      expect(sync.stats.invalid).toBe(2)
      expect(sync.undecodable).toEqual(["r", "r"])
      const async = setup({ mode: "async" })
      async.sub.joined(0)
      async.sub.onFrame("1|{\"k\":\"q\"}")
      expect(async.stats.invalid).toBe(1)
      expect(async.undecodable).toEqual([])
    }))

  describe("S12 resync answers", () => {
    const inFlight = (s: number, attempt = 1) => ({
      id: `producer:${s}`,
      envelope: JSON.stringify(envelope(s)),
      attempt
    })

    it.effect("the in-flight message we hold and never saw is delivered", () =>
      Effect.gen(function*() {
        const t = setup()
        t.sub.joined(0)
        expect(t.sub.resynced(inFlight(1), 0)).toBeUndefined()
        expect(yield* t.ids).toEqual(["producer:1"])
        // asked again: already delivered, not again
        expect(t.sub.resynced(inFlight(1), 1)).toBeUndefined()
        expect(t.group.buffer.size).toBe(0)
      }))

    it.effect("an answer naming the message the consumer acked means the ack was lost: repeat it", () =>
      Effect.gen(function*() {
        const t = setup()
        t.sub.joined(0)
        t.sub.onFrame(frame(1, envelope(1)))
        const [d] = yield* t.take
        t.sub.lastAckedId = d!.id // what the ack does
        expect(t.sub.resynced(inFlight(1), 1)).toBe("ack")
      }))

    it.effect("an answer older than a delivery made since it was asked is stale: nothing is delivered", () =>
      Effect.gen(function*() {
        const t = setup()
        t.sub.joined(0)
        t.sub.onFrame(frame(1, envelope(2))) // arrived while the answer was on its way
        expect(t.sub.resynced(inFlight(1), 0)).toBeUndefined()
        expect(yield* t.ids).toEqual(["producer:2"])
      }))

    it.effect("holding nothing: check the membership (an ack-timeout notice may have been lost), unless closed", () =>
      Effect.gen(function*() {
        const t = setup()
        t.sub.joined(0)
        expect(t.sub.resynced(null, 0)).toBe("membership")
        t.sub.closed = true
        expect(t.sub.resynced(null, 0)).toBeUndefined()
      }))

    it.effect("an undecodable in-flight message is counted, not delivered", () =>
      Effect.gen(function*() {
        const t = setup()
        t.sub.joined(0)
        expect(t.sub.resynced({ id: "producer:1", envelope: "{oops", attempt: 1 }, 0)).toBeUndefined()
        expect(t.group.buffer.size).toBe(0)
        expect(t.stats.invalid).toBe(1)
      }))
  })

  describe("S27, S28: attempt and reject of a delivery", () => {
    it.effect("a publication is attempt 1; a resumed join's or resync's answer carries the engine's attempt", () =>
      Effect.gen(function*() {
        const t = setup()
        t.sub.joined(0, { id: "producer:1", envelope: JSON.stringify(envelope(1)), attempt: 3 })
        t.sub.onFrame(frame(1, envelope(2)))
        const [resumed, published] = yield* t.take
        expect([resumed!.attempt, published!.attempt]).toEqual([3, 1])
        expect(t.sub.resynced({ id: "producer:3", envelope: JSON.stringify(envelope(3)), attempt: 2 }, 2))
          .toBeUndefined()
        const [resynced] = yield* t.take
        expect(resynced!.attempt).toBe(2)
        yield* resumed!.reject()
        yield* resynced!.reject("bad input")
        expect(t.rejected).toEqual(["r/producer:1@3:rejected", "r/producer:3@2:bad input"])
      }))

    it.effect("async and out-of-band deliveries are attempt 1 and their reject does nothing", () =>
      Effect.gen(function*() {
        const async = setup({ mode: "async" })
        async.sub.joined(0, { id: "producer:1", envelope: JSON.stringify(envelope(1)), attempt: 4 })
        const sync = setup()
        sync.sub.joined(0)
        sync.sub.onFrame(frame(1, { ...envelope(2), k: "o" }))
        const deliveries = [...yield* async.take, ...yield* sync.take]
        expect(deliveries.map((d) => [d.kind, d.attempt])).toEqual([["queued", 1], ["out-of-band", 1]])
        for (const d of deliveries) yield* d.reject()
        expect([...async.rejected, ...sync.rejected]).toEqual([])
      }))
  })

  it.effect("a group of rooms counts what is buffered per room", () =>
    Effect.gen(function*() {
      const { host } = recordingHost()
      const group = new Group(false)
      const a = new Subscription("a", "sync", group, host)
      const b = new Subscription("b", "sync", group, host)
      group.add(a)
      group.add(b)
      a.joined(0)
      b.joined(0)
      a.onFrame(frame(1, envelope(1)))
      b.onFrame(frame(2, envelope(2)))
      b.onFrame(frame(3, envelope(3)))
      expect([a.buffered, b.buffered, group.open]).toEqual([1, 2, 2])
      expect((yield* takeAll(group)).map((d) => d.room)).toEqual(["a", "b", "b"])
      expect([a.buffered, b.buffered]).toEqual([0, 0])
    }))
})

/**
 * Proxy scenarios shared by the memory engine (TestClock) and the Redis engine (real server,
 * real time). Each takes an EngineFixture and runs in the test's scope.
 */
import { expect } from "@effect/vitest"
import { type Delivery, type QueueError, SyncFanoutQueue } from "@lockstep/core"
import type { EngineFixture } from "@lockstep/engine-suite"
import { ProxyLayer, type RoomProxy } from "@lockstep/proxy"
import { Effect, Exit, Fiber, Option, Queue, Scope, Stream } from "effect"

type Upstream = SyncFanoutQueue.SyncFanoutQueue["Service"]

/** A proxy over `upstream`, in the current scope. */
export const makeProxy = (upstream: Upstream) =>
  ProxyLayer.make().pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, upstream))

/** The next `n` deliveries of a local client (fails the test after 10 s of engine time). */
const take = (f: EngineFixture, client: RoomProxy.ProxyClient, n: number) =>
  f.within("10 seconds", client.deliveries.pipe(Stream.take(n), Stream.runCollect))

const takeOne = (f: EngineFixture, client: RoomProxy.ProxyClient) => Effect.map(take(f, client, 1), (all) => all[0]!)

/** Collect a direct upstream subscription into a queue, so a test can check that nothing arrived. */
const collect = (stream: Stream.Stream<Delivery.Delivery, QueueError.ClientEjected>) =>
  Effect.gen(function*() {
    const seen = yield* Queue.unbounded<Delivery.Delivery>()
    yield* stream.pipe(Stream.runForEach((d) => Queue.offer(seen, d)), Effect.forkScoped)
    return seen
  })

const sorted = (rooms: ReadonlySet<string>) => [...rooms].sort()

/** The seed's RoomProxyManager example: two local clients, two rooms, join / part / send / receive. */
export const joinPartSendReceive = (f: EngineFixture): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const upstream = yield* f.client()
    const proxy = yield* makeProxy(upstream)
    const client1 = yield* proxy.addClient
    const client2 = yield* proxy.addClient
    expect(client1.id).not.toBe(client2.id)

    yield* client1.join("room1")
    yield* client1.join("room2")
    yield* client2.join("room2")
    yield* client2.join("room2") // twice is fine
    expect(sorted(yield* client1.rooms)).toEqual(["room1", "room2"])
    expect(sorted(yield* client2.rooms)).toEqual(["room2"])
    // one upstream sync membership per room, however many local clients
    expect((yield* upstream.roomState("room2")).members).toEqual([upstream.clientId])

    yield* upstream.send("room1", "test message for room 1", { priority: 1 })
    yield* upstream.send("room2", "test message for room 2", { priority: 1 })
    const got1 = yield* take(f, client1, 2)
    expect(got1.map((d) => [d.room, d.data, d.kind]).sort()).toEqual([
      ["room1", "test message for room 1", "queued"],
      ["room2", "test message for room 2", "queued"]
    ])
    const got2 = yield* takeOne(f, client2)
    expect([got2.room, got2.data]).toEqual(["room2", "test message for room 2"])
    expect(got2.id).toBe(got1.find((d) => d.room === "room2")!.id)
    yield* Effect.forEach([...got1, got2], (d) => d.ack, { discard: true })

    // out-of-band passes straight through, to every local member (S9)
    yield* upstream.sendOutOfBand("room2", "oob")
    const [oob1, oob2] = [yield* takeOne(f, client1), yield* takeOne(f, client2)]
    expect([oob1.kind, oob1.data, oob2.kind, oob2.data]).toEqual(["out-of-band", "oob", "out-of-band", "oob"])

    // part: client1 leaves room2 and receives nothing more from it
    yield* client1.leave("room2")
    yield* client1.leave("room2") // leaving a room one is not in is a no-op
    expect(sorted(yield* client1.rooms)).toEqual(["room1"])
    yield* upstream.send("room2", "after part")
    const afterPart = yield* takeOne(f, client2)
    expect(afterPart.data).toBe("after part")
    yield* afterPart.ack
    yield* upstream.send("room1", "room1 again")
    const next1 = yield* takeOne(f, client1)
    expect(next1.data).toBe("room1 again") // not "after part": it was never queued for client1
    yield* next1.ack

    // the last local leave closes the upstream subscription (S6)
    yield* client2.leave("room2")
    expect((yield* upstream.roomState("room2")).members).toEqual([])
  })

/**
 * The proxy acks upstream only once every present local client acked: a second, direct sync
 * subscriber must not see message 2 while a local client still holds message 1 (S3).
 */
export const upstreamAckAfterAllLocalAcks = (f: EngineFixture): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const upstream = yield* f.client()
    const direct = yield* f.client()
    const proxy = yield* makeProxy(upstream)
    const [a, b, c] = [yield* proxy.addClient, yield* proxy.addClient, yield* proxy.addClient]
    yield* Effect.forEach([a, b, c], (client) => client.join("r"), { discard: true })
    const seen = yield* collect(yield* direct.subscribe("r"))

    const m1 = yield* direct.send("r", 1)
    const m2 = yield* direct.send("r", 2)
    const d1 = yield* f.within("10 seconds", Queue.take(seen))
    expect(d1.id).toBe(m1)
    yield* d1.ack
    const [a1, b1, c1] = [yield* takeOne(f, a), yield* takeOne(f, b), yield* takeOne(f, c)]
    expect([a1.id, b1.id, c1.id]).toEqual([m1, m1, m1])

    const stillHeld = Effect.gen(function*() {
      const state = yield* direct.roomState("r")
      expect(Option.map(state.inFlight, (m) => m.id)).toEqual(Option.some(m1))
      expect(state.backlog).toBe(1)
      expect(state.members).toEqual([direct.clientId, upstream.clientId].sort())
      expect(state.acked).toEqual([direct.clientId])
      expect(yield* Queue.size(seen)).toBe(0)
    })
    yield* stillHeld
    yield* a1.ack // through the delivery
    yield* a1.ack // twice is fine (S4)
    yield* a.ack("r", m2) // not delivered yet: ignored
    yield* stillHeld
    yield* b.ack("r", m1) // by id, as a gateway does
    yield* stillHeld
    yield* c1.ack // the last local share: now the proxy acks upstream

    const d2 = yield* f.within("10 seconds", Queue.take(seen))
    expect(d2.id).toBe(m2)
    const [a2, b2, c2] = [yield* takeOne(f, a), yield* takeOne(f, b), yield* takeOne(f, c)]
    expect([a2.data, b2.data, c2.data]).toEqual([2, 2, 2])
  })

/** A local client that leaves, or is removed, releases its share of what it holds (S6). */
export const leavingReleasesShare = (f: EngineFixture): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const upstream = yield* f.client()
    const direct = yield* f.client()
    const proxy = yield* makeProxy(upstream)
    const a = yield* proxy.addClient
    const b = yield* proxy.addClient
    const removable = yield* Scope.make()
    const c = yield* proxy.addClient.pipe(Scope.provide(removable))
    yield* Effect.forEach([a, b, c], (client) => client.join("r"), { discard: true })
    const seen = yield* collect(yield* direct.subscribe("r"))
    const [m1, m2, m3] = [yield* direct.send("r", 1), yield* direct.send("r", 2), yield* direct.send("r", 3)]

    yield* (yield* f.within("10 seconds", Queue.take(seen))).ack
    const [a1, b1, c1] = [yield* takeOne(f, a), yield* takeOne(f, b), yield* takeOne(f, c)]
    expect([a1.id, b1.id, c1.id]).toEqual([m1, m1, m1])
    yield* a1.ack
    yield* b1.ack
    expect(Option.map((yield* direct.roomState("r")).inFlight, (m) => m.id)).toEqual(Option.some(m1))
    expect(yield* Queue.size(seen)).toBe(0)

    // c is removed without acking: its scope closes, its share is released
    yield* Scope.close(removable, Exit.void)
    const d2 = yield* f.within("10 seconds", Queue.take(seen))
    expect(d2.id).toBe(m2)
    yield* d2.ack
    const [a2, b2] = [yield* takeOne(f, a), yield* takeOne(f, b)]
    expect([a2.id, b2.id]).toEqual([m2, m2])
    expect(yield* c.deliveries.pipe(Stream.runCollect, Effect.map((all) => all.length))).toBe(0) // ended, c1 was taken

    // b leaves without acking m2
    yield* a2.ack
    expect(yield* Queue.size(seen)).toBe(0)
    yield* b.leave("r")
    const d3 = yield* f.within("10 seconds", Queue.take(seen))
    expect(d3.id).toBe(m3)
    const a3 = yield* takeOne(f, a)
    expect(a3.id).toBe(m3)
    yield* b2.ack // stale: b left; no effect

    // the last local client leaves while holding m3: the proxy leaves the room upstream
    yield* a.leave("r")
    const state = yield* direct.roomState("r")
    expect(state.members).toEqual([direct.clientId])
  })

/**
 * An upstream ejection of a room (S11 ack deadline) fails the stream of every local client in it;
 * they keep their other rooms, and the room can be joined again.
 */
export const ackTimeoutEjectionFansOut = (f: EngineFixture): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const upstream = yield* f.client({ ackTimeout: "1 second" })
    const producer = yield* f.client()
    const proxy = yield* makeProxy(upstream)
    const a = yield* proxy.addClient
    const b = yield* proxy.addClient
    yield* a.join("r")
    yield* a.join("other")
    yield* b.join("r")

    yield* producer.send("r", "never acked")
    expect((yield* takeOne(f, a)).data).toBe("never acked")
    expect((yield* takeOne(f, b)).data).toBe("never acked")
    const failures = yield* Effect.forEach(
      [a, b],
      (client) => client.deliveries.pipe(Stream.runDrain, Effect.flip, Effect.forkChild)
    )
    const [ea, eb] = yield* f.within("10 seconds", Fiber.joinAll(failures))
    for (const e of [ea!, eb!]) {
      expect(e._tag).toBe("ClientEjected")
      expect([e.room, e.clientId, e.reason]).toEqual(["r", upstream.clientId, "ack-timeout"])
    }
    expect(sorted(yield* a.rooms)).toEqual(["other"])
    expect(sorted(yield* b.rooms)).toEqual([])

    // a is still in "other": run its stream again
    yield* producer.send("other", "still here")
    const other = yield* takeOne(f, a)
    expect(other.data).toBe("still here")
    yield* other.ack

    // b joins "r" again: a fresh upstream subscription
    yield* b.join("r")
    yield* producer.send("r", "again")
    const again = yield* takeOne(f, b)
    expect(again.data).toBe("again")
    yield* again.ack
  })

/** The upstream client losing its server for clientTimeout (S10) fails the local streams the same way. */
export const keepaliveEjectionFansOut = (f: EngineFixture): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const upstream = yield* f.client({ clientTimeout: "3 seconds" })
    const proxy = yield* makeProxy(upstream)
    const a = yield* proxy.addClient
    const b = yield* proxy.addClient
    yield* a.join("r")
    yield* b.join("r")
    const failures = yield* Effect.forEach(
      [a, b],
      (client) => client.deliveries.pipe(Stream.runDrain, Effect.flip, Effect.forkChild)
    )
    yield* f.cut(upstream.clientId)
    const errors = yield* f.within("15 seconds", Fiber.joinAll(failures))
    expect(errors.map((e) => [e.room, e.reason])).toEqual([["r", "keepalive-timeout"], ["r", "keepalive-timeout"]])
    expect(sorted(yield* a.rooms)).toEqual([])
    yield* f.restore(upstream.clientId)
  })

/**
 * A room with a lone surrogate (S1): the join is InvalidRoom and joins nothing upstream, so it
 * cannot meet its U+FFFD namesake (what a UTF-8 encoder makes of it), which another client uses.
 */
export const loneSurrogateJoin = (f: EngineFixture): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const upstream = yield* f.client()
    const producer = yield* f.client()
    const proxy = yield* makeProxy(upstream)
    const client = yield* proxy.addClient
    const error = yield* Effect.flip(client.join("lone-\uD800"))
    expect(error._tag).toBe("InvalidRoom")
    expect(error.message).toContain("lone surrogate")
    expect(sorted(yield* client.rooms)).toEqual([])
    expect((yield* upstream.rooms()).rooms).toEqual([])
    yield* client.join("lone-\uFFFD")
    expect((yield* upstream.roomState("lone-\uFFFD")).members).toEqual([upstream.clientId])
    yield* producer.send("lone-\uFFFD", "to the namesake")
    const d = yield* takeOne(f, client)
    expect([d.room, d.data]).toEqual(["lone-\uFFFD", "to the namesake"])
    yield* d.ack
    yield* client.leave("lone-\uD800") // a no-op, as for any room the client is not in
    expect(sorted(yield* client.rooms)).toEqual(["lone-\uFFFD"])
  })

/**
 * A local reject settles that client's share only (S28): the message is rejected upstream — one
 * dead letter for the proxy's upstream client, with the first local reason — once every local
 * member has acked or rejected it; until then the room waits, as for an ack (S3).
 */
export const localRejectSettlesUpstreamLast = (f: EngineFixture): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const { admin, client: upstream } = yield* f.operator()
    const direct = yield* f.client()
    const proxy = yield* makeProxy(upstream)
    const [a, b, c] = [yield* proxy.addClient, yield* proxy.addClient, yield* proxy.addClient]
    yield* Effect.forEach([a, b, c], (client) => client.join("r"), { discard: true })
    const seen = yield* collect(yield* direct.subscribe("r"))

    const m1 = yield* direct.send("r", 1)
    const m2 = yield* direct.send("r", 2)
    yield* (yield* f.within("10 seconds", Queue.take(seen))).ack
    const [a1, b1, c1] = [yield* takeOne(f, a), yield* takeOne(f, b), yield* takeOne(f, c)]
    expect([a1.id, a1.attempt, b1.attempt]).toEqual([m1, 1, 1])

    yield* a1.reject("cannot parse")
    yield* a1.reject("again") // a second settlement of the same share counts for nothing
    yield* b.reject("r", m1, "other reason")
    // c still holds m1: nothing settled upstream, no letter, m2 not released
    const state = yield* direct.roomState("r")
    expect(Option.map(state.inFlight, (m) => m.id)).toEqual(Option.some(m1))
    expect(state.acked).toEqual([direct.clientId])
    expect((yield* admin.deadLetters("r")).letters).toEqual([])

    yield* c1.ack // the last share: the proxy rejects m1 upstream with the first local reason
    const d2 = yield* f.within("10 seconds", Queue.take(seen))
    expect(d2.id).toBe(m2)
    const letters = (yield* admin.deadLetters("r")).letters
    expect(letters.map((l) => [l.message.id, l.member, l.reason, l.attempts])).toEqual([
      [m1, upstream.clientId, "cannot parse", 1]
    ])
    const [a2] = [yield* takeOne(f, a), yield* takeOne(f, b), yield* takeOne(f, c)]
    expect(a2.data).toBe(2)
  })

/**
 * A local reject with a reason `delivery.reject` refuses fails the same way (`InvalidArgument`)
 * and settles nothing: the proxy would otherwise reject upstream with it, fail there, and leave
 * the room waiting (S28).
 */
export const localRejectRefusesAnInvalidReason = (f: EngineFixture): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const { admin, client: upstream } = yield* f.operator()
    const direct = yield* f.client()
    const proxy = yield* makeProxy(upstream)
    const a = yield* proxy.addClient
    yield* a.join("r")
    const m1 = yield* direct.send("r", 1)
    const m2 = yield* direct.send("r", 2)
    const a1 = yield* takeOne(f, a)
    for (const reason of ["", "x".repeat(257), "bad \ud800"]) {
      const refused = yield* Effect.flip(a1.reject(reason))
      expect(refused._tag, JSON.stringify(reason)).toBe("InvalidArgument")
      expect((yield* Effect.flip(a.reject("r", m1, reason)))._tag).toBe("InvalidArgument")
    }
    // nothing was settled: m1 is still in flight, and a valid reject settles it
    expect(Option.map((yield* direct.roomState("r")).inFlight, (m) => m.id)).toEqual(Option.some(m1))
    yield* a1.reject("cannot parse")
    const a2 = yield* takeOne(f, a)
    expect(a2.id).toBe(m2)
    const letters = (yield* admin.deadLetters("r")).letters
    expect(letters.map((l) => [l.message.id, l.reason])).toEqual([[m1, "cannot parse"]])
  })

import { describe, expect, it, layer } from "@effect/vitest"
import { SyncFanoutQueue } from "@lockstep/core"
import { memoryFixture } from "@lockstep/engine-suite"
import { ProxyLayer } from "@lockstep/proxy"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Deferred, Effect, Exit, Fiber, Layer, Schema, Scope, Stream } from "effect"
import type * as Config from "effect/Config"
import * as TestClock from "effect/testing/TestClock"
import { redisFixture } from "../../redis/test/utils/redisFixture.js"
import * as Scenario from "./utils/scenarios.js"

/** The option a `ConfigError` names (`QueueConfig.invalidData`: an invalid value at a path). */
const configErrorPath = (error: Config.ConfigError) => {
  const cause = error.cause
  return Schema.isSchemaError(cause) && cause.issue._tag === "Pointer" ? cause.issue.path : undefined
}

const scenarios = [
  ["join / part / send / receive (the seed's RoomProxyManager example)", Scenario.joinPartSendReceive],
  ["acks upstream only after every local client acked (S3)", Scenario.upstreamAckAfterAllLocalAcks],
  ["a leaving or removed local client releases its share (S6)", Scenario.leavingReleasesShare],
  ["an upstream ack-timeout ejection fails every local client in the room (S11)", Scenario.ackTimeoutEjectionFansOut],
  ["an upstream keepalive ejection fails every local client in the room (S10)", Scenario.keepaliveEjectionFansOut],
  ["join of a room with a lone surrogate is InvalidRoom and meets no other room (S1)", Scenario.loneSurrogateJoin],
  [
    "a local reject settles its share; the last share rejects upstream with the first local reason (S28)",
    Scenario.localRejectSettlesUpstreamLast
  ],
  [
    "a local reject with an invalid reason fails InvalidArgument and settles nothing (S28)",
    Scenario.localRejectRefusesAnInvalidReason
  ]
] as const

describe("RoomProxy (memory engine)", () => {
  for (const [name, scenario] of scenarios) {
    it.effect(name, () => Effect.flatMap(memoryFixture, scenario))
  }

  it.effect("join reports an invalid room (S1) and changes nothing", () =>
    Effect.gen(function*() {
      const f = yield* memoryFixture
      const proxy = yield* Scenario.makeProxy(yield* f.client())
      const client = yield* proxy.addClient
      const error = yield* Effect.flip(client.join(""))
      expect(error._tag).toBe("InvalidRoom")
      expect([...(yield* client.rooms)]).toEqual([])
      yield* client.join("ok") // the failed join left nothing behind
      expect([...(yield* client.rooms)]).toEqual(["ok"])
    }))

  it.effect("a bufferSize that is not a positive integer is a ConfigError naming it, when the proxy is built", () =>
    Effect.gen(function*() {
      const f = yield* memoryFixture
      const upstream = yield* f.client()
      for (const bufferSize of [0, -1, 1.5, Number.NaN, Infinity]) {
        const builds: ReadonlyArray<
          Effect.Effect<unknown, Config.ConfigError, SyncFanoutQueue.SyncFanoutQueue | Scope.Scope>
        > = [ProxyLayer.make({ bufferSize }), Layer.build(ProxyLayer.layerWith({ bufferSize }))]
        for (const build of builds) {
          const error = yield* build.pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, upstream), Effect.flip)
          expect(error._tag).toBe("ConfigError")
          expect(configErrorPath(error)).toEqual(["bufferSize"])
          expect(error.message).toContain(`bufferSize must be a positive integer, got ${bufferSize}`)
        }
      }
      // nothing was subscribed upstream
      expect((yield* upstream.rooms()).rooms).toEqual([])
      // the smallest valid one builds
      yield* ProxyLayer.make({ bufferSize: 1 }).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, upstream))
    }))

  it.effect("a local client whose buffer overflows is ejected from the room (slow-consumer)", () =>
    Effect.gen(function*() {
      const f = yield* memoryFixture
      const upstream = yield* f.client()
      const producer = yield* f.client()
      const proxy = yield* ProxyLayer.make({ bufferSize: 2 }).pipe(
        Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, upstream)
      )
      const slow = yield* proxy.addClient
      yield* slow.join("r")
      for (const n of [1, 2, 3]) yield* producer.sendOutOfBand("r", n)
      const exit = yield* f.within(
        "1 second",
        slow.deliveries.pipe(
          Stream.runFoldEffect(() => [] as Array<unknown>, (all, d) => Effect.succeed([...all, d.data])),
          Effect.exit
        )
      )
      expect(exit).toEqual(
        Exit.fail(
          expect.objectContaining({ _tag: "ClientEjected", room: "r", clientId: slow.id, reason: "slow-consumer" })
        )
      )
      expect([...(yield* slow.rooms)]).toEqual([])
      // it was the only local member: the proxy left the room upstream
      expect((yield* upstream.roomState("r")).members).toEqual([])
    }))

  it.effect("a client removed while its join is under way leaves nothing behind", () =>
    Effect.gen(function*() {
      const f = yield* memoryFixture
      const upstream = yield* f.client()
      // an upstream whose subscribe takes a second
      const subscribing = yield* Deferred.make<void>()
      const slowSubscribe: SyncFanoutQueue.SyncFanoutQueue["Service"] = {
        ...upstream,
        subscribe: (room, options) =>
          Deferred.succeed(subscribing, undefined).pipe(
            Effect.andThen(Effect.sleep("1 second")),
            Effect.andThen(upstream.subscribe(room, options))
          )
      }
      const proxy = yield* ProxyLayer.make().pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, slowSubscribe))
      const scope = yield* Scope.make()
      const client = yield* proxy.addClient.pipe(Scope.provide(scope))
      const joining = yield* Effect.forkChild(client.join("r"))
      yield* TestClock.adjust("100 millis")
      expect(yield* Deferred.isDone(subscribing)).toBe(true) // the join is under way upstream
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(joining)
      expect([...(yield* client.rooms)]).toEqual([])
      expect((yield* upstream.roomState("r")).members).toEqual([])
      expect(yield* Stream.runCollect(client.deliveries)).toHaveLength(0) // ended
    }))

  it.effect("closing the proxy ends every local stream", () =>
    Effect.gen(function*() {
      const f = yield* memoryFixture
      const upstream = yield* f.client()
      const scope = yield* Scope.make()
      const proxy = yield* Scenario.makeProxy(upstream).pipe(Scope.provide(scope))
      const client = yield* proxy.addClient
      yield* client.join("r")
      const drained = yield* Effect.forkChild(Stream.runDrain(client.deliveries))
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.join(drained)
      expect((yield* upstream.roomState("r")).members).toEqual([])
    }))
})

describe("RoomProxy (redis engine)", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
    for (const [name, scenario] of scenarios) {
      it.effect(name, () => Effect.flatMap(redisFixture(), scenario))
    }
  })
})

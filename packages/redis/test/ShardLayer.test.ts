/**
 * `ShardLayer` without a server (S17): rooms map to shards by a stable hash, every shard sits on
 * its own hash slot and the slots spread over the cluster's masters, every key and channel of a
 * room shares its shard's slot, and bad shard counts or key prefixes are refused with typed errors.
 */
import { describe, expect, it } from "@effect/vitest"
import { QueueConfig } from "@lockstep/core"
import { ClientLayer, RedisConnection, Sharding, ShardLayer } from "@lockstep/redis"
import { Cause, Config, ConfigProvider, Context, Effect, Exit, Layer, Option, Result } from "effect"
import * as Keys from "../src/internal/keys.js"
import { slotOf } from "../src/internal/slot.js"
import { invalidData } from "./utils/redisProbe.js"

/** The slot ranges `redis-cli --cluster create` assigns to 3 masters. */
const threeMasters = [[0, 5460], [5461, 10922], [10923, 16383]] as const
const masterOf = (slot: number) => threeMasters.findIndex(([start, end]) => slot >= start && slot <= end)

const rooms = [
  ...Array.from({ length: 500 }, (_, i) => `room-${i}`),
  "",
  "x{y}z",
  "{}",
  "}{",
  "a:b:c",
  "ümlaut",
  "🚀 emoji",
  "x".repeat(256)
]

/** Every key and channel of a room in the key schema (`Keys`), plus the per-shard bookkeeping. */
const keysOfRoom = (sharding: Sharding.Sharding["Service"], prefix: string, room: string) => {
  const base = Keys.shardBase(prefix, sharding.tagOf(sharding.shardOf(room)))
  return [
    ...Object.keys(Keys.roomKinds).map((kind) => Keys.roomKey(kind as keyof typeof Keys.roomKinds)(base, room)),
    ...Object.keys(Keys.shardKinds).map((kind) => Keys.shardKey(kind as keyof typeof Keys.shardKinds)(base)),
    Keys.clientRooms(base, "some-client-id")
  ]
}

describe("ShardLayer", () => {
  // first in the file, so the slot → tag table is built cold inside the measured window
  it.effect("builds 16384 shards (one per slot) in well under 2 s", () =>
    Effect.gen(function*() {
      const started = performance.now()
      const sharding = yield* ShardLayer.make({ shards: 16384 })
      const elapsed = performance.now() - started
      expect(elapsed).toBeLessThan(2000)
      expect(sharding.shards).toBe(16384)
      // every slot is used by exactly one shard
      const slots = new Set(Array.from({ length: 16384 }, (_, i) => slotOf(sharding.tagOf(i))))
      expect(slots.size).toBe(16384)
      // and building it again is cheap (the table is shared)
      const again = performance.now()
      yield* ShardLayer.make({ shards: 16384 })
      expect(performance.now() - again).toBeLessThan(500)
    }))

  it.effect("shardOf is stable, an integer in [0, shards), and spreads rooms over every shard", () =>
    Effect.gen(function*() {
      for (const shards of [1, 2, 3, 16, 64, 256, 1000, 16384]) {
        const a = yield* ShardLayer.make({ shards })
        const b = yield* ShardLayer.make({ shards })
        const seen = new Set<number>()
        for (const room of rooms) {
          const shard = a.shardOf(room)
          expect(Number.isInteger(shard), room).toBe(true)
          expect(shard).toBeGreaterThanOrEqual(0)
          expect(shard).toBeLessThan(shards)
          // stable: across instances and calls
          expect(b.shardOf(room)).toBe(shard)
          expect(a.shardOf(room)).toBe(shard)
          seen.add(shard)
        }
        if (shards <= 16) expect(seen.size, `${shards} shards`).toBe(shards)
      }
      // pinned to the published FNV-1a 32-bit test vectors (ASCII: UTF-16 units = bytes), so a
      // change of the hash, which would move every room of a deployed cluster, is noticed
      const all = yield* ShardLayer.make({ shards: 16384 })
      expect(all.shardOf("")).toBe(0x811c9dc5 % 16384)
      expect(all.shardOf("a")).toBe(0xe40c292c % 16384)
      expect(all.shardOf("foobar")).toBe(0xbf9cf968 % 16384)
    }))

  it.effect("single: one shard on hash tag 0", () =>
    Effect.gen(function*() {
      const single = yield* Effect.provide(Sharding.Sharding, ShardLayer.single)
      expect(single.shards).toBe(1)
      for (const room of rooms) expect(single.shardOf(room)).toBe(0)
      expect(single.tagOf(0)).toBe("0")
      const one = yield* ShardLayer.make({ shards: 1 })
      expect(rooms.every((room) => one.shardOf(room) === 0)).toBe(true)
    }))

  it.effect("the tags of every shard map to distinct slots spread evenly over the slot space", () =>
    Effect.gen(function*() {
      for (const shards of [2, 3, 7, 16, 64, 256, 1000]) {
        const sharding = yield* ShardLayer.make({ shards })
        const slots = Array.from({ length: shards }, (_, i) => slotOf(sharding.tagOf(i)))
        expect(new Set(slots).size, `${shards} shards`).toBe(shards)
        // shard i sits in the i-th of `shards` equal slot ranges
        slots.forEach((slot, i) => {
          expect(slot).toBeGreaterThanOrEqual(Math.floor((i * 16384) / shards))
          expect(slot).toBeLessThan(Math.ceil(((i + 1) * 16384) / shards))
        })
        // tags are plain (no braces), so `{tag}` is the hash tag of every key
        for (let i = 0; i < shards; i++) expect(sharding.tagOf(i)).toMatch(/^[^{}]+$/)
      }
      // 16 shards over the 3 equal ranges of a fresh 3-master cluster: every master gets >= 4
      const sixteen = yield* ShardLayer.make({ shards: 16 })
      const perMaster = [0, 0, 0]
      for (let i = 0; i < 16; i++) perMaster[masterOf(slotOf(sixteen.tagOf(i)))]!++
      expect(perMaster.every((n) => n >= 4), JSON.stringify(perMaster)).toBe(true)
      expect(perMaster.reduce((a, b) => a + b)).toBe(16)
    }))

  it.effect("every key and channel of a room shares its shard's slot, whatever the room name", () =>
    Effect.gen(function*() {
      for (const shards of [1, 16, 256]) {
        const sharding = yield* ShardLayer.make({ shards })
        for (const room of rooms) {
          const expected = slotOf(sharding.tagOf(sharding.shardOf(room)))
          const slots = new Set(keysOfRoom(sharding, "app", room).map(slotOf))
          expect([...slots], `${room} over ${shards} shards`).toEqual([expected])
        }
      }
    }))

  it.effect("bad shard counts fail with a ConfigError naming the option, make and layer alike", () =>
    Effect.gen(function*() {
      for (const shards of [0, -1, 1.5, 16385, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
        const error = yield* Effect.flip(ShardLayer.make({ shards }))
        expect(error._tag).toBe("ConfigError")
        expect(invalidData(error)?.path).toEqual(["shards"])
        expect(error.message).toContain("shards must be an integer from 1 to 16384")
        // the layer fails the same way
        const exit = yield* Effect.exit(Layer.build(ShardLayer.layer({ shards })).pipe(Effect.scoped))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          expect(Option.map(Cause.findErrorOption(exit.cause), (e) => invalidData(e)?.path)).toEqual(
            Option.some(["shards"])
          )
        }
      }
      // the bounds themselves are fine
      expect((yield* ShardLayer.make({ shards: 1 })).shards).toBe(1)
      expect((yield* ShardLayer.make({ shards: 16384 })).shards).toBe(16384)
    }))

  it.effect("a keyPrefix with braces is refused (it would override the shard's hash tag)", () =>
    Effect.gen(function*() {
      // why: with a braced prefix the first `{...}` of every key is the prefix's, not the shard's
      const sharding = yield* ShardLayer.make({ shards: 16 })
      const bad = keysOfRoom(sharding, "app{x}", "room-1").map(slotOf)
      expect(new Set(bad)).toEqual(new Set([slotOf("x")]))

      // a client is never built on such a prefix: ConfigError before any Redis call
      const unusable = new Proxy({}, {
        get: () => {
          throw new Error("the connection must not be touched")
        }
      }) as RedisConnection.RedisConnection["Service"]
      const context = Context.make(RedisConnection.RedisConnection, unusable).pipe(
        Context.add(Sharding.Sharding, sharding)
      )
      for (const keyPrefix of ["app{x}", "{", "}", "a}b", "{}"]) {
        const validated = QueueConfig.validate({ keyPrefix })
        expect(Result.isFailure(validated), keyPrefix).toBe(true)
        if (Result.isFailure(validated)) {
          expect(invalidData(validated.failure)?.path).toEqual(["keyPrefix"])
          expect(String(validated.failure)).toContain("keyPrefix")
        }
        const error = yield* Effect.flip(Effect.scoped(ClientLayer.make({ keyPrefix }).pipe(Effect.provide(context))))
        const invalid = invalidData(error)
        expect(invalid?.path, keyPrefix).toEqual(["keyPrefix"])
        expect(invalid?.message).toContain("keyPrefix must not contain")
        expect(String(error)).toContain("keyPrefix must not contain")
      }
      // the same prefixes without braces are fine
      expect(Result.isSuccess(QueueConfig.validate({ keyPrefix: "app-x" }))).toBe(true)
    }))

  it.effect("layerConfig(): LOCKSTEP_SHARDS not set is single, n is layer({ shards: n }); a bad value names the variable", () =>
    Effect.gen(function*() {
      const read = (env: Record<string, string>) =>
        Layer.build(ShardLayer.layerConfig()).pipe(
          Effect.map((context) => Context.get(context, Sharding.Sharding)),
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
        )
      const single = Context.get(yield* Layer.build(ShardLayer.single), Sharding.Sharding)
      const unset = yield* read({})
      expect([unset.shards, unset.tagOf(0)]).toEqual([single.shards, single.tagOf(0)])
      const sixteen = yield* ShardLayer.make({ shards: 16 })
      const read16 = yield* read({ LOCKSTEP_SHARDS: "16" })
      expect(read16.shards).toBe(16)
      expect(rooms.map(read16.shardOf)).toEqual(rooms.map(sixteen.shardOf))
      expect(Array.from({ length: 16 }, (_, i) => read16.tagOf(i))).toEqual(
        Array.from({ length: 16 }, (_, i) => sixteen.tagOf(i))
      )
      // 1 is layer({ shards: 1 }), not single: another hash tag
      expect((yield* read({ LOCKSTEP_SHARDS: "1" })).tagOf(0)).not.toBe(single.tagOf(0))
      for (const bad of ["0", "16385", "1.5", "many"]) {
        const error = yield* Effect.flip(read({ LOCKSTEP_SHARDS: bad }))
        expect(String(error), bad).toContain(
          `LOCKSTEP_SHARDS: expected an integer from 1 to 16384, got ${JSON.stringify(bad)} — the number of shards`
        )
      }
      // a Config of one's own: its count is checked by make (path shards)
      const own = yield* Effect.flip(Layer.build(ShardLayer.layerConfig(Config.succeed(0))))
      expect(invalidData(own)?.path).toEqual(["shards"])
    }))
})

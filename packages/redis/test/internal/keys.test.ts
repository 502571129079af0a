/**
 * The key schema (`src/internal/keys.ts`) is the one source of key names, `meta` fields and the
 * values that pack two strings in one: the Lua expressions rendered from it build the same keys
 * and read the same values as the TypeScript side (checked on a spawned server).
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Effect } from "effect"
import * as Keys from "../../src/internal/keys.js"
import { cmd, rawRedis } from "../utils/redisProbe.js"

describe("Keys", () => {
  it("TS builders make the keys the schema names", () => {
    const base = Keys.shardBase("app", "t7")
    expect(base).toBe("app:{t7}:")
    expect(Keys.meta(base, "r")).toBe("app:{t7}:m:r")
    expect(Keys.queue(base, "r")).toBe("app:{t7}:q:r")
    expect(Keys.channel(base, "r")).toBe("app:{t7}:c:r")
    expect(Keys.clients(base)).toBe("app:{t7}:clients")
    expect(Keys.backlog(base)).toBe("app:{t7}:backlog")
    expect(Keys.clientRooms(base, "c1")).toBe("app:{t7}:cr:c1")
    expect(Keys.claims(base)).toBe("app:{t7}:claims")
    expect(Keys.detached(base)).toBe("app:{t7}:detached")
    expect(Keys.rooms(base)).toBe("app:{t7}:rooms")
  })

  it("the meta fields in Lua are the schema's, quoted", () => {
    expect(Keys.F.inFlightId).toBe(`"fid"`)
    for (const [field, name] of Object.entries(Keys.metaFields)) {
      expect(Keys.F[field as keyof typeof Keys.metaFields]).toBe(JSON.stringify(name))
    }
  })

  it("a pair splits at its first |: the second part may hold more", () => {
    expect(Keys.queued.encode("m-1", `{"d":"a|b"}`)).toBe(`m-1|{"d":"a|b"}`)
    expect(Keys.queued.decode(`m-1|{"d":"a|b"}`)).toEqual(["m-1", `{"d":"a|b"}`])
    expect(Keys.detachedMembership.decode("edge-1|a room | with bars")).toEqual(["edge-1", "a room | with bars"])
    expect(Keys.queued.decode("no separator")).toBeUndefined()
  })

  layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
    it.effect("the Lua key helpers build the same keys as the TS builders", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const redis = yield* rawRedis(port)
        const base = Keys.shardBase("app", "t7")
        const room = "a room: {with} | odd chars 🚀"
        const rooms = Object.keys(Keys.roomKinds) as Array<keyof typeof Keys.roomKinds>
        const shards = Object.keys(Keys.shardKinds) as Array<keyof typeof Keys.shardKinds>
        const lua = `local base = ARGV[1]\nreturn { ${
          [...rooms.map((k) => Keys.K[k]("ARGV[2]")), ...shards.map((k) => Keys.K[k]), Keys.K.clientRooms("ARGV[3]")]
            .join(", ")
        } }`
        const fromLua = yield* cmd(redis, "EVAL", lua, 0, base, room, "c1")
        expect(fromLua).toEqual([
          ...rooms.map((k) => Keys.roomKey(k)(base, room)),
          ...shards.map((k) => Keys.shardKey(k)(base)),
          Keys.clientRooms(base, "c1")
        ])
      }))

    it.effect("the Lua encodings make and read the same values as the TS ones", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const redis = yield* rawRedis(port)
        for (const pair of [Keys.queued, Keys.detachedMembership, Keys.frame]) {
          const { encode, find, first, second } = pair.lua
          const lua = `local v = ARGV[3]\nlocal at = ${find("v")}\n` +
            `return { ${encode("ARGV[1]", "ARGV[2]")}, ${first("v", "at")}, ${second("v", "at")} }`
          const [a, b] = ["edge-1", `a room | {"k":"q"} 🚀`]
          const value = pair.encode(a, b)
          expect(yield* cmd(redis, "EVAL", lua, 0, a, b, value)).toEqual([value, ...pair.decode(value)!])
        }
      }))
  })
})

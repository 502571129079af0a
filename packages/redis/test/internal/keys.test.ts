/**
 * The key schema (`src/internal/keys.ts`) is the one source of key names and script arguments:
 * every TS argument builder follows its layout, the Lua key helpers build the same keys as the TS
 * builders (checked on a spawned server), and no script spells a key or an ARGV index itself.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Keys from "../../src/internal/keys.js"
import { keyHelpers } from "../../src/internal/scripts/define.js"
import { scripts } from "../../src/internal/scripts/index.js"
import { cmd, rawRedis } from "../utils/redisProbe.js"

type Builder = (...args: Array<string>) => ReadonlyArray<unknown>

/** The declared parameter names of a builder, `...rest` as `rest`. */
const parameters = (f: Builder): Array<string> => {
  const source = f.toString()
  const list = source.slice(source.indexOf("(") + 1, source.indexOf(")"))
  return list.split(",").map((p) => p.trim().replace(/^\.\.\./, "").replace(/[:=].*$/, "").trim()).filter((p) =>
    p !== ""
  )
}

const layouts = Object.entries(Keys.layouts) as Array<[string, Keys.Layout & Record<string, unknown>]>

describe("Keys", () => {
  describe("every argument builder follows its layout", () => {
    for (const [name, layout] of layouts) {
      it(name, () => {
        const args = layout.args as Builder
        // the builder's parameters are the layout's fields, in order (then the rest, if any)
        const restParameter = layout.rest === undefined ? [] : [`${layout.rest}s`]
        expect(parameters(args)).toEqual([...layout.head, ...restParameter])
        // and it puts each where the layout says
        expect(args(...layout.head)).toEqual(layout.head)
        if (layout.rest !== undefined) {
          expect(args(...layout.head, "r1", "r2")).toEqual([...layout.head, "r1", "r2"])
        }
        if (layout.item !== undefined) {
          const itemArgs = layout.itemArgs as Builder
          expect(parameters(itemArgs)).toEqual(layout.item)
          expect(itemArgs(...layout.item)).toEqual(layout.item)
          // a batch is its head then whole items: the item starts with the shard base
          expect(layout.item[0]).toBe("base")
        }
      })
    }
  })

  it("every script with the prelude starts with base and pub", () => {
    for (const [name, layout] of layouts) {
      if (name === "keepaliveMany") continue // takes keys, not a shard base
      expect(layout.head.slice(0, 2), name).toEqual([...Keys.common])
    }
  })

  it("the Lua of every script binds each ARGV field of its layout to a local of its name", () => {
    for (const [name, layout] of layouts) {
      const lua = scripts[name as keyof typeof scripts].lua
      const head = name === "keepaliveMany" ? layout.head : layout.head.slice(2)
      const from = name === "keepaliveMany" ? 1 : 3
      if (head.length > 0) {
        expect(lua, name).toContain(
          `local ${head.join(", ")} = ${head.map((_, i) => `ARGV[${from + i}]`).join(", ")}\n`
        )
      }
      if (layout.item !== undefined) {
        const n = layout.item.length
        expect(lua, name).toContain(`for i = ${layout.head.length + 1}, #ARGV - ${n - 1}, ${n} do\n  base = ARGV[i]\n`)
        const rest = layout.item.slice(1)
        expect(lua, name).toContain(
          `  local ${rest.join(", ")} = ${rest.map((_, k) => `ARGV[i + ${k + 1}]`).join(", ")}\n`
        )
      }
      if (layout.rest !== undefined) {
        expect(lua, name).toContain(`for i = ${layout.head.length + 1}, #ARGV do\n  local ${layout.rest} = ARGV[i]\n`)
      }
    }
  })

  it("no script source spells an ARGV or KEYS index or builds a key itself", () => {
    const dir = path.join(import.meta.dirname, "../../src/internal/scripts")
    for (const file of fs.readdirSync(dir)) {
      if (file === "define.ts") continue // the generator
      const source = fs.readFileSync(path.join(dir, file), "utf8")
      const lua = source.replace(/\/\*\*[\s\S]*?\*\//g, "") // headers name ARGV fields in prose
      expect(lua, file).not.toMatch(/ARGV\[|KEYS\[/)
      expect(lua, file).not.toMatch(/base \.\./)
    }
  })

  it("a script defines only the prelude functions it calls, and builds its keys inline", () => {
    const defined = (lua: string) => [...lua.matchAll(/local function (\w+)\(/g)].map((m) => m[1])
    // each `local function` is a closure made on every call of the script
    expect(defined(scripts.ack.lua)).toEqual(["now_ms", "fenced", "publish", "deliver", "release"])
    expect(defined(scripts.outOfBand.lua)).toEqual(["fenced", "publish"])
    expect(defined(scripts.leave.lua)).toEqual([
      "now_ms",
      "fenced",
      "publish",
      "deliver",
      "release",
      "gc",
      "remove_member"
    ])
    expect(defined(scripts.peek.lua)).toEqual([])
    for (const [name, script] of Object.entries(scripts)) {
      expect(script.lua, name).not.toMatch(/\bk_\w+\(/)
      // every function it defines is called
      for (const fn of defined(script.lua)) {
        expect(script.lua.split(`${fn}(`).length, `${name}: ${fn}`).toBeGreaterThan(2)
      }
    }
    expect(scripts.ack.lua).toContain(`redis.call("HMGET", (base .. "m:" .. room), "fid", "dl")`)
  })

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
        const lua = `local base = ARGV[1]\n${keyHelpers}\nreturn { ${
          [...rooms.map((k) => `k_${k}(ARGV[2])`), ...shards.map((k) => `k_${k}()`), "k_clientRooms(ARGV[3])"].join(
            ", "
          )
        } }`
        const fromLua = yield* cmd(redis, "EVAL", lua, 0, base, room, "c1")
        expect(fromLua).toEqual([
          ...rooms.map((k) => Keys.roomKey(k)(base, room)),
          ...shards.map((k) => Keys.shardKey(k)(base)),
          Keys.clientRooms(base, "c1")
        ])
      }))

    it.effect("every script compiles", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const redis = yield* rawRedis(port)
        for (const script of Object.values(scripts)) {
          expect(yield* cmd(redis, "SCRIPT", "LOAD", script.lua)).toMatch(/^[0-9a-f]{40}$/)
        }
      }))
  })
})

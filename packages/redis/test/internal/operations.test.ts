/**
 * Each Redis operation is one value (`src/internal/operations/<name>.ts`): everything else is
 * derived from it (`operation.ts`, `runner.ts`). These tests hold the derivation to what the value
 * says: its ARGV is its named arguments in order, its Lua binds each to a local of its name,
 * defines exactly the helpers it includes (and those they use) and no key, field or separator of
 * its own; a connection registers each operation once; a reply the operation does not answer
 * fails with an `EngineError`.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { QueueError } from "@lockstep/core"
import { RedisLayer } from "@lockstep/redis"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Duration, Effect, Result } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Keys from "../../src/internal/keys.js"
import * as Operation from "../../src/internal/operation.js"
import * as Prelude from "../../src/internal/prelude.js"
import * as Reply from "../../src/internal/reply.js"
import { Runner, runnerOf } from "../../src/internal/runner.js"
import { modules, operationNamed, operations, operationsDir } from "../utils/operations.js"
import { cmd, rawRedis } from "../utils/redisProbe.js"

const all = [...operations.values()]

/** The local functions a Lua text defines, in order. */
const defined = (lua: string) => [...lua.matchAll(/local function (\w+)\(/g)].map((m) => m[1])

/** The prelude helpers `lua` calls (a definition `local function f(` is not a call). */
const calls = (lua: string) =>
  Prelude.helpers.filter((helper) => new RegExp(`(?<!local function )\\b${helper.name}\\(`).test(lua))

/** An operation's Lua without the helpers it defines: its own part. */
const ownLua = (operation: Operation.Any) =>
  Operation.included(operation.includes).reduce((lua, helper) => lua.replace(helper.lua.trim(), ""), operation.lua)

/** A record whose every field is its own name (lists: two values). */
const named = (fields: ReadonlyArray<string>, rest?: Operation.Layout["rest"]) =>
  Object.fromEntries([
    ...fields.map((field) => [field, field]),
    ...(rest === undefined ? [] : [[rest.field, [`${rest.local}1`, `${rest.local}2`]]])
  ])

describe("Operation", () => {
  it("the registry has every operation once: one per module, named after it, no name or command twice", () => {
    expect(modules.length).toBeGreaterThan(0)
    for (const { file, operations: exported } of modules) {
      expect(exported.map((operation) => operation.name), file).toEqual([file])
    }
    expect(new Set(all.map((operation) => operation.command)).size).toBe(all.length)
    expect(operations.size).toBe(modules.length)
  })

  describe("every operation's ARGV is its named arguments, in order", () => {
    for (const operation of all) {
      it(operation.name, () => {
        const { head, item, keyLocal, rest } = operation.layout
        const restValues = rest === undefined ? [] : [`${rest.local}1`, `${rest.local}2`]
        if (operation._tag === "Operation") {
          const single = operation as Operation.Operation<unknown, unknown>
          const input = { ...named(head, rest), ...(keyLocal === undefined ? {} : { [keyLocal]: "the key" }) }
          expect(single.argv(input)).toEqual([...head, ...restValues])
          if (keyLocal !== undefined) expect(single.key(input)).toBe("the key")
        } else {
          const batch = operation as Operation.BatchOperation<unknown, unknown, unknown>
          // a batch is its head, then whole items; an item starts with its shard base
          expect(item?.[0]).toBe("base")
          const one = named(item!)
          const two = Object.fromEntries(item!.map((field) => [field, `${field}2`]))
          expect(batch.argv(named(head), [one, two])).toEqual([...head, ...item!, ...item!.map((f) => `${f}2`)])
        }
      })
    }
  })

  it("every operation on a shard starts with base and pub; the others take keys", () => {
    for (const operation of all) {
      if (operation.name === "keepaliveMany") {
        expect(operation.layout.keyLocal).toBe("firstClientsKey")
        expect(operation.lua).toContain("local firstClientsKey = KEYS[1]\n")
        continue
      }
      expect(operation.layout.head.slice(0, 2), operation.name).toEqual(["base", "pub"])
      expect(operation.lua, operation.name).toMatch(
        /^(#!lua flags=allow-cross-slot-keys\n)?local base, pub = ARGV\[1\], ARGV\[2\]\n/
      )
    }
  })

  it("the Lua of every operation binds each ARGV field of its layout to a local of its name", () => {
    for (const operation of all) {
      const { head, item, rest } = operation.layout
      const own = operation.name === "keepaliveMany" ? head : head.slice(2)
      const from = operation.name === "keepaliveMany" ? 1 : 3
      if (own.length > 0) {
        expect(operation.lua, operation.name).toContain(
          `local ${own.join(", ")} = ${own.map((_, i) => `ARGV[${from + i}]`).join(", ")}\n`
        )
      }
      if (item !== undefined) {
        const n = item.length
        expect(operation.lua, operation.name).toContain(
          `for i = ${head.length + 1}, #ARGV - ${n - 1}, ${n} do\n  base = ARGV[i]\n`
        )
        const fields = item.slice(1)
        expect(operation.lua, operation.name).toContain(
          `  local ${fields.join(", ")} = ${fields.map((_, k) => `ARGV[i + ${k + 1}]`).join(", ")}\n`
        )
      }
      if (rest !== undefined) {
        expect(operation.lua, operation.name).toContain(
          `for i = ${head.length + 1}, #ARGV do\n  local ${rest.local} = ARGV[i]\n`
        )
      }
    }
  })

  it("every operation's declared helpers are exactly those its Lua calls; each helper's, those it calls", () => {
    for (const operation of all) {
      expect(calls(ownLua(operation)).map((h) => h.name), operation.name).toEqual(
        Prelude.helpers.filter((helper) => operation.includes.includes(helper)).map((h) => h.name)
      )
      // and what it defines is what it includes, with what those use
      expect(defined(operation.lua), operation.name).toEqual(Operation.included(operation.includes).map((h) => h.name))
    }
    for (const helper of Prelude.helpers) {
      expect(defined(helper.lua), helper.name).toEqual([helper.name])
      expect(calls(helper.lua).map((h) => h.name), helper.name).toEqual(helper.uses.map((h) => h.name))
      // defined after the helpers it uses
      for (const used of helper.uses) {
        expect(Prelude.helpers.indexOf(used), `${helper.name} uses ${used.name}`).toBeLessThan(
          Prelude.helpers.indexOf(helper)
        )
      }
      // a helper reads the shard's base or publish command only if it says so
      expect(/\b(base|pub)\b/.test(helper.lua), helper.name).toBe(helper.shard)
    }
  })

  it("an operation without a shard base cannot include a helper that needs one", () => {
    expect(() =>
      Operation.onKeys({
        name: "misdefined",
        args: { key: Operation.key },
        key: ({ key }) => key,
        includes: [Prelude.fenced],
        lua: "return 1",
        decode: Reply.integer
      })
    ).toThrow(/fenced needs a shard base/)
  })

  it("a script defines only the prelude functions it calls, and builds its keys inline", () => {
    // each `local function` is a closure made on every call of the script
    expect(defined(operationNamed("ack").lua)).toEqual(["now_ms", "fenced", "publish", "deliver", "release"])
    expect(defined(operationNamed("outOfBand").lua)).toEqual(["fenced", "publish"])
    expect(defined(operationNamed("leave").lua)).toEqual([
      "now_ms",
      "fenced",
      "publish",
      "deliver",
      "release",
      "gc",
      "remove_member"
    ])
    expect(defined(operationNamed("peek").lua)).toEqual([])
    expect(defined(operationNamed("keepaliveMany").lua)).toEqual(["now_ms"])
    for (const operation of all) {
      expect(operation.lua, operation.name).not.toMatch(/\bk_\w+\(/)
      // every function it defines is called
      for (const fn of defined(operation.lua)) {
        expect(operation.lua.split(`${fn}(`).length, `${operation.name}: ${fn}`).toBeGreaterThan(2)
      }
    }
    expect(operationNamed("ack").lua).toContain(`redis.call("HMGET", (base .. "m:" .. room), "fid", "dl", "pz")`)
  })

  it("no operation source spells an ARGV or KEYS index, a key, a meta field or a separator itself", () => {
    const sources = [
      ...fs.readdirSync(operationsDir).map((file) => path.join(operationsDir, file)),
      path.join(operationsDir, "../prelude.ts")
    ]
    const fields = Object.values(Keys.metaFields).join("|")
    for (const file of sources) {
      const source = fs.readFileSync(file, "utf8")
      const lua = source.replace(/\/\*\*[\s\S]*?\*\//g, "") // headers name ARGV fields in prose
      expect(lua, file).not.toMatch(/ARGV\[|KEYS\[/)
      expect(lua, file).not.toMatch(/base \.\./)
      expect(lua, file).not.toMatch(new RegExp(`"(${fields})"`))
      expect(lua, file).not.toContain(`"|"`)
    }
  })

  describe("decoders", () => {
    const ok = <A>(result: Result.Result<A, string>) => Result.getOrThrowWith(result, (e) => new Error(e))

    it("every decoder rejects a reply of another shape", () => {
      for (const operation of all) {
        for (const garbage of ["garbage", { a: 1 }, [[[]]], undefined]) {
          expect(Result.isFailure(operation.decode(garbage)), `${operation.name} ${JSON.stringify(garbage)}`).toBe(true)
        }
      }
    })

    it("replies decode to what the backend reports", () => {
      const decode = (name: string, reply: unknown) => ok(operationNamed(name).decode(reply))
      expect(decode("ack", 2)).toBe(2)
      expect(decode("claim", 3)).toBe(3)
      expect(Result.isFailure(operationNamed("claim").decode(0))).toBe(true)
      expect(decode("keepalive", 1)).toBe(true)
      expect(decode("keepaliveMany", 0)).toBe(false)
      expect(decode("join", [7])).toEqual({ event: 7, inFlight: null })
      expect(decode("join", [7, "m1", "e1", 2])).toEqual({
        event: 7,
        inFlight: { id: "m1", envelope: "e1", attempt: 2 }
      })
      expect(Result.isFailure(operationNamed("join").decode([7, "m1", "e1"]))).toBe(true)
      expect(decode("housekeep", -1)).toBeNull()
      expect(decode("housekeep", [2, ["c1"]])).toEqual({ ejections: 2, expired: ["c1"] })
      expect(decode("memberships", ["r1", "s", "r2", "a"])).toEqual([
        { room: "r1", mode: "sync" },
        { room: "r2", mode: "async" }
      ])
      expect(decode("resync", null)).toBeNull()
      expect(decode("resync", ["m1", "e1", 3])).toEqual({ id: "m1", envelope: "e1", attempt: 3 })
      expect(decode("roomState", [1, ["a", "b"], ["a"], "", "", "1000", 0])).toEqual({
        backlog: 1,
        members: ["a", "b"],
        acked: ["a"],
        inFlight: null,
        paused: false
      })
      expect(decode("roomState", [0, ["a"], [], "m1", "900", "1000", 1])).toEqual({
        backlog: 0,
        members: ["a"],
        acked: [],
        inFlight: { id: "m1", releasedAt: 900, age: 100 },
        paused: true
      })
      expect(decode("reject", 1)).toBe(true)
      expect(decode("pause", 0)).toBe(false)
      expect(decode("skip", [])).toBeNull()
      expect(decode("skip", ["p:1"])).toBe("p:1")
      expect(decode("purge", 3)).toBe(3)
      const letter = `p:1|${JSON.stringify([7, 900, 2, "edge-1", "rejected", `{"k":"q","d":"a|b"}`])}`
      expect(decode("deadLetters", [1, [letter]])).toEqual({
        letters: [{
          seq: 7,
          envelope: `{"k":"q","d":"a|b"}`,
          member: "edge-1",
          attempts: 2,
          at: 900,
          reason: "rejected"
        }],
        next: 7
      })
      expect(decode("deadLetters", [0, [letter]])).toMatchObject({ next: null })
      expect(decode("deadLetters", [0, []])).toEqual({ letters: [], next: null })
      expect(Result.isFailure(operationNamed("deadLetters").decode([0, ["p:1|[1,2]"]]))).toBe(true)
      expect(decode("redrive", 0)).toBe(false)
      expect(decode("dropDeadLetters", 4)).toBe(4)
      expect(decode("stats", [1, ["r1", "3"], 2, [["r1", "900", "m1", ["a"]], ["r2", "950", "", []]], "1000"])).toEqual(
        {
          rooms: 1,
          top: [{ room: "r1", backlog: 3 }],
          clients: 2,
          stalled: [{ room: "r1", id: "m1", releasedAt: 900, age: 100, waitingFor: ["a"] }]
        }
      )
    })
  })

  layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
    it.effect("every operation's Lua compiles", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const redis = yield* rawRedis(port)
        for (const operation of all) {
          expect(yield* cmd(redis, "SCRIPT", "LOAD", operation.lua)).toMatch(/^[0-9a-f]{40}$/)
        }
      }))

    const malformed = Operation.shard({
      name: "testMalformed",
      args: {},
      key: ({ base }) => Keys.clients(base),
      includes: [],
      lua: `return "garbage"`,
      decode: Reply.integer
    })

    it.effect("a reply the operation does not answer fails with an EngineError naming it, and the reply", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const runner = runnerOf(yield* RedisLayer.make({ host: "127.0.0.1", port }))
        const error = yield* Effect.flip(
          runner.run(malformed, { base: Keys.shardBase("ops", "0"), pub: "PUBLISH" }, Duration.seconds(2))
        )
        expect(error).toBeInstanceOf(QueueError.EngineError)
        expect(error).toMatchObject({ engine: "redis", operation: "testMalformed" })
        expect(String((error as QueueError.EngineError).cause)).toContain(`unexpected script reply "garbage"`)
      }))

    it.effect("a connection carries its runner through a copy (a service wrapped with a spread)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const connection = yield* RedisLayer.make({ host: "127.0.0.1", port })
        const runner = runnerOf(connection)
        expect(runner).toBeInstanceOf(Runner)
        expect(runnerOf({ ...connection, nodes: Effect.succeed(["wrapped"]) })).toBe(runner)
      }))

    it.effect("a connection registers an operation once, at its first run; another under the same name is refused", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const runner = runnerOf(yield* RedisLayer.make({ host: "127.0.0.1", port }))
        const roomsPage = operationNamed("roomsPage") as Operation.Operation<
          { base: string; pub: Keys.Pub; after: string; limit: number },
          ReadonlyArray<string>
        >
        const input = { base: Keys.shardBase("ops", "0"), pub: "PUBLISH", after: "", limit: 10 } as const
        expect(runner.names()).toEqual([])
        expect(yield* runner.run(roomsPage, input, Duration.seconds(2))).toEqual([])
        expect(yield* runner.run(roomsPage, input, Duration.seconds(2))).toEqual([])
        expect(runner.names()).toEqual(["roomsPage"])
        const impostor = { ...roomsPage, lua: `return {}` }
        const refused = yield* Effect.flip(runner.run(impostor, input, Duration.seconds(2)))
        expect(refused).toMatchObject({ _tag: "EngineError", operation: "roomsPage" })
        expect(String((refused as QueueError.EngineError).cause)).toContain(
          "another operation is registered as roomsPage"
        )
      }))
  })
})

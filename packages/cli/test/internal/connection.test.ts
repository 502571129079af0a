/**
 * Where the command connects and with which prefix: a flag wins over the environment, the
 * environment is read as the application reads it, and every mistake fails before anything
 * connects (the URL given points at a closed port: a connection attempt would be an EngineError).
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { clientLayer, connectionConfig, type SharedOptions } from "../../src/internal/connection.js"

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const none: SharedOptions = {
  url: Option.none(),
  clusterNodes: Option.none(),
  shards: Option.none(),
  prefix: Option.none(),
  timeout: Option.none(),
  json: false
}

/** A closed port: connecting there fails with an EngineError, which no test below may see. */
const closed = Option.some(Redacted.make("redis://127.0.0.1:1"))

const buildError = (options: SharedOptions, env: Record<string, string> = {}) =>
  Effect.scoped(Layer.build(clientLayer(options))).pipe(Effect.flip, withEnv(env))

const reveal = (value: string | Redacted.Redacted<string> | undefined) =>
  value === undefined || typeof value === "string" ? value : Redacted.value(value)

describe("connectionConfig", () => {
  const read = (options: Pick<SharedOptions, "url" | "clusterNodes">, env: Record<string, string>) =>
    Effect.flatMap(connectionConfig(options), (config) => config).pipe(withEnv(env))

  it.effect("a flag wins over the environment, with the environment's password", () =>
    Effect.gen(function*() {
      const env = {
        LOCKSTEP_REDIS_CLUSTER_NODES: "10.0.0.1:6379",
        LOCKSTEP_REDIS_URL: "redis://env:6379",
        LOCKSTEP_REDIS_PASSWORD: "secret"
      }
      const byUrl = yield* read(
        { url: Option.some(Redacted.make("redis://flag:6379")), clusterNodes: Option.none() },
        env
      )
      expect(byUrl.nodes).toBeUndefined()
      expect(reveal(byUrl.url)).toBe("redis://flag:6379")
      expect(reveal(byUrl.password)).toBe("secret")
      const byNodes = yield* read({ url: Option.none(), clusterNodes: Option.some("a:1, b:2") }, {})
      expect(byNodes).toEqual({ nodes: ["a:1", "b:2"] })
    }))

  it.effect("without a flag, the variables the application reads (RedisLayer.config)", () =>
    Effect.gen(function*() {
      const read1 = yield* read({ url: Option.none(), clusterNodes: Option.none() }, {
        LOCKSTEP_REDIS_CLUSTER_NODES: "10.0.0.1:6379,10.0.0.2:6379"
      })
      expect(read1.nodes).toEqual(["10.0.0.1:6379", "10.0.0.2:6379"])
    }))

  it.effect("--url and --cluster-nodes together are a usage error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(connectionConfig({ url: closed, clusterNodes: Option.some("a:1") }))
      expect(error._tag).toBe("UsageError")
      expect(error.message).toBe("give --url (a standalone Redis) or --cluster-nodes (a Redis Cluster), not both")
    }))
})

describe("clientLayer fails before it connects", () => {
  it.effect("without a prefix (flag or LOCKSTEP_KEY_PREFIX)", () =>
    Effect.gen(function*() {
      const error = yield* buildError({ ...none, url: closed })
      expect(error._tag).toBe("UsageError")
      expect(error.message).toBe("the key prefix is missing: give --prefix or set LOCKSTEP_KEY_PREFIX")
    }))

  it.effect("with a prefix that no client may have (S19), or a bad timeout", () =>
    Effect.gen(function*() {
      const braces = yield* buildError({ ...none, url: closed, prefix: Option.some("a{b}") })
      expect(braces._tag).toBe("ConfigError")
      expect(braces.message).toContain("keyPrefix")
      const timeout = yield* buildError({ ...none, url: closed, prefix: Option.some("app") }, {
        LOCKSTEP_OPERATION_TIMEOUT: "soon"
      })
      expect(timeout._tag).toBe("ConfigError")
      expect(timeout.message).toContain("LOCKSTEP_OPERATION_TIMEOUT")
      const zero = yield* buildError({
        ...none,
        url: closed,
        prefix: Option.some("app"),
        timeout: Option.some(Duration.zero)
      })
      expect(zero.message).toContain("operationTimeout")
    }))

  it.effect("with a bad shard count, given or read from LOCKSTEP_SHARDS", () =>
    Effect.gen(function*() {
      const given = yield* buildError({ ...none, url: closed, prefix: Option.some("app"), shards: Option.some(0) })
      expect(given._tag).toBe("ConfigError")
      expect(given.message).toContain("shards must be an integer from 1 to 16384, got 0")
      const read = yield* buildError({ ...none, url: closed, prefix: Option.some("app") }, { LOCKSTEP_SHARDS: "many" })
      expect(read._tag).toBe("ConfigError")
      expect(read.message).toContain(
        `LOCKSTEP_SHARDS: expected an integer from 1 to 16384, got "many" — the number of shards`
      )
      // read as the application reads it (ShardLayer.config): out of range too
      const zero = yield* buildError({ ...none, url: closed, prefix: Option.some("app") }, { LOCKSTEP_SHARDS: "0" })
      expect(zero.message).toContain(`LOCKSTEP_SHARDS: expected an integer from 1 to 16384, got "0"`)
    }))

  it.effect("with a URL that cannot be read (its password never shown)", () =>
    Effect.gen(function*() {
      const error = yield* buildError({
        ...none,
        url: Option.some(Redacted.make("http://user:hunter2@host")),
        prefix: Option.some("app")
      })
      expect(error._tag).toBe("ConfigError")
      expect(error.message).toContain("the scheme must be redis: or rediss:")
      expect(error.message).not.toContain("hunter2")
    }))
})

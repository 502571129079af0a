/**
 * RedisLayer against a spawned server with ACL users: URL parsing (credentials, percent-encoding,
 * db), typed failures (wrong password, unreachable, black-holed), nothing leaked on failure, and
 * `layerConfig` from a ConfigProvider.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { QueueConfig, QueueError, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisConnection, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import { Cause, Config, ConfigProvider, Context, Duration, Effect, Exit, Layer, Redacted, Scope } from "effect"
import * as HarnessNet from "../src/testing/internal/net.js"
import {
  captureLogs,
  clientList,
  eventually,
  evictionChecked,
  freshPrefix,
  invalidData,
  makeClient,
  rawRedis,
  scanKeys,
  subscribe
} from "./utils/redisProbe.js"

const acl = [
  "--user",
  "alice",
  "on",
  ">s3cret",
  "~*",
  "&*",
  "+@all",
  "--user",
  "bob",
  "on",
  ">p@ss:w/rd %",
  "~*",
  "&*",
  "+@all"
]

/**
 * The error is a configuration error for a value given but wrong (`QueueConfig.invalidData`;
 * Effect 3's `ConfigError.InvalidData`); returns its message (the error's own, which names the option).
 */
const expectInvalidData = (error: unknown): string => {
  expect(invalidData(error), String(error)).toBeDefined()
  return String((error as Error).message)
}

/** A ConfigProvider of these environment variables only (Effect 3's `ConfigProvider.fromMap`). */
const env = (variables: ReadonlyArray<readonly [string, string]>) =>
  ConfigProvider.fromEnv({ env: Object.fromEntries(variables) })

/** Build a RedisConnection (+ single sharding) in a fresh scope; report how it ended and how long it took. */
const tryConnect = (layer: Layer.Layer<RedisConnection.RedisConnection, QueueError.EngineError | unknown>) =>
  Effect.scoped(Layer.build(Layer.merge(layer, ShardLayer.single))).pipe(Effect.flip, Effect.timed)

describe("RedisLayer", () => {
  layer(RedisTestServer.layer({ extraArgs: acl }), { excludeTestServices: true })((it) => {
    it.effect("parses redis://user:pass@host:port/db: authenticates as the user on the chosen db", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const raw2 = yield* rawRedis(port, 2)
        const prefix = freshPrefix("url")
        const context = yield* Layer.build(
          Layer.merge(RedisLayer.layer(`redis://alice:s3cret@127.0.0.1:${port}/2`), ShardLayer.single)
        )
        const a = yield* makeClient(context, { keyPrefix: prefix })
        const b = yield* makeClient(context, { keyPrefix: prefix })
        const s = yield* subscribe(a, "room")
        yield* b.send("room", "hello")
        yield* b.send("room", "queued")
        const d = yield* s.next()
        expect(d.data).toBe("hello")

        const alice = (yield* clientList(raw)).filter((c) => c.user === "alice")
        expect(alice.length).toBe(2)
        for (const c of alice) expect(c.db).toBe("2")
        expect(yield* scanKeys(raw, prefix)).toEqual([]) // db 0
        expect((yield* scanKeys(raw2, prefix)).length).toBeGreaterThan(0) // db 2
        const connection = Context.get(context, RedisConnection.RedisConnection)
        expect(connection.kind).toBe("standalone")
        expect(yield* connection.nodes).toEqual([`127.0.0.1:${port}`])
      }))

    it.effect("decodes percent-encoded credentials", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const url = `redis://bob:${encodeURIComponent("p@ss:w/rd %")}@127.0.0.1:${port}`
        const context = yield* Layer.build(Layer.merge(RedisLayer.layer(url), ShardLayer.single))
        const q = yield* makeClient(context, { keyPrefix: freshPrefix("enc") })
        yield* subscribe(q, "room")
        const bob = (yield* clientList(raw)).filter((c) => c.user === "bob")
        expect(bob.length).toBe(2)
        for (const c of bob) expect(c.db).toBe("0")
      }))

    it.effect("a wrong password fails with a typed EngineError and leaves no connection open", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const before = (yield* clientList(raw)).length
        const [elapsed, error] = yield* tryConnect(RedisLayer.layer(`redis://alice:wrong@127.0.0.1:${port}/2`))
        expect(error).toBeInstanceOf(QueueError.EngineError)
        expect((error as QueueError.EngineError).operation).toBe("connect")
        expect(Duration.toMillis(elapsed)).toBeLessThan(2000)
        yield* eventually(
          Effect.map(clientList(raw), (cs) => cs.length),
          (n) => n === before,
          "the failed connection to close"
        )
        // and the same for the options form with an unknown user
        const [, error2] = yield* tryConnect(
          RedisLayer.layer({ host: "127.0.0.1", port, username: "mallory", password: "s3cret" })
        )
        expect(error2).toBeInstanceOf(QueueError.EngineError)
      }))

    it.effect("an unreachable port fails fast with EngineError", () =>
      Effect.gen(function*() {
        const [closed] = yield* HarnessNet.freePorts(1)
        const [elapsed, error] = yield* tryConnect(
          RedisLayer.layer({ host: "127.0.0.1", port: closed!, connectTimeout: "500 millis" })
        )
        expect(error).toBeInstanceOf(QueueError.EngineError)
        expect((error as QueueError.EngineError).operation).toBe("connect")
        expect(Duration.toMillis(elapsed)).toBeLessThan(1500)
      }))

    it.effect("a black-holed server fails with EngineError after connectTimeout", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const proxy = yield* TcpProxy.make({ targetPort: port })
        yield* proxy.blackhole
        const [elapsed, error] = yield* tryConnect(
          RedisLayer.layer({ host: "127.0.0.1", port: proxy.port, connectTimeout: "500 millis" })
        )
        expect(error).toBeInstanceOf(QueueError.EngineError)
        expect(Duration.toMillis(elapsed)).toBeGreaterThanOrEqual(450)
        expect(Duration.toMillis(elapsed)).toBeLessThan(1500)
        // the connection was ended, not left to retry in the background: once the network heals
        // the proxy sees the close and no new connection arrives
        yield* proxy.restore
        yield* eventually(proxy.connections, (n) => n === 0, "the proxied connection to close")
        yield* Effect.sleep("300 millis")
        expect(yield* proxy.connections).toBe(0)
      }))

    it.effect("a password from the environment never shows in an error or a log line (wrong, unreachable, bad URL)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const [closed] = yield* HarnessNet.freePorts(1)
        const secret = "Sup3r-Secret-Pw"
        const cases: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, string]>]> = [
          ["a wrong password in LOCKSTEP_REDIS_PASSWORD", [
            ["LOCKSTEP_REDIS_URL", `redis://alice@127.0.0.1:${port}/2`],
            ["LOCKSTEP_REDIS_PASSWORD", secret]
          ]],
          ["a wrong password in the URL", [["LOCKSTEP_REDIS_URL", `redis://alice:${secret}@127.0.0.1:${port}`]]],
          ["an unreachable server", [
            ["LOCKSTEP_REDIS_URL", `redis://alice@127.0.0.1:${closed}`],
            ["LOCKSTEP_REDIS_PASSWORD", secret]
          ]],
          ["a URL that cannot be read", [["LOCKSTEP_REDIS_URL", `redis://alice:${secret}@127.0.0.1:${port}/abc`]]],
          ["a cluster that cannot be reached", [
            ["LOCKSTEP_REDIS_CLUSTER_NODES", `127.0.0.1:${closed}`],
            ["LOCKSTEP_REDIS_PASSWORD", secret]
          ]]
        ]
        for (const [what, variables] of cases) {
          const [exit, logs] = yield* captureLogs(
            Effect.exit(Effect.scoped(Layer.build(RedisLayer.layerConfig()))).pipe(
              Effect.provideService(ConfigProvider.ConfigProvider, env(variables))
            )
          )
          expect(Exit.isFailure(exit), what).toBe(true)
          if (Exit.isSuccess(exit)) continue
          const error = Cause.squash(exit.cause)
          expect(String((error as Error).message), what).not.toContain(secret)
          expect(Cause.pretty(exit.cause), what).not.toContain(secret)
          expect(JSON.stringify(error), what).not.toContain(secret)
          expect(JSON.stringify(logs), what).not.toContain(secret)
        }
        // a cluster connection whose nodes refuse the password (ioredis keeps the last node's error)
        const [exit, logs] = yield* captureLogs(Effect.exit(Effect.scoped(Layer.build(
          RedisLayer.cluster([`127.0.0.1:${port}`], { username: "alice", password: Redacted.make(secret) })
        ))))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          expect(Cause.pretty(exit.cause)).not.toContain(secret)
          expect(JSON.stringify(Cause.squash(exit.cause))).not.toContain(secret)
        }
        expect(JSON.stringify(logs)).not.toContain(secret)
      }))

    it.effect("layerConfig takes the password from LOCKSTEP_REDIS_PASSWORD, over the URL's", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const provider = env([
          ["LOCKSTEP_REDIS_URL", `redis://alice:not-this-one@127.0.0.1:${port}/4`],
          ["LOCKSTEP_REDIS_PASSWORD", "s3cret"]
        ])
        const context = yield* Layer.build(Layer.merge(RedisLayer.layerConfig(), ShardLayer.single)).pipe(
          Effect.provideService(ConfigProvider.ConfigProvider, provider)
        )
        const q = yield* makeClient(context, { keyPrefix: freshPrefix("pw") })
        yield* subscribe(q, "room")
        const alice = (yield* clientList(raw)).filter((c) => c.user === "alice" && c.db === "4")
        expect(alice.length).toBe(2)
        // and a Redacted password or URL is accepted where a string is
        const redacted = yield* Layer.build(
          RedisLayer.layer({ host: "127.0.0.1", port, username: "alice", password: Redacted.make("s3cret") })
        )
        expect(yield* Context.get(redacted, RedisConnection.RedisConnection).nodes).toEqual([`127.0.0.1:${port}`])
        yield* Layer.build(RedisLayer.layer(Redacted.make(`redis://alice:s3cret@127.0.0.1:${port}`)))
      }))

    it.effect("no eviction warning when the server has maxmemory-policy noeviction (the default)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const [, logs] = yield* captureLogs(Layer.build(RedisLayer.layer({ host: "127.0.0.1", port })))
        yield* evictionChecked(logs)
        expect(logs.filter((l) => /maxmemory|evict/i.test(l.message) && l.level !== "Debug")).toEqual([])
        expect(logs.some((l) => l.message.includes(`127.0.0.1:${port} noeviction`))).toBe(true)
      }))

    it.effect("an invalid URL is a configuration error (QueueConfig.invalidData), not a defect", () =>
      Effect.gen(function*() {
        const [, error] = yield* tryConnect(RedisLayer.layer("not a url"))
        expectInvalidData(error)
      }))

    it.effect("a blank LOCKSTEP_REDIS_CLUSTER_NODES (or a blank node in it) is a configuration error, not a standalone Redis", () =>
      Effect.gen(function*() {
        // (an empty variable is unset for Effect 4's ConfigProvider.fromEnv: not tried here, it
        // would connect to the default URL)
        for (const nodes of [" ", "127.0.0.1:7000, ", "127.0.0.1:7000,,127.0.0.1:7001"]) {
          const [, error] = yield* tryConnect(RedisLayer.layerConfig()).pipe(
            Effect.provideService(ConfigProvider.ConfigProvider, env([["LOCKSTEP_REDIS_CLUSTER_NODES", nodes]]))
          )
          expect(expectInvalidData(error), JSON.stringify(nodes)).toContain("LOCKSTEP_REDIS_CLUSTER_NODES")
        }
        // an explicitly empty list (a structured ConfigProvider) too
        const [, error] = yield* tryConnect(RedisLayer.layerConfig()).pipe(
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            ConfigProvider.fromUnknown({ LOCKSTEP_REDIS_CLUSTER_NODES: [] })
          )
        )
        expect(expectInvalidData(error)).toContain("at least one node")
      }))

    it.effect("a db that is not a non-negative integer is refused, not silently dropped; the message hides the password", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        for (const db of ["abc", "-1", "1.5", "2x"]) {
          const [, error] = yield* tryConnect(RedisLayer.layer(`redis://alice:s3cret@127.0.0.1:${port}/${db}`))
          const message = expectInvalidData(error)
          expect(message, db).toMatch(/db/)
          expect(message, db).not.toContain("s3cret")
        }
        // and neither is a URL of another scheme taken for a Redis one
        expectInvalidData((yield* tryConnect(RedisLayer.layer(`http://127.0.0.1:${port}`)))[1])
      }))

    it.effect("layerConfig reads LOCKSTEP_REDIS_URL from the ConfigProvider", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const prefix = freshPrefix("cfg")
        const provider = env([
          ["LOCKSTEP_REDIS_URL", `redis://alice:s3cret@127.0.0.1:${port}/3`],
          ["LOCKSTEP_KEY_PREFIX", prefix],
          ["LOCKSTEP_CLIENT_TIMEOUT", "30 seconds"]
        ])
        const Live = ClientLayer.layerConfig().pipe(
          Layer.provide(ShardLayer.single),
          Layer.provide(RedisLayer.layerConfig()),
          Layer.provide(ConfigProvider.layer(provider))
        )
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(Layer.merge(Live, ShardLayer.single), scope)
        const q = yield* Effect.provide(SyncFanoutQueue.SyncFanoutQueue, context)
        const s = yield* subscribe(q, "room").pipe(Scope.provide(scope))
        yield* q.send("room", "from env")
        expect((yield* s.next()).data).toBe("from env")
        const alice = (yield* clientList(raw)).filter((c) => c.user === "alice")
        expect(alice.map((c) => c.db)).toEqual(["3", "3"])
        yield* Scope.close(scope, Exit.void)
        yield* eventually(
          Effect.map(clientList(raw), (cs) => cs.filter((c) => c.user === "alice").length),
          (n) => n === 0,
          "the env-configured connections to close"
        )

        // the provider given as a service of the effect works as well, and a bad URL is a configuration error
        const [, error] = yield* tryConnect(RedisLayer.layerConfig()).pipe(
          Effect.provideService(ConfigProvider.ConfigProvider, env([["LOCKSTEP_REDIS_URL", "::nope::"]]))
        )
        expectInvalidData(error)
      }))

    it.effect("layerConfig takes a Config of its own: Config.nested, or one Config per field (other names)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const [closed] = yield* HarnessNet.freePorts(1)
        const raw = yield* rawRedis(port)
        // the default variables point nowhere: only the ones the given Config names are read
        const provider = env([
          ["LOCKSTEP_REDIS_URL", `redis://127.0.0.1:${closed}`],
          ["LOCKSTEP_KEY_PREFIX", "not-this-one"],
          ["EU_LOCKSTEP_REDIS_URL", `redis://alice:s3cret@127.0.0.1:${port}/5`],
          ["EU_LOCKSTEP_KEY_PREFIX", freshPrefix("eu")],
          ["MY_REDIS", `redis://alice@127.0.0.1:${port}/6`],
          ["MY_PASSWORD", "s3cret"],
          ["MY_PREFIX", freshPrefix("mine")]
        ])
        const nested = ClientLayer.layerConfig(QueueConfig.config.pipe(Config.nested("EU"))).pipe(
          Layer.provide(ShardLayer.single),
          Layer.provide(RedisLayer.layerConfig(RedisLayer.config.pipe(Config.nested("EU"))))
        )
        const named = ClientLayer.layerConfig({ keyPrefix: Config.String("MY_PREFIX") }).pipe(
          Layer.provide(ShardLayer.single),
          Layer.provide(RedisLayer.layerConfig({
            url: Config.Redacted("MY_REDIS"),
            password: Config.Redacted("MY_PASSWORD")
          }))
        )
        for (const [Live, db] of [[nested, "5"], [named, "6"]] as const) {
          const scope = yield* Scope.make()
          const context = yield* Layer.buildWithScope(Live, scope).pipe(
            Effect.provideService(ConfigProvider.ConfigProvider, provider)
          )
          const q = Context.get(context, SyncFanoutQueue.SyncFanoutQueue)
          const s = yield* subscribe(q, "room").pipe(Scope.provide(scope))
          yield* q.send("room", `db ${db}`)
          expect((yield* s.next()).data).toBe(`db ${db}`)
          expect((yield* clientList(raw)).filter((c) => c.db === db).map((c) => c.user)).toEqual(["alice", "alice"])
          yield* Scope.close(scope, Exit.void)
        }
        // a value of a Config of one's own that is wrong is named by its field
        const [, badUrl] = yield* tryConnect(RedisLayer.layerConfig({ url: Config.succeed("http://nowhere") }))
        expect(invalidData(badUrl)?.path).toEqual(["url"])
        const [, noNodes] = yield* tryConnect(RedisLayer.layerConfig({ nodes: Config.succeed([]) }))
        expect(invalidData(noNodes)?.path).toEqual(["nodes"])
        // and the default still names the variable
        const [, badVariable] = yield* tryConnect(RedisLayer.layerConfig()).pipe(
          Effect.provideService(ConfigProvider.ConfigProvider, env([["LOCKSTEP_REDIS_URL", "http://nowhere"]]))
        )
        expect(invalidData(badVariable)?.path).toEqual(["LOCKSTEP_REDIS_URL"])
      }))
  })

  layer(RedisTestServer.layer({ extraArgs: ["--maxmemory-policy", "allkeys-lru"] }), { excludeTestServices: true })(
    (it) => {
      it.effect("a server that may evict keys is named in ONE warning at connect, with the fix", () =>
        Effect.gen(function*() {
          const { port } = yield* RedisTestServer.RedisTestServer
          const [, logs] = yield* captureLogs(Layer.build(RedisLayer.layer({ host: "127.0.0.1", port })))
          yield* evictionChecked(logs)
          const warnings = logs.filter((l) => l.level === "Warn")
          expect(warnings.length, JSON.stringify(logs)).toBe(1)
          expect(warnings[0]!.message).toContain("allkeys-lru")
          expect(warnings[0]!.message).toContain("CONFIG SET maxmemory-policy noeviction")
          expect(warnings[0]!.message).toContain(`127.0.0.1:${port}`)
        }))
    }
  )

  // the harness binds 127.0.0.1; these arguments come after its own, so the server listens on both
  layer(RedisTestServer.layer({ extraArgs: ["--bind", "127.0.0.1", "::1"] }), { excludeTestServices: true })((it) => {
    it.effect("an IPv6 literal in a URL (redis://[::1]:port) connects to ::1", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const context = yield* Layer.build(Layer.merge(RedisLayer.layer(`redis://[::1]:${port}/1`), ShardLayer.single))
        const q = yield* makeClient(context, { keyPrefix: freshPrefix("v6") })
        const s = yield* subscribe(q, "room")
        yield* q.send("room", "over IPv6")
        expect((yield* s.next()).data).toBe("over IPv6")
        const v6 = (yield* clientList(raw)).filter((c) => c.addr.startsWith("[::1]:") || c.addr.startsWith("::1:"))
        expect(v6.map((c) => c.db)).toEqual(["1", "1"])
        expect(yield* Context.get(context, RedisConnection.RedisConnection).nodes).toEqual([`[::1]:${port}`])
        // options name the host as a URL would, with or without brackets, as a cluster node does
        for (const host of ["[::1]", "::1"]) {
          const connection = yield* Layer.build(RedisLayer.layer({ host, port }))
          expect(yield* Context.get(connection, RedisConnection.RedisConnection).nodes).toEqual([`[::1]:${port}`])
        }
      }))

    it.effect("an IPv6 literal cluster node address ([::1]:port) is parsed, a bad one refused", () =>
      Effect.gen(function*() {
        // a standalone server is no cluster: the connection fails, but as an engine error after
        // reaching it, not as a DNS failure of "[::1]"
        const { port } = yield* RedisTestServer.RedisTestServer
        const [, error] = yield* tryConnect(RedisLayer.cluster([`[::1]:${port}`], { connectTimeout: "2 seconds" }))
        expect(error).toBeInstanceOf(QueueError.EngineError)
        expect(String((error as QueueError.EngineError).message)).not.toMatch(/ENOTFOUND/)
        for (const node of ["[::1]", "[::1]:", "host:port", "host", ":6379"]) {
          expectInvalidData((yield* tryConnect(RedisLayer.cluster([node])))[1])
        }
      }))
  })

  it.effect("options given but wrong fail the layer with a ConfigError naming the option, before connecting", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [RedisLayer.RedisOptions, string]> = [
        [{ host: "" }, "host"],
        [{ port: 0 }, "port"],
        [{ port: 65536 }, "port"],
        [{ port: 1.5 }, "port"],
        [{ db: -1 }, "db"],
        [{ db: 1.5 }, "db"],
        [{ connectTimeout: "soon" as unknown as Duration.Input }, "connectTimeout"],
        [{ connectTimeout: 0 }, "connectTimeout"],
        [{ connectTimeout: Duration.infinity }, "connectTimeout"],
        [{ username: 7 as unknown as string }, "username"],
        [{ password: 7 as unknown as string }, "password"],
        [{ enableAutoPipelining: "yes" as unknown as boolean }, "enableAutoPipelining"],
        // it would prefix the key a script is called with, not the keys the script builds (S19)
        [{ ioredis: { keyPrefix: "app:" } }, "ioredis.keyPrefix"]
      ]
      for (const [options, option] of cases) {
        // port 1 (closed): were an option let through, the test would fail to connect, never reach a real server
        for (const built of [RedisLayer.layer({ port: 1, ...options }), RedisLayer.cluster(["127.0.0.1:1"], options)]) {
          const [, error] = yield* tryConnect(built)
          expect(invalidData(error)?.path, JSON.stringify(options)).toEqual([option])
          expect(String((error as Error).message)).toContain(option)
        }
      }
      for (
        const [cluster, option] of [
          [{ keyPrefix: "app:" }, "cluster.keyPrefix"],
          [{ redisOptions: { keyPrefix: "app:" } }, "cluster.redisOptions.keyPrefix"]
        ] as const
      ) {
        const [, error] = yield* tryConnect(RedisLayer.cluster(["127.0.0.1:1"], { cluster }))
        expect(invalidData(error)?.path).toEqual([option])
      }
      // a cluster node given as { host, port } is checked as one given as text
      for (const node of [{ host: "", port: 1 }, { host: "127.0.0.1", port: 0 }]) {
        expect(invalidData((yield* tryConnect(RedisLayer.cluster([node])))[1])?.path).toEqual(["nodes"])
      }
    }))
})

import { assert, describe, it } from "@effect/vitest"
import { RedisTestCluster, RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { Cluster, Redis } from "ioredis"
import * as Net from "node:net"
import * as HarnessNet from "../src/testing/internal/net.js"

/** An ioredis client that never reconnects nor queues, closed with the scope. */
const connect = (port: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const client = new Redis({
        host: "127.0.0.1",
        port,
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null
      })
      // failures surface through the command promises; keep ioredis from logging them
      client.on("error", () => {})
      return client
    }),
    (client) => Effect.sync(() => client.disconnect())
  )

/** Does anything accept connections and answer PING on `port`? */
const answersPing = (port: number) =>
  Effect.scoped(
    Effect.flatMap(connect(port), (client) =>
      Effect.tryPromise(async () => {
        await client.connect()
        return await client.ping()
      }))
  ).pipe(Effect.result, Effect.map(Result.isSuccess))

/** Can we listen on `port`, i.e. does no process (a redis-server still starting, say) hold it? */
const portIsFree = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const server = Net.createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen(port, "127.0.0.1", () => server.close(() => resume(Effect.succeed(true))))
  })

describe("RedisTestServer", () => {
  it.live("spawns, stops and restarts on the same port, and is gone after the scope", () =>
    Effect.gen(function*() {
      const port = yield* Effect.gen(function*() {
        const server = yield* RedisTestServer.RedisTestServer
        assert.strictEqual(server.host, "127.0.0.1")
        assert.notStrictEqual(server.port, 6379)
        assert.strictEqual(server.url, `redis://127.0.0.1:${server.port}`)

        const pong = yield* Effect.scoped(Effect.flatMap(connect(server.port), (client) =>
          Effect.promise(async () => {
            await client.connect()
            return await client.ping()
          })))
        assert.strictEqual(pong, "PONG")

        yield* server.stop
        assert.isFalse(yield* answersPing(server.port))
        yield* server.stop // idempotent

        yield* server.start
        assert.isTrue(yield* answersPing(server.port))
        yield* server.start // idempotent

        yield* server.kill
        assert.isFalse(yield* answersPing(server.port))
        yield* server.start
        assert.isTrue(yield* answersPing(server.port))
        return server.port
      }).pipe(Effect.provide(RedisTestServer.layer()))

      assert.isFalse(yield* answersPing(port))
    }))

  it.effect("works under TestClock: start, stop and kill wait on real time", () =>
    Effect.gen(function*() {
      const server = yield* RedisTestServer.RedisTestServer
      yield* server.stop
      assert.isFalse(yield* answersPing(server.port))
      yield* server.start
      yield* server.kill
      yield* server.start
      assert.isTrue(yield* answersPing(server.port))
    }).pipe(Effect.provide(RedisTestServer.layer())), 20_000)

  it.live("an interrupted start or a running server's interrupted scope leaves no process behind", () =>
    Effect.gen(function*() {
      // interrupted before the spawn, while waiting for PONG, and (most likely) once it runs
      for (const delay of [0, 10, 60, 400]) {
        const [port] = yield* HarnessNet.freePorts(1)
        const fiber = yield* RedisTestServer.RedisTestServer.pipe(
          Effect.andThen(Effect.never),
          Effect.provide(RedisTestServer.layer({ port: port! })),
          Effect.forkChild
        )
        yield* Effect.sleep(`${delay} millis`)
        yield* Fiber.interrupt(fiber)
        assert.isTrue(yield* portIsFree(port!), `a redis-server still holds ${port} (interrupted after ${delay} ms)`)
      }
    }))

  it.live("fails with an install hint when redis-server is missing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.scoped(RedisTestServer.RedisTestServer).pipe(
          Effect.provide(RedisTestServer.layer({ executable: "redis-server-not-installed-here" }))
        )
      )
      assert.strictEqual(error._tag, "RedisTestError")
      assert.strictEqual(error.reason, "NotInstalled")
      assert.include(error.message, "apt-get install redis-server")
    }))

  it.live("reports a server that dies during start-up", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        RedisTestServer.RedisTestServer.pipe(
          Effect.provide(RedisTestServer.layer({ extraArgs: ["--no-such-option", "1"] }))
        )
      )
      assert.strictEqual(error.reason, "StartFailed")
      assert.include(error.message, "no-such-option")
    }))

  it.live("its one-off health-check command (internal) replies in strings and fails typed", () =>
    Effect.gen(function*() {
      const { port } = yield* RedisTestServer.RedisTestServer
      assert.strictEqual(yield* HarnessNet.command(port, ["SET", "k", "v"]), "OK")
      assert.strictEqual(yield* HarnessNet.command(port, ["GET", "k"]), "v")
      assert.strictEqual(yield* HarnessNet.command(port, ["GET", "missing"]), null)
      assert.strictEqual(yield* HarnessNet.command(port, ["DBSIZE"]), "1")

      const refused = yield* Effect.flip(HarnessNet.command(port, ["NO-SUCH-COMMAND"]))
      assert.instanceOf(refused, RedisTestServer.RedisTestError)
      assert.strictEqual(refused.reason, "CommandFailed")
      assert.include(refused.message, "unknown command")
      const array = yield* Effect.flip(HarnessNet.command(port, ["KEYS", "*"]))
      assert.include(array.message, "array replies are not supported")

      const [closed] = yield* HarnessNet.freePorts(1)
      const unreachable = yield* Effect.flip(HarnessNet.command(closed!, ["PING"]))
      assert.strictEqual(unreachable.reason, "CommandFailed")
      const proxy = yield* TcpProxy.make({ targetPort: port })
      yield* proxy.blackhole
      const silent = yield* Effect.flip(HarnessNet.command(proxy.port, ["PING"], { timeout: "300 millis" }))
      assert.strictEqual(silent.reason, "CommandFailed")
      assert.include(silent.message, "timed out")
    }).pipe(Effect.scoped, Effect.provide(RedisTestServer.layer())))
})

describe("RedisTestCluster", () => {
  it.live("spawns a 3-master cluster that serves keys in every slot range", () =>
    Effect.gen(function*() {
      const cluster = yield* RedisTestCluster.RedisTestCluster
      assert.strictEqual(cluster.nodes.length, 3)
      assert.strictEqual(cluster.masters.length, 3)
      assert.strictEqual(cluster.replicas.length, 0)
      assert.isFalse(cluster.nodes.some((node) => node.port === 6379))

      const client = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const client = new Cluster(cluster.masters.map(({ host, port }) => ({ host, port })))
          client.on("error", () => {})
          return client
        }),
        (client) => Effect.sync(() => client.disconnect())
      )
      const info = yield* Effect.promise(() => client.cluster("INFO"))
      assert.include(String(info), "cluster_state:ok")
      // "a", "b", "c" hash to slots 15495, 3300, 7365: one per master
      for (const key of ["a", "b", "c"]) {
        yield* Effect.promise(() => client.set(key, `value-${key}`))
        assert.strictEqual(yield* Effect.promise(() => client.get(key)), `value-${key}`)
      }

      const victim = cluster.nodes[0]!.port
      yield* cluster.killNode(victim)
      assert.isFalse(yield* answersPing(victim))
      yield* cluster.startNode(victim)
      yield* cluster.awaitHealthy()
      assert.isTrue(yield* answersPing(victim))
    }).pipe(Effect.scoped, Effect.provide(RedisTestCluster.layer({ masters: 3 }))))

  it.live("refuses fewer than 3 masters", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        RedisTestCluster.RedisTestCluster.pipe(Effect.provide(RedisTestCluster.layer({ masters: 2 })))
      )
      assert.strictEqual(error.reason, "InvalidOptions")
    }))
})

describe("TcpProxy", () => {
  it.live("cut drops the connection, refuses new ones until restore", () =>
    Effect.gen(function*() {
      const server = yield* RedisTestServer.RedisTestServer
      const proxy = yield* TcpProxy.make({ targetPort: server.port })
      const client = yield* connect(proxy.port)
      const closed = yield* Deferred.make<void>()
      client.on("close", () => Deferred.doneUnsafe(closed, Effect.void))

      yield* Effect.promise(() => client.connect())
      assert.strictEqual(yield* Effect.promise(() => client.ping()), "PONG")
      assert.strictEqual(yield* proxy.connections, 1)

      yield* proxy.cut
      yield* Deferred.await(closed).pipe(Effect.timeout("2 seconds"))
      assert.strictEqual(yield* proxy.connections, 0)
      assert.isFalse(yield* answersPing(proxy.port))

      yield* proxy.restore
      assert.isTrue(yield* answersPing(proxy.port))
    }).pipe(Effect.scoped, Effect.provide(RedisTestServer.layer())))

  it.live("blackhole stalls traffic that flows again on restore", () =>
    Effect.gen(function*() {
      const server = yield* RedisTestServer.RedisTestServer
      const proxy = yield* TcpProxy.make({ targetPort: server.port })
      const client = yield* connect(proxy.port)
      yield* Effect.promise(() => client.connect())
      assert.strictEqual(yield* Effect.promise(() => client.ping()), "PONG")

      yield* proxy.blackhole
      const pending = yield* Effect.forkChild(Effect.promise(() => client.ping("stalled")))
      // absence of a reply can only be observed over some time
      const early = yield* Fiber.await(pending).pipe(Effect.timeout("300 millis"), Effect.option)
      assert.isTrue(Option.isNone(early))

      yield* proxy.restore
      const reply = yield* Effect.promise(() => client.ping("stalled")).pipe(Effect.zip(Fiber.await(pending)))
      assert.strictEqual(reply[0], "stalled")
      assert.deepStrictEqual(reply[1]._tag, "Success")
    }).pipe(Effect.scoped, Effect.provide(RedisTestServer.layer())))
})

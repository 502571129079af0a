/**
 * The least ACL a lockstep user needs (documented in the package README), measured: a user with
 * exactly these rules runs a client's whole life (connect, subscribe sync and async, send,
 * out-of-band, ack, peek, roomState, metrics, keepalive, housekeeping with an ack-timeout
 * ejection, a dropped subscriber connection and its resync, leave, close) with no command refused
 * (ACL LOG stays empty) and every command of the list used (INFO commandstats); the same user on
 * another prefix is refused with a typed EngineError (NOPERM). On standalone and on a cluster.
 * Since every rule is used and nothing may be refused, leaving any rule out fails the test (INFO:
 * the variant without it shows what it is for).
 */
import { describe, expect, layer } from "@effect/vitest"
import { QueueError, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestCluster, RedisTestServer } from "@lockstep/redis/testing"
import { Cause, Context, Effect, Layer, Option, References, type Scope } from "effect"
import type { Redis } from "ioredis"
import { rawNodes } from "./utils/clusterProbe.js"
import { captureLogs, cmd, eventually, rawRedis, subscribe } from "./utils/redisProbe.js"

/** The commands the scripts call. */
const scriptCommands = [
  "time",
  "get",
  "set",
  "incr",
  "del",
  "hget",
  "hmget",
  "hset",
  "hdel",
  "hlen",
  "hexists",
  "hincrby",
  "sadd",
  "srem",
  "smove",
  "scard",
  "smembers",
  "sismember",
  "sunionstore",
  "zadd",
  "zrem",
  "zcard",
  "zscore",
  "zincrby",
  "zpopmin",
  "zrange",
  "zrevrange",
  "zrangebyscore",
  "zrangebylex"
]

/**
 * Keys and channels of the prefix and these commands only: from the client scripts (EVAL when the
 * server lacks them: NOSCRIPT), Pub/Sub, and INFO for ioredis' ready check and the
 * maxmemory-policy check; `extra` besides.
 */
const acl = (prefix: string, pubsub: ReadonlyArray<string>, extra: ReadonlyArray<string>): ReadonlyArray<string> => [
  "resetchannels",
  `~${prefix}:*`,
  `&${prefix}:*`,
  "-@all",
  "+evalsha",
  "+eval",
  "+info",
  ...[...pubsub, ...extra, ...scriptCommands].map((c) => `+${c}`)
]

/** The least ACL of a standalone user. */
const standaloneAcl = (prefix: string) => acl(prefix, ["subscribe", "unsubscribe", "publish"], [])

/**
 * On a cluster: sharded Pub/Sub instead, the slot map (ioredis' CLUSTER SLOTS, CLUSTER INFO),
 * CLIENT SETNAME (ioredis names its refresher and subscriber connections) and PING (ioredis 6's
 * health check of its sharded subscriber connections, `shardedSubscriberHealthCheckInterval`:
 * refused, it would still count as an answer, but fill the ACL LOG every 10 s per connection).
 */
const clusterAcl = (prefix: string) =>
  acl(prefix, ["ssubscribe", "sunsubscribe", "spublish"], ["cluster|slots", "cluster|info", "client|setname", "ping"])

const prefix = "acl"
const password = "l0ckstep-pw"
const user = (name: string, rules: ReadonlyArray<string>) => ["--user", name, "on", `>${password}`, ...rules]

/** Command calls per name, from INFO commandstats. */
const commandStats = (redis: Redis) =>
  Effect.map(cmd(redis, "INFO", "commandstats"), (info) => {
    const calls = new Map<string, number>()
    for (const match of String(info).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]))
    return calls
  })

/**
 * A client's whole life on `make`'s clients, as user `name`: the commands it needs, as a check
 * that none was refused (ACL LOG on every node) and which of `expected` were never called.
 */
const wholeLife = (
  nodes: ReadonlyArray<Redis>,
  make: Effect.Effect<SyncFanoutQueue.SyncFanoutQueue["Service"], unknown, Scope.Scope>,
  killSubscribers: Effect.Effect<unknown>,
  /** run last, while the clients still live (e.g. wait for a connection's periodic command) */
  beforeClose: Effect.Effect<unknown> = Effect.void
) =>
  Effect.gen(function*() {
    for (const node of nodes) {
      yield* cmd(node, "ACL", "LOG", "RESET")
      yield* cmd(node, "CONFIG", "RESETSTAT")
    }
    const [, logs] = yield* captureLogs(Effect.scoped(Effect.gen(function*() {
      const producer = yield* make
      const consumer = yield* make
      const second = yield* make
      const watcher = yield* make
      const sync = yield* subscribe(consumer, "room")
      const sync2 = yield* subscribe(second, "room")
      const async = yield* subscribe(watcher, "room", { mode: "async" })
      const m1 = yield* producer.send("room", "m1")
      yield* producer.send("room", "m2", { priority: 1 })
      yield* producer.sendOutOfBand("room", "oob")
      const d1 = yield* sync.next()
      expect(d1.id).toBe(m1)
      expect((yield* async.next()).id).toBe(m1)
      expect((yield* producer.peek("room")).map((m) => m.data)).toEqual(["m2"])
      yield* (yield* sync2.next()).ack
      // the ack does not wait for the server, and the producer asks on a connection of its own
      const state = yield* eventually(
        producer.roomState("room").pipe(Effect.orDie),
        (s) => s.acked.length > 0,
        "the second member's ack to reach the server"
      )
      expect(state.acked).toEqual([second.clientId])
      expect(Option.isSome(state.inFlight)).toBe(true)
      const metrics = yield* producer.metrics({ topRooms: 5 })
      expect(metrics.knownClients).toBe(4)
      expect(metrics.stalled.map((s) => s.room)).toEqual(["room"])
      expect((yield* producer.rooms()).rooms).toEqual(["room"])
      // keepalives run: the consumer stays known however long this takes
      yield* d1.ack
      // m2 is never acked by the consumer: housekeeping ejects it (ack-timeout, S11); a dropped
      // subscriber connection first makes every sync subscription resync (S12)
      yield* killSubscribers
      yield* eventually(
        Effect.map(Effect.orDie(producer.roomState("room")), (s) => s.members),
        (members) => !members.includes(consumer.clientId),
        "the ack-timeout ejection",
        "5 seconds"
      )
      // a fresh membership, left by closing its scope (S6); then the clients close (S20)
      const again = yield* subscribe(consumer, "other")
      yield* producer.send("other", "m3")
      expect((yield* again.next("5 seconds")).data).toBe("m3")
      yield* again.close
      yield* beforeClose
    })))
    const refused = yield* Effect.forEach(nodes, (node) => cmd(node, "ACL", "LOG"))
    const stats = yield* Effect.forEach(nodes, commandStats)
    const called = (command: string) => stats.some((s) => (s.get(command) ?? 0) > 0)
    return { logs, refused: refused.flat(), called }
  })

/** The rules' commands, without keys and channels. */
const commandsOf = (rules: ReadonlyArray<string>) => rules.filter((r) => r.startsWith("+")).map((r) => r.slice(1))

const config = { keyPrefix: prefix, clientTimeout: "1500 millis", ackTimeout: "500 millis" } as const

describe("the least ACL (README)", () => {
  const rules = standaloneAcl(prefix)
  // the same without INFO (the one @dangerous command of the list): ioredis' ready check disabled
  const noInfo = rules.filter((r) => r !== "+info")
  // the extras of a db other than 0 (SELECT) and a connection name (CLIENT SETNAME)
  const extras = [...rules, "+select", "+client|setname"]
  const users = [...user("lockstep", rules), ...user("noinfo", noInfo), ...user("extras", extras)]

  layer(RedisTestServer.layer({ extraArgs: users }), { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    const connect = (port: number, username: string, options?: Partial<RedisLayer.RedisOptions>) =>
      Layer.merge(RedisLayer.layer({ host: "127.0.0.1", port, username, password, ...options }), ShardLayer.single)
    const clientOn = (connection: ReturnType<typeof connect>) =>
      Effect.flatMap(Layer.build(connection), (context) => ClientLayer.make(config).pipe(Effect.provide(context)))

    it.effect("standalone: a user with exactly these rules lives a client's whole life; no command refused", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const admin = yield* rawRedis(port)
        const life = yield* wholeLife(
          [admin],
          clientOn(connect(port, "lockstep")),
          cmd(admin, "CLIENT", "KILL", "TYPE", "pubsub", "USER", "lockstep")
        )
        expect(life.logs.filter((l) => /NOPERM|permission/i.test(l.message))).toEqual([])
        expect(life.refused).toEqual([])
        // every rule is used (INFO is also sent by this test's own connection: proven necessary by
        // the one-off measurement of the README instead)
        expect(commandsOf(rules).filter((c) => c !== "info" && !life.called(c))).toEqual([])
      }))

    it.effect("standalone without INFO (no @dangerous command): ready check off, the eviction check skipped", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const admin = yield* rawRedis(port)
        const life = yield* wholeLife(
          [admin],
          clientOn(connect(port, "noinfo", { ioredis: { enableReadyCheck: false } })),
          cmd(admin, "CLIENT", "KILL", "TYPE", "pubsub", "USER", "noinfo")
        )
        // the INFO of the maxmemory-policy check is the only refusal, logged at debug level
        const refusedCommands = life.refused.map((entry) => {
          const fields = entry as Array<unknown>
          return String(fields[fields.indexOf("object") + 1])
        })
        expect([...new Set(refusedCommands)]).toEqual(["info"])
        const noperm = life.logs.filter((l) => /NOPERM/.test(l.message))
        expect(noperm.length).toBeGreaterThan(0)
        expect(noperm.every((l) => l.level === "Debug" && /maxmemory-policy/.test(l.message))).toBe(true)
      }))

    it.effect("SELECT and CLIENT SETNAME are needed only for a db other than 0 and a connection name", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const admin = yield* rawRedis(port)
        yield* cmd(admin, "ACL", "LOG", "RESET")
        const options = { db: 2, ioredis: { connectionName: "edge-1" } }
        const q = yield* clientOn(connect(port, "extras", options))
        const s = yield* subscribe(q, "room")
        yield* q.send("room", "db 2")
        expect((yield* s.next()).data).toBe("db 2")
        expect(yield* cmd(admin, "ACL", "LOG")).toEqual([])
      }))

    it.effect("a db the user may not SELECT fails the connection (ioredis alone would stay on db 0)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const error = yield* Effect.flip(Effect.scoped(clientOn(connect(port, "lockstep", { db: 2 }))))
        expect(error).toBeInstanceOf(QueueError.EngineError)
        expect(error.message).toMatch(/NOPERM/)
        expect(error.message).toMatch(/select/i)
      }).pipe(Effect.provideService(References.MinimumLogLevel, "None")))

    it.effect("the same user on another prefix is refused: NOPERM surfaces as a typed EngineError", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const context = yield* Layer.build(connect(port, "lockstep"))
        const intruder = yield* ClientLayer.make({ keyPrefix: "other", clientTimeout: "30 seconds" }).pipe(
          Effect.provide(context)
        )
        const payload = "payload-that-must-not-travel-with-the-error"
        const sent = yield* Effect.flip(intruder.send("room", payload))
        expect(sent).toBeInstanceOf(QueueError.EngineError)
        expect(sent.message).toMatch(/NOPERM/)
        // the failed command's arguments (every payload of the batch) are not part of the error
        expect(JSON.stringify(sent)).not.toContain(payload)
        expect(Cause.pretty(Cause.fail(sent))).not.toContain(payload)
        const joined = yield* Effect.flip(Effect.scoped(intruder.subscribe("room")))
        expect(joined).toBeInstanceOf(QueueError.EngineError)
        expect(joined.message).toMatch(/NOPERM/)
      }).pipe(Effect.provideService(References.MinimumLogLevel, "None"))) // its shutdown cannot unregister either
  })

  const clusterRules = clusterAcl(prefix)
  layer(
    RedisTestCluster.layer({ masters: 3, extraArgs: user("lockstep", clusterRules) }),
    { excludeTestServices: true, timeout: "60 seconds" }
  )((it) => {
    it.effect("cluster: a user with exactly these rules lives a client's whole life; no command refused", () =>
      Effect.gen(function*() {
        const cluster = yield* RedisTestCluster.RedisTestCluster
        const nodes = [...(yield* rawNodes()).values()]
        const make = Effect.map(
          Layer.build(
            ClientLayer.layer(config).pipe(
              Layer.provide(ShardLayer.layer({ shards: 8 })),
              Layer.provide(RedisLayer.cluster(cluster.masters, {
                username: "lockstep",
                password,
                // the sharded subscribers' health check (PING, every 10 s by default) at its shortest
                cluster: { shardedSubscriberHealthCheckInterval: 1000 }
              }))
            )
          ),
          (context) => Context.get(context, SyncFanoutQueue.SyncFanoutQueue)
        )
        // PINGs sent, whether run or refused (INFO commandstats counts them apart)
        const pinged = Effect.map(
          Effect.forEach(nodes, (node) => cmd(node, "INFO", "commandstats")),
          (infos) =>
            infos.reduce<number>((n, info) => {
              const line = /^cmdstat_ping:(.*)$/m.exec(String(info))?.[1] ?? ""
              const count = (field: string) => Number(new RegExp(`\\b${field}=(\\d+)`).exec(line)?.[1] ?? 0)
              return n + count("calls") + count("rejected_calls")
            }, 0)
        )
        const life = yield* wholeLife(
          nodes,
          make,
          Effect.forEach(nodes, (node) => cmd(node, "CLIENT", "KILL", "TYPE", "pubsub", "USER", "lockstep")),
          eventually(pinged, (n) => n > 0, "a health-check PING of a sharded subscriber", "5 seconds")
        )
        expect(life.logs.filter((l) => /NOPERM|permission/i.test(l.message))).toEqual([])
        expect(life.refused, JSON.stringify(life.refused)).toEqual([])
        expect(commandsOf(clusterRules).filter((c) => c !== "info" && !life.called(c))).toEqual([])
      }))
  })
})

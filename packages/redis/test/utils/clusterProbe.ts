/**
 * Probes for tests on a spawned Redis Cluster (S17): who owns which slot, node ids, a manual
 * single-slot migration (CLUSTER SETSLOT + MIGRATE), replication catch-up, connections counted by
 * name, and lockstep clients on their own named `Redis.Cluster` (direct, or through one TCP proxy
 * per node mapped with ioredis `natMap`, so a test can black-hole one client's link to one node).
 */
import type { QueueConfig } from "@lockstep/core"
import { ClientLayer, RedisLayer, type Sharding, ShardLayer } from "@lockstep/redis"
import { RedisTestCluster, TcpProxy } from "@lockstep/redis/testing"
import { Duration, Effect, Layer, type Scope } from "effect"
import type { Redis } from "ioredis"
import { clientList, cmd, type EngineContext, eventually, type Queue_, rawRedis } from "./redisProbe.js"

/** `[start, end, masterPort]` ranges of CLUSTER SLOTS as seen by `redis`. */
export const slotRanges = (
  redis: Redis
): Effect.Effect<ReadonlyArray<readonly [start: number, end: number, port: number]>> =>
  Effect.map(
    cmd(redis, "CLUSTER", "SLOTS"),
    (reply) =>
      (reply as Array<[number, number, [string, number, string]]>).map(([start, end, master]) =>
        [Number(start), Number(end), Number(master[1])] as const
      )
  )

/** The port of the master serving `slot`, as seen by `redis` (dies if the slot is unserved). */
export const ownerOf = (redis: Redis, slot: number): Effect.Effect<number> =>
  Effect.flatMap(slotRanges(redis), (ranges) => {
    const range = ranges.find(([start, end]) => slot >= start && slot <= end)
    return range === undefined ? Effect.die(new Error(`slot ${slot} is not served`)) : Effect.succeed(range[2])
  })

/** Node id by port (CLUSTER MYID of each node). */
export const nodeIds = (
  nodes: ReadonlyArray<{ readonly port: number; readonly redis: Redis }>
): Effect.Effect<ReadonlyMap<number, string>> =>
  Effect.map(
    Effect.forEach(nodes, ({ port, redis }) =>
      Effect.map(cmd(redis, "CLUSTER", "MYID"), (id) => [port, String(id)] as const)),
    (pairs) =>
      new Map(pairs)
  )

/**
 * Move one slot from master `from` to master `to` the way `redis-cli --cluster reshard` does, but
 * for exactly that slot: SETSLOT IMPORTING on the target, MIGRATING on the source, MIGRATE every
 * key in batches, then SETSLOT NODE on the target, the source and every other master.
 */
export const migrateSlot = (options: {
  readonly slot: number
  readonly from: { readonly port: number; readonly redis: Redis }
  readonly to: { readonly port: number; readonly redis: Redis }
  readonly others: ReadonlyArray<Redis>
}): Effect.Effect<{ readonly moved: number }> =>
  Effect.gen(function*() {
    const { from, others, slot, to } = options
    const ids = yield* nodeIds([from, to])
    const fromId = ids.get(from.port)!
    const toId = ids.get(to.port)!
    yield* cmd(to.redis, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromId)
    yield* cmd(from.redis, "CLUSTER", "SETSLOT", slot, "MIGRATING", toId)
    let moved = 0
    while (true) {
      const keys = (yield* cmd(from.redis, "CLUSTER", "GETKEYSINSLOT", slot, 100)) as Array<string>
      if (keys.length === 0) break
      yield* cmd(from.redis, "MIGRATE", "127.0.0.1", to.port, "", 0, 5000, "KEYS", ...keys)
      moved += keys.length
    }
    for (const redis of [to.redis, from.redis, ...others]) yield* cmd(redis, "CLUSTER", "SETSLOT", slot, "NODE", toId)
    return { moved }
  })

/** Wait until every replica of the master on `port` has acknowledged its whole replication stream. */
export const awaitReplicated = (redis: Redis, timeout: Duration.Input = "5 seconds"): Effect.Effect<void> =>
  Effect.asVoid(eventually(
    Effect.map(cmd(redis, "INFO", "replication"), (info) => {
      const text = String(info)
      const offset = Number(/master_repl_offset:(\d+)/.exec(text)?.[1] ?? -1)
      const replicas = [...text.matchAll(/slave\d+:[^\r\n]*offset=(\d+)/g)].map((m) => Number(m[1]))
      return { offset, replicas }
    }),
    ({ offset, replicas }) => replicas.length > 0 && replicas.every((r) => r === offset),
    "replicas caught up with their master",
    timeout
  ))

/**
 * Connections open under ioredis `connectionName` `name` on one node: the command connection is
 * named `name`, the sharded subscriber `ioredis-cluster(ssubscriber):name`, a classic cluster
 * subscriber `ioredis-cluster(subscriber):name`.
 */
export const connectionsOf = (
  redis: Redis,
  name: string
): Effect.Effect<{ readonly command: number; readonly ssubscriber: number; readonly subscriber: number }> =>
  Effect.map(clientList(redis), (clients) => ({
    command: clients.filter((c) => c.name === name).length,
    ssubscriber: clients.filter((c) => c.name === `ioredis-cluster(ssubscriber):${name}`).length,
    subscriber: clients.filter((c) => c.name === `ioredis-cluster(subscriber):${name}`).length
  }))

/** A raw connection to every node of the cluster in context, by port. */
export const rawNodes = (): Effect.Effect<
  ReadonlyMap<number, Redis>,
  never,
  Scope.Scope | RedisTestCluster.RedisTestCluster
> =>
  Effect.gen(function*() {
    const cluster = yield* RedisTestCluster.RedisTestCluster
    const nodes = yield* Effect.forEach(cluster.nodes, (node) =>
      Effect.map(rawRedis(node.port), (r) => [node.port, r] as const))
    return new Map(nodes)
  })

export interface ClusterClientOptions {
  /** ioredis `connectionName` of every connection of this client (CLIENT LIST tells them apart) */
  readonly name: string
  readonly shards: number
  readonly config: QueueConfig.QueueConfig
  /** reach each node through a TCP proxy of its own (natMap), default false */
  readonly proxied?: boolean
  readonly verifyInterval?: Duration.Input
  /** where `name` goes: the top-level `ioredis` options (default) or `cluster.redisOptions` */
  readonly nameVia?: "ioredis" | "cluster.redisOptions"
}

export interface ClusterClient {
  readonly queue: Queue_
  readonly context: EngineContext
  readonly sharding: Sharding.Sharding["Service"]
  /** node port → this client's proxy to it (empty unless `proxied`) */
  readonly proxies: ReadonlyMap<number, TcpProxy.TcpProxy>
}

/** A lockstep client on its own `Redis.Cluster` to the cluster in context, in the current scope. */
export const clusterClient = (
  options: ClusterClientOptions
): Effect.Effect<ClusterClient, never, Scope.Scope | RedisTestCluster.RedisTestCluster> =>
  Effect.gen(function*() {
    const cluster = yield* RedisTestCluster.RedisTestCluster
    const proxies = new Map<number, TcpProxy.TcpProxy>()
    if (options.proxied === true) {
      for (const node of cluster.nodes) proxies.set(node.port, yield* TcpProxy.make({ targetPort: node.port }))
    }
    const natMap = Object.fromEntries(
      [...proxies].map(([port, proxy]) => [`127.0.0.1:${port}`, { host: "127.0.0.1", port: proxy.port }])
    )
    const startup = options.proxied === true
      ? [...proxies.values()].map((p) => ({ host: "127.0.0.1", port: p.port }))
      : cluster.nodes.map((n) => ({ host: n.host, port: n.port }))
    const context = yield* Layer.build(Layer.merge(
      ShardLayer.layer({ shards: options.shards }),
      RedisLayer.cluster(startup, {
        ...(options.nameVia === "cluster.redisOptions" ? {} : { ioredis: { connectionName: options.name } }),
        ...(options.verifyInterval !== undefined ? { verifyInterval: options.verifyInterval } : {}),
        cluster: {
          ...(options.proxied === true ? { natMap } : {}),
          ...(options.nameVia === "cluster.redisOptions" ? { redisOptions: { connectionName: options.name } } : {})
        }
      })
    )).pipe(Effect.orDie)
    const queue = yield* ClientLayer.make(options.config).pipe(Effect.provide(context), Effect.orDie)
    const sharding = yield* ShardLayer.make({ shards: options.shards }).pipe(Effect.orDie)
    return { queue, context, sharding, proxies }
  })

/** Retry `effect` (e.g. a send during a failover) every 100 ms until it succeeds; dies after `timeout`. */
export const retryUntil = <A, E>(
  effect: Effect.Effect<A, E>,
  what: string,
  timeout: Duration.Input
): Effect.Effect<A> =>
  effect.pipe(
    Effect.tapError(() => Effect.sleep("100 millis")),
    Effect.eventually,
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.die(new Error(`timed out after ${Duration.format(Duration.fromInputUnsafe(timeout))}: ${what}`))
    })
  )

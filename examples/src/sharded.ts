/**
 * Rooms sharded over a Redis Cluster (S17): a 3-master cluster spawned on free loopback ports,
 * `ShardLayer.layer({ shards: 16 })`, several rooms. Each room maps to one shard (a stable hash of
 * its name), every key and channel of a shard shares one hash tag, so each operation is one
 * single-slot script on the master owning that slot, and messages travel by sharded Pub/Sub
 * (SSUBSCRIBE / SPUBLISH) only within that node.
 *
 * Needs `redis-server` and `redis-cli` on PATH. Run: `pnpm --filter @lockstep/examples sharded`.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import type { SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisLayer, Sharding, ShardLayer } from "@lockstep/redis"
import { RedisTestCluster } from "@lockstep/redis/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Redis } from "ioredis"
import { bold, green, red, table } from "./internal/format.js"
import { runMain } from "./internal/main.js"

const ROOMS = ["lobby", "match-1", "match-2", "match-3", "chat-eu", "chat-us", "auction-7"]
const PER_ROOM = 5
const SHARDS = 16
/** p4 was in flight before the others arrived; the rest by priority */
const EXPECTED = [4, 0, 1, 2, 3]

/**
 * Where hash tags live, asked of one cluster node over a plain ioredis connection (closed with the
 * scope): `CLUSTER KEYSLOT` gives a tag's slot, `CLUSTER SLOTS` the master serving each slot range.
 */
const clusterMap = (port: number) =>
  Effect.gen(function*() {
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1 })),
      (redis) => Effect.sync(() => redis.disconnect())
    )
    const ranges = yield* Effect.tryPromise(() => redis.cluster("SLOTS")).pipe(Effect.orElseSucceed(() => []))
    const ownerOf = (slot: number) => {
      const master = ranges.find(([start, end]) => slot >= start && slot <= end)?.[2]
      return master === undefined ? "?" : `${master[0]}:${master[1]}`
    }
    return {
      placeOf: (tag: string) =>
        Effect.tryPromise(() => redis.cluster("KEYSLOT", `{${tag}}`)).pipe(
          Effect.map((slot) => ({ slot: String(slot), owner: ownerOf(slot) })),
          Effect.orElseSucceed(() => ({ slot: "?", owner: "?" }))
        )
    }
  })

const main = Effect.gen(function*() {
  yield* Console.log("spawning a 3-master Redis Cluster (redis-cli --cluster create)…")
  const cluster = yield* RedisTestCluster.make({ masters: 3 })
  yield* Console.log(`cluster up: masters ${cluster.masters.map((m) => `${m.host}:${m.port}`).join(", ")}`)

  const sharding = yield* ShardLayer.make({ shards: SHARDS })
  const keyPrefix = `lockstep-sharded-${process.pid}`
  // every client is separate (own id, own Redis.Cluster connection); all share the same sharding
  const client = Effect.gen(function*() {
    const context = yield* Layer.build(RedisLayer.cluster(cluster.nodes))
    return yield* ClientLayer.make({ keyPrefix }).pipe(
      Effect.provide(context),
      Effect.provideService(Sharding.Sharding, sharding)
    )
  })

  // where each room lives
  const map = yield* clusterMap(cluster.masters[0]!.port)
  const placement = yield* Effect.forEach(ROOMS, (room) =>
    Effect.gen(function*() {
      const shard = sharding.shardOf(room)
      const tag = sharding.tagOf(shard)
      const { owner, slot } = yield* map.placeOf(tag)
      return { room, shard, tag, slot, owner }
    }))
  yield* Console.log(
    `\n${bold(`${ROOMS.length} rooms on ${SHARDS} shards`)}: room → shard (stable hash) → hash tag → slot → master\n` +
      table(
        [
          ["room", "shard", "hash tag", "slot", "master"],
          ...placement.map((p) => [p.room, String(p.shard), `{${p.tag}}`, p.slot, p.owner])
        ],
        [1, 3]
      )
  )
  const masters = new Set(placement.map((p) => p.owner))
  yield* Console.log(
    `these rooms use ${new Set(placement.map((p) => p.shard)).size} shards on ${masters.size} masters\n`
  )

  const producer = yield* client
  const consumers = [yield* client, yield* client]
  // one stream per consumer for all its rooms (subscribeMany): every room joined at once
  const subscriptions = yield* Effect.forEach(
    consumers,
    (consumer) => Effect.map(consumer.subscribeMany(ROOMS), (stream) => ({ consumer, stream }))
  )
  yield* Console.log(
    `${consumers.length} consumers subscribed (sync) to every room with subscribeMany: SSUBSCRIBE on each room's master`
  )

  // every consumer takes PER_ROOM messages from every room, acking each; rooms run independently
  // (each room keeps its own order and barrier in the merged stream)
  const received = new Map<string, Array<number>>()
  const consume = (
    consumer: SyncFanoutQueue.SyncFanoutQueue["Service"],
    stream: typeof subscriptions[0]["stream"]
  ) =>
    stream.pipe(
      Stream.take(PER_ROOM * ROOMS.length),
      Stream.runForEach((d) =>
        Effect.andThen(
          Effect.sync(() => {
            const key = `${consumer.clientId}/${d.room}`
            received.set(key, [...(received.get(key) ?? []), d.priority])
          }),
          d.ack
        )
      )
    )
  // priorities 4,3,2,1,0 per room, sent before anyone acks: the first is released at once (it
  // is in flight until both consumers ack it), the others wait in priority order (S2, S3)
  const started = performance.now()
  yield* Effect.forEach(
    ROOMS,
    (room) =>
      Effect.forEach([4, 3, 2, 1, 0], (priority) => producer.send(room, { room, priority }, { priority }), {
        discard: true
      }),
    { concurrency: "unbounded", discard: true }
  )
  yield* Effect.forEach(subscriptions, ({ consumer, stream }) => consume(consumer, stream), {
    concurrency: "unbounded",
    discard: true
  })
  const tookMs = performance.now() - started

  const rows = ROOMS.map((room) => {
    const orders = consumers.map((c) => received.get(`${c.clientId}/${room}`) ?? [])
    const same = orders.every((o) => o.join() === orders[0]!.join())
    const ok = same && orders[0]?.join() === EXPECTED.join()
    return [
      room,
      orders[0]?.map((p) => `p${p}`).join(" ") ?? "",
      ok ? green("✓ same order at both consumers") : red(`✗ expected ${EXPECTED.join(" ")}`)
    ]
  })
  yield* Console.log(table([["room", "delivery order", "lock-step"], ...rows]))
  const metrics = yield* producer.metrics({ topRooms: 3 })
  yield* Console.log(
    `\n${ROOMS.length * PER_ROOM} messages × ${consumers.length} consumers in ${Math.round(tookMs)} ms · ` +
      `known clients ${metrics.knownClients} · rooms with a backlog ${metrics.knownRooms}`
  )
  yield* Console.log("done: closing the clients, then the cluster")
}).pipe(Effect.scoped, Effect.provide(NodeServices.layer))

runMain(main)

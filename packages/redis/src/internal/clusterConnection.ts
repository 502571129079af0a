/**
 * A Redis Cluster connection: one `Redis.Cluster` with sharded subscribers (SSUBSCRIBE), one
 * subscriber connection per master at most (S17), shared by every client built on it. ioredis
 * keeps the sharded subscriptions alive (slot migrations, lost subscriber connections);
 * `shardedSubscriptions.ts` resyncs in-flight messages after it restored them (S12).
 */
import type { QueueError } from "@lockstep/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { Cluster } from "ioredis"
import type { RedisConnection } from "../RedisConnection.js"
import type { ClusterConnectionOptions } from "../RedisLayer.js"
import * as Calls from "./calls.js"
import { address, connectTimeoutOf, toIoredis } from "./connectionOptions.js"
import { redisError } from "./errors.js"
import * as EvictionCheck from "./evictionCheck.js"
import { makeListen, Router } from "./router.js"
import { Runner, withRunner } from "./runner.js"
import * as ShardedSubscriptions from "./shardedSubscriptions.js"
import { slotOf } from "./slot.js"
import { corkSockets } from "./turnBatch.js"

const connectScoped = (cluster: Cluster, timeout: Duration.Duration) =>
  Effect.acquireRelease(
    Calls.withDeadline("connect", timeout, () => cluster.connect()).pipe(
      Effect.as(cluster),
      Effect.tapError(() => Effect.sync(() => cluster.disconnect())),
      Effect.mapError((e) => e._tag === "OperationTimeout" ? redisError("connect", e) : e)
    ),
    Calls.quit
  )

/** A connection to the cluster of `nodes` (at least one, parsed). */
export const make = (
  nodes: ReadonlyArray<{ readonly host: string; readonly port: number }>,
  options: ClusterConnectionOptions
): Effect.Effect<RedisConnection["Service"], QueueError.EngineError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = connectTimeoutOf(options)
    const { lazyConnect: _lazy, ...redisOptions } = toIoredis(options)
    const cluster = new Cluster([...nodes], {
      scaleReads: "master",
      ...options.cluster,
      shardedSubscribers: true,
      lazyConnect: true,
      ...(options.enableAutoPipelining !== undefined ? { enableAutoPipelining: options.enableAutoPipelining } : {}),
      // node options given as `cluster.redisOptions` are kept; the top-level ones win
      // node connections connect lazily, so they keep ioredis' offline queue: on a cluster an
      // operation that timed out while a node was unreachable may still run when it returns
      redisOptions: { ...options.cluster?.redisOptions, ...redisOptions }
    })
    cluster.on("error", () => {})
    // the commands of a turn spread over the masters: their sockets are corked together
    const calls = yield* Calls.make(corkSockets(() => cluster.nodes("master")))
    yield* connectScoped(cluster, timeout)
    yield* EvictionCheck.start(
      cluster.nodes("master").map((node) => ({
        address: address(node.options.host ?? "", node.options.port ?? ""),
        info: calls.call("info", timeout, () => node.info("memory"))
      }))
    )
    const connected = yield* SubscriptionRef.make(true)
    const router = new Router()
    cluster.on("smessage", (channel: string, message: string) => router.dispatch(channel, message))
    // ioredis lists the channel once more for its resubscriptions at every SSUBSCRIBE it sends (a
    // redirected or retried one too): made a set again at once, and once more when it is answered
    const ssubscribeWithin = (channel: string, t: Duration.Duration) =>
      calls.call("ssubscribe", t, () => {
        const subscribed = cluster.ssubscribe(channel)
        ShardedSubscriptions.dedupeChannels(cluster, channel)
        return subscribed
      }).pipe(Effect.ensuring(Effect.sync(() => ShardedSubscriptions.dedupeChannels(cluster, channel))))
    // started on the scheduler, not on ioredis's event handler that asks for it (Effect 4 runs a
    // forked fiber at once): what reacts to the connection going down or up runs after ioredis
    const forkNow = yield* FiberSet.makeRuntime<never>()
    const runScoped = (effect: Effect.Effect<unknown>): void => {
      forkNow(Effect.andThen(Effect.yieldNow, effect))
    }
    cluster.on("close", () => runScoped(SubscriptionRef.set(connected, false)))
    yield* ShardedSubscriptions.watch({
      cluster,
      router,
      connected,
      ssubscribe: (channel) => ssubscribeWithin(channel, timeout)
    })

    return withRunner({
      kind: "cluster",
      listen: makeListen(
        runScoped,
        router,
        connected,
        ssubscribeWithin,
        (channel) => calls.call("sunsubscribe", timeout, () => cluster.sunsubscribe(channel))
      ),
      connected,
      nodes: Effect.sync(() => cluster.nodes("master").map((n) => address(n.options.host ?? "", n.options.port ?? "")))
    }, new Runner(cluster, calls, (key) => cluster.slots[slotOf(key)]?.[0] ?? ""))
  })

/**
 * What every part of one client's Redis backend shares: the connection and its runner, the shard
 * of each room and the key base of each shard (built once, `Keys.shardBase`), the client id, the
 * epoch of its claim (S21, owned by `ClaimEpoch`) and the publish command.
 */
import type { Backend, QueueConfig } from "@lockstep/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { RedisConnection } from "../../RedisConnection.js"
import type { Sharding } from "../../Sharding.js"
import * as Keys from "../keys.js"
import type { Operation } from "../operation.js"
import { type Runner, runnerOf } from "../runner.js"
import { ClaimEpoch } from "./epoch.js"

export interface BackendContext {
  readonly connection: RedisConnection["Service"]
  readonly runner: Runner
  readonly sharding: Sharding["Service"]
  readonly config: QueueConfig.ResolvedQueueConfig
  readonly clientId: string
  /** deadline of every call */
  readonly timeout: Duration.Duration
  /** sharded Pub/Sub on a cluster (S17) */
  readonly pub: Keys.Pub
  /** the key base of each shard */
  readonly bases: ReadonlyArray<string>
  /** the shard of a room (0 without calling the hash when there is one shard) */
  readonly shardOf: (room: string) => number
  readonly baseOf: (room: string) => string
  /**
   * The epoch of this client's claim (S21): `epoch.current` goes to every script that writes for
   * it; `epoch.fence` turns a fenced client's refusal into `ClientSuperseded`.
   */
  readonly epoch: ClaimEpoch
  /** Run one operation with the call deadline, its failure through `epoch.fence`. */
  readonly run: <I, O>(operation: Operation<I, O>, input: I) => Effect.Effect<O, Backend.BackendError>
}

export const make = (
  connection: RedisConnection["Service"],
  sharding: Sharding["Service"],
  config: QueueConfig.ResolvedQueueConfig,
  clientId: string
): BackendContext => {
  const bases = Array.from(
    { length: sharding.shards },
    (_, shard) => Keys.shardBase(config.keyPrefix, sharding.tagOf(shard))
  )
  const shardOf = sharding.shards === 1 ? () => 0 : sharding.shardOf
  const timeout = config.operationTimeout
  const epoch = new ClaimEpoch(clientId)
  const runner = runnerOf(connection)
  return {
    connection,
    runner,
    sharding,
    config,
    clientId,
    timeout,
    pub: connection.kind === "cluster" ? "SPUBLISH" : "PUBLISH",
    bases,
    shardOf,
    baseOf: (room) => bases[shardOf(room)]!,
    epoch,
    run: (operation, input) => Effect.mapError(runner.run(operation, input, timeout), epoch.fence)
  }
}

/** The shards holding any of `rooms`. */
export const shardsOf = (context: BackendContext, rooms: ReadonlyArray<string>): Array<number> => {
  const set = new Set<number>()
  for (const room of rooms) set.add(context.shardOf(room))
  return [...set]
}

/** Run `f` on the base of each shard, all at once. */
export const perShard = <A, E>(
  context: BackendContext,
  shards: ReadonlyArray<number>,
  f: (base: string) => Effect.Effect<A, E>
): Effect.Effect<Array<A>, E> =>
  Effect.forEach(shards, (shard) => f(context.bases[shard]!), { concurrency: "unbounded" })

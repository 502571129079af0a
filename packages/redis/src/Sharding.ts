/**
 * Room → shard → hash tag (S17). Every key and channel of a room carries its shard's hash tag, so
 * all of a shard's keys share one hash slot and each script touches one slot.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"

/**
 * How rooms map to shards, each shard to a hash tag (one hash slot): provided by `ShardLayer`.
 *
 * @since 0.1.0
 * @category services
 */
export class Sharding extends Context.Service<Sharding, {
  /** number of shards, 1..16384 */
  readonly shards: number
  /** the shard of a room: a stable hash of the name mod `shards` */
  readonly shardOf: (room: string) => number
  /** the hash tag of a shard (without braces) */
  readonly tagOf: (shard: number) => string
}>()("@lockstep/redis/Sharding") {}

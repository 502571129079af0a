/**
 * `Sharding` layers: `single` (one shard, for a standalone Redis) and `layer({ shards })` for a
 * Redis Cluster (S17).
 *
 * @since 0.1.0
 */
import { QueueConfig } from "@lockstep/core"
import type * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { fnv1a, slotOf } from "./internal/slot.js"
import { Sharding } from "./Sharding.js"

/**
 * One shard: every room on hash tag `0` (a standalone Redis).
 *
 * @since 0.1.0
 * @category layers
 */
export const single: Layer.Layer<Sharding> = Layer.succeed(Sharding, {
  shards: 1,
  shardOf: () => 0,
  tagOf: () => "0"
})

/** One hash tag per slot (`t<k>`), found once by counting up until every slot is covered. */
let slotTags: ReadonlyArray<string> | undefined
const tagsBySlot = (): ReadonlyArray<string> => {
  if (slotTags !== undefined) return slotTags
  const table: Array<string | undefined> = new Array(16384)
  let missing = 16384
  for (let k = 0; missing > 0; k++) {
    const tag = `t${k}`
    const slot = slotOf(tag)
    if (table[slot] === undefined) {
      table[slot] = tag
      missing--
    }
  }
  return slotTags = table as Array<string>
}

/**
 * Hash tags spread evenly over the slot space: shard i sits in the middle of the i-th of
 * `shards` equal slot ranges, so shards spread evenly over the masters of a cluster.
 */
const spreadTags = (shards: number): ReadonlyArray<string> => {
  const table = tagsBySlot()
  return Array.from({ length: shards }, (_, i) => table[Math.floor(((i + 0.5) * 16384) / shards)]!)
}

/**
 * Build the sharding of `shards` shards (1..16384). Another count is a `ConfigError` naming the
 * option (`QueueConfig.invalidData`, path `shards`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: { readonly shards: number }
): Effect.Effect<Sharding["Service"], Config.ConfigError> =>
  Effect.suspend(() => {
    const { shards } = options
    if (!Number.isSafeInteger(shards) || shards < 1 || shards > 16384) {
      return Effect.fail(
        QueueConfig.invalidData("shards", `shards must be an integer from 1 to 16384, got ${String(shards)}`)
      )
    }
    const tags = spreadTags(shards)
    return Effect.succeed<Sharding["Service"]>({
      shards,
      shardOf: shards === 1 ? () => 0 : (room) => fnv1a(room) % shards,
      tagOf: (shard) => tags[shard]!
    })
  })

/**
 * `shards` shards, each on its own hash slot (a Redis Cluster); a bad count fails the layer
 * with a `ConfigError` (path `shards`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: { readonly shards: number }): Layer.Layer<Sharding, Config.ConfigError> =>
  Layer.effect(Sharding, make(options))

/**
 * `Sharding` layers: `single` (one shard, for a standalone Redis) and `layer({ shards })` for a
 * Redis Cluster (S17); `layerConfig()` chooses between them by `LOCKSTEP_SHARDS`.
 *
 * Every process of an application must use the same sharding: it decides the keys of a room
 * (`single` is hash tag `0`; `layer({ shards: 1 })` is another tag, so it is not the same).
 *
 * @since 0.1.0
 */
import { QueueConfig } from "@lockstep/core"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
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

/** The name of the variable `config` reads. */
const variable = "LOCKSTEP_SHARDS"

/**
 * The shard count read from `LOCKSTEP_SHARDS` (or that key of any `ConfigProvider`): `undefined`
 * when it is not set, for `single` (what `ClientLayer.standalone` uses); else an integer from 1
 * to 16384, for `layer({ shards })` (what `ClientLayer.cluster({ shards })` uses; `1` is not
 * `single`). A value that is not such an integer fails with a `ConfigError` naming the variable,
 * with its description.
 *
 * @since 1.1.0
 * @category config
 */
export const config: Config.Config<number | undefined> = Config.map(
  Config.option(QueueConfig.variable(variable, {
    schema: Schema.NumberFromString.pipe(
      Schema.decodeTo(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 16384 })))
    ),
    expected: "an integer from 1 to 16384",
    description:
      "the number of shards rooms spread over (S17), the same in every process of the application; not set: one shard (ShardLayer.single)"
  })),
  Option.getOrUndefined
)

/**
 * The sharding of a `Config` of the shard count, by default `config` (`LOCKSTEP_SHARDS`):
 * `single` when it reads `undefined`, else `layer({ shards })` (a count outside 1..16384 of a
 * `Config` of your own fails with a `ConfigError`, path `shards`).
 *
 * @since 1.1.0
 * @category layers
 */
export const layerConfig = (
  shards: Config.Config<number | undefined> = config
): Layer.Layer<Sharding, Config.ConfigError> =>
  Layer.unwrap(Effect.map(shards, (count) => count === undefined ? single : layer({ shards: count })))

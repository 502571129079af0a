/**
 * Liveness: keepalive (S10), housekeeping (S10, S11, S23) and unregister (S20).
 *
 * Shard 0 is the registry of every live client (knownClients, S15); the other shards hold the
 * expiries that housekeeping of their rooms needs (S10). A durable client whose claim was
 * superseded learns it from its keepalive (S21): the scripts refuse it, `ClientSuperseded`.
 */
import type { Backend } from "@lockstep/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Keys from "../keys.js"
import { housekeep } from "../operations/housekeep.js"
import { keepalive } from "../operations/keepalive.js"
import { keepaliveMany } from "../operations/keepaliveMany.js"
import { unregister } from "../operations/unregister.js"
import { type BackendContext, perShard, shardsOf } from "./context.js"

/** Expired clients and deadlines a housekeeping run handles at most, per shard. */
const housekeepLimit = 100

/**
 * The shortest hold of a shard's housekeeping lock (it is held for half the interval, so one
 * client's run per interval does the work): `SET … PX` refuses 0, which a tiny interval would give.
 */
const minHousekeepLockMs = 10

export const make = (
  context: BackendContext
): Pick<Backend.BackendClient, "keepalive" | "housekeep" | "unregister"> => {
  const { bases, clientId, pub, sharding } = context
  const lockMs = Math.max(minHousekeepLockMs, Math.floor(Duration.toMillis(context.config.housekeepingInterval) / 2))
  // a producer without rooms still cleans up one shard per run, in turn, so dead subscribers
  // never hold a room forever just because its live peers only produce
  let housekeepCursor = 0

  const keepaliveOne = (shard: number, clientTimeoutMs: number) =>
    context.run(keepalive, {
      base: bases[shard]!,
      pub,
      client: clientId,
      clientTimeoutMs,
      epoch: context.epoch.current
    })

  const housekeepShards = (shards: ReadonlyArray<number>, expiredClients: ReadonlyArray<string>) =>
    perShard(
      context,
      shards,
      (base) => context.run(housekeep, { base, pub, lockMs, limit: housekeepLimit, expiredClients })
    )

  return {
    keepalive: (rooms, clientTimeoutMs) => {
      // shard 0 first: its node's group leads with the registry key, whose answer alone says
      // whether the server still knows this client; another shard may not know it yet (a join in
      // progress) without that meaning anything
      const shards = new Set([0, ...shardsOf(context, rooms)])
      // one round trip per node: the shards a node serves are refreshed by one cross-slot script
      const byNode = new Map<string, Array<number>>()
      for (const shard of shards) {
        const node = context.runner.nodeOf(Keys.clients(bases[shard]!))
        const group = byNode.get(node)
        if (group === undefined) byNode.set(node, [shard])
        else group.push(shard)
      }
      // a node may stop serving a slot between the lookup and the call (migration, failover):
      // then fall back to one call per shard, each routed by ioredis; not when the first shard
      // refused a fenced client (S21)
      const many = (group: ReadonlyArray<number>) => {
        const [first, ...others] = group.map((shard) => Keys.clients(bases[shard]!))
        return context.run(keepaliveMany, {
          firstClientsKey: first!,
          client: clientId,
          clientTimeoutMs,
          epoch: context.epoch.current,
          claimsKey: Keys.claims(bases[group[0]!]!),
          clientsKeys: others
        }).pipe(
          Effect.catchIf((e) => e._tag !== "ClientSuperseded", (e) =>
            Effect.map(
              Effect.andThen(
                Effect.logDebug("lockstep: batched keepalive failed, one call per shard", e.message),
                Effect.forEach(group, (shard) => keepaliveOne(shard, clientTimeoutMs), { concurrency: "unbounded" })
              ),
              (replies) => replies[0]
            ))
        )
      }
      return Effect.map(
        Effect.forEach(
          byNode.values(),
          (group) => group.length === 1 ? keepaliveOne(group[0]!, clientTimeoutMs) : many(group),
          { concurrency: "unbounded" }
        ),
        (known) => known[0] === true
      )
    },
    housekeep: (rooms) => {
      const shards = new Set([0, ...shardsOf(context, rooms), housekeepCursor++ % sharding.shards])
      return Effect.flatMap(housekeepShards([...shards], []), (replies) => {
        // shard 0 registers every client: the clients it found expired are ejected from their
        // rooms on every other shard now, not when the rotation gets there (S10)
        const expired = replies[0]?.expired ?? []
        if (expired.length === 0 || sharding.shards === 1) return Effect.void
        return Effect.asVoid(housekeepShards(Array.from({ length: sharding.shards - 1 }, (_, i) => i + 1), expired))
      })
    },
    unregister: (rooms) => {
      // a durable id may hold memberships it did not resume in this process (S23): on every shard
      const shards = context.epoch.claimed
        ? Array.from({ length: sharding.shards }, (_, i) => i)
        : new Set([0, ...shardsOf(context, rooms)])
      return Effect.asVoid(
        perShard(
          context,
          [...shards],
          (base) => context.run(unregister, { base, pub, client: clientId, epoch: context.epoch.current })
        )
      )
    }
  }
}

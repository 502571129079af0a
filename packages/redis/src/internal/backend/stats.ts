/**
 * Stats (S15, S26): rooms with a backlog, the top rooms by backlog, the registered clients and
 * the rooms whose in-flight message is oldest, one script call per shard; and the walk over the
 * active rooms (S26), shard by shard.
 */
import type { Backend } from "@lockstep/core"
import * as Effect from "effect/Effect"
import { roomsPage } from "../operations/roomsPage.js"
import { stats } from "../operations/stats.js"
import { type BackendContext, perShard } from "./context.js"

export const make = (context: BackendContext): Pick<Backend.BackendClient, "stats" | "rooms"> => {
  const { bases, pub, sharding } = context
  const allShards = Array.from({ length: sharding.shards }, (_, i) => i)

  /** one shard's page of active rooms after `after` */
  const page = (shard: number, after: string, limit: number) =>
    context.run(roomsPage, { base: bases[shard]!, pub, after, limit })

  return {
    stats: (topRooms, stalledRooms) =>
      Effect.map(
        perShard(context, allShards, (base) => context.run(stats, { base, pub, topRooms, stalledRooms })),
        (shards) => {
          // every live client is registered on shard 0; other shards hold a subset
          const knownClients = shards[0]?.clients ?? 0
          const top = shards.flatMap((shard) => shard.top)
          const stalled = shards.flatMap((shard) => shard.stalled)
          top.sort((a, b) => b.backlog - a.backlog || (a.room < b.room ? 1 : a.room > b.room ? -1 : 0))
          stalled.sort((a, b) => a.releasedAt - b.releasedAt || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0))
          return {
            knownRooms: shards.reduce((sum, shard) => sum + shard.rooms, 0),
            topRooms: top.slice(0, topRooms),
            knownClients,
            stalled: stalled.slice(0, stalledRooms)
          }
        }
      ),

    // shard by shard, each in name order: a full walk visits every room active all along once
    rooms: (from, limit) =>
      Effect.gen(function*() {
        const rooms: Array<string> = []
        let shard = from?.shard ?? 0
        let after = from?.after ?? ""
        while (shard < sharding.shards) {
          const got = yield* page(shard, after, limit - rooms.length)
          rooms.push(...got)
          if (rooms.length === limit) return { rooms, next: { shard, after: rooms[rooms.length - 1]! } }
          shard++
          after = ""
        }
        return { rooms, next: null }
      })
  }
}

/**
 * Stats (S15, S26): rooms with a backlog, the top rooms by backlog, the registered clients and
 * the rooms whose in-flight message is oldest, one script call per shard; and the walk over the
 * active rooms (S26), shard by shard.
 */
import type { Backend } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Keys from "../keys.js"
import { asNumber, asStrings, type BackendContext, isString, perShard } from "./context.js"

export const make = (context: BackendContext): Pick<Backend.BackendClient, "stats" | "rooms"> => {
  const { bases, pub, sharding } = context
  const allShards = Array.from({ length: sharding.shards }, (_, i) => i)

  /** one shard's page of active rooms after `after` */
  const page = (shard: number, after: string, limit: number) => {
    const base = bases[shard]!
    return Effect.map(
      context.script("roomsPage", Keys.rooms(base), Keys.roomsPage.args(base, pub, after, limit)),
      asStrings
    )
  }

  return {
    stats: (topRooms, stalledRooms) =>
      Effect.map(
        perShard(
          context,
          allShards,
          (base) => context.script("stats", Keys.backlog(base), Keys.stats.args(base, pub, topRooms, stalledRooms))
        ),
        (replies) => {
          let knownRooms = 0
          // every live client is registered on shard 0; other shards hold a subset
          const knownClients = Array.isArray(replies[0]) ? asNumber((replies[0] as Array<unknown>)[2]) : 0
          const top: Array<{ room: string; backlog: number }> = []
          const stalled: Array<Backend.RawStalledRoom> = []
          for (const reply of replies) {
            if (!Array.isArray(reply)) continue
            const [rooms, flat, , oldest, now] = reply as Array<unknown>
            knownRooms += asNumber(rooms)
            const pairs = asStrings(flat)
            for (let i = 0; i + 1 < pairs.length; i += 2) top.push({ room: pairs[i]!, backlog: asNumber(pairs[i + 1]) })
            for (const entry of Array.isArray(oldest) ? oldest as Array<unknown> : []) {
              if (!Array.isArray(entry)) continue
              const [room, releasedAt, id, holders] = entry as Array<unknown>
              if (!isString(room) || !isString(id) || id === "") continue
              const released = asNumber(releasedAt)
              stalled.push({
                room,
                id,
                releasedAt: released,
                age: asNumber(now) - released,
                waitingFor: asStrings(holders)
              })
            }
          }
          top.sort((a, b) => b.backlog - a.backlog || (a.room < b.room ? 1 : a.room > b.room ? -1 : 0))
          stalled.sort((a, b) => a.releasedAt - b.releasedAt || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0))
          return {
            knownRooms,
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

/**
 * Stats (S15): rooms with a backlog, the top rooms by backlog and the registered clients, one
 * script call per shard.
 */
import type { Backend } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Keys from "../keys.js"
import { asNumber, asStrings, type BackendContext, perShard } from "./context.js"

export const make = (context: BackendContext): Pick<Backend.BackendClient, "stats"> => {
  const { pub, sharding } = context
  const allShards = Array.from({ length: sharding.shards }, (_, i) => i)
  return {
    stats: (topRooms) =>
      Effect.map(
        perShard(
          context,
          allShards,
          (base) => context.script("stats", Keys.backlog(base), Keys.stats.args(base, pub, topRooms))
        ),
        (replies) => {
          let knownRooms = 0
          // every live client is registered on shard 0; other shards hold a subset
          const knownClients = Array.isArray(replies[0]) ? asNumber((replies[0] as Array<unknown>)[2]) : 0
          const top: Array<{ room: string; backlog: number }> = []
          for (const reply of replies) {
            if (!Array.isArray(reply)) continue
            const [rooms, flat] = reply as Array<unknown>
            knownRooms += asNumber(rooms)
            const pairs = asStrings(flat)
            for (let i = 0; i + 1 < pairs.length; i += 2) top.push({ room: pairs[i]!, backlog: asNumber(pairs[i + 1]) })
          }
          top.sort((a, b) => b.backlog - a.backlog || (a.room < b.room ? 1 : a.room > b.room ? -1 : 0))
          return { knownRooms, topRooms: top.slice(0, topRooms), knownClients }
        }
      )
  }
}

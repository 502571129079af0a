/**
 * stats: the figures of one shard.
 *
 * KEYS[1]  backlog (routing).
 * ARGV     base, pub, topRooms, stalledRooms.
 * Returns  { rooms with a backlog, the top `topRooms` rooms by backlog (flat, WITHSCORES),
 *          registered clients, the `stalledRooms` rooms whose in-flight message is oldest (each
 *          { room, release ms, in-flight id, holders }), now ms }.
 * Enforces S15, S26 (read-only).
 */
import type { Backend } from "@lockstep/core"
import * as Result from "effect/Result"
import { backlog, F, K } from "../keys.js"
import * as Operation from "../operation.js"
import { nowMs } from "../prelude.js"
import * as Reply from "../reply.js"

/** The figures of one shard. */
export interface ShardStats {
  readonly rooms: number
  readonly top: ReadonlyArray<{ readonly room: string; readonly backlog: number }>
  readonly clients: number
  readonly stalled: ReadonlyArray<Backend.RawStalledRoom>
}

const expected = "{ rooms, top rooms, clients, stalled rooms, now ms }"

/** The stalled rooms of a reply: { room, release ms, id, holders } each ("" for no id: skipped). */
const stalledRooms = (oldest: ReadonlyArray<unknown>, now: number): Array<Backend.RawStalledRoom> | undefined => {
  const out: Array<Backend.RawStalledRoom> = []
  for (const entry of oldest) {
    const [room, releasedAt, id, holders] = Reply.tuple(entry, 4) ?? []
    const released = Reply.number(releasedAt)
    if (typeof room !== "string" || typeof id !== "string" || released === undefined || !Reply.isStrings(holders)) {
      return undefined
    }
    if (id !== "") out.push({ room, id, releasedAt: released, age: now - released, waitingFor: holders })
  }
  return out
}

export const stats = Operation.shard({
  name: "stats",
  args: { topRooms: Operation.number, stalledRooms: Operation.number },
  key: ({ base }) => backlog(base),
  includes: [nowMs],
  lua: `
local top = {}
if tonumber(topRooms) > 0 then
  top = redis.call("ZREVRANGE", ${K.backlog}, 0, tonumber(topRooms) - 1, "WITHSCORES")
end
local stalled = {}
if tonumber(stalledRooms) > 0 then
  local oldest = redis.call("ZRANGE", ${K.inflight}, 0, tonumber(stalledRooms) - 1, "WITHSCORES")
  for i = 1, #oldest, 2 do
    local room = oldest[i]
    stalled[#stalled + 1] = { room, oldest[i + 1], redis.call("HGET", ${K.meta("room")}, ${F.inFlightId}) or "",
      redis.call("SMEMBERS", ${K.holders("room")}) }
  end
end
return { redis.call("ZCARD", ${K.backlog}), top, redis.call("ZCARD", ${K.clients}), stalled, tostring(now_ms()) }
`,
  decode: (reply): Result.Result<ShardStats, string> => {
    const [rooms, flat, clients, oldest, now] = Reply.tuple(reply, 5) ?? []
    const [roomCount, clientCount, at] = [Reply.number(rooms), Reply.number(clients), Reply.number(now)]
    if (
      roomCount === undefined || clientCount === undefined || at === undefined || !Reply.isStrings(flat) ||
      flat.length % 2 !== 0 || !Array.isArray(oldest)
    ) return Reply.fail(expected)
    const top: Array<{ room: string; backlog: number }> = []
    for (let i = 0; i < flat.length; i += 2) {
      const score = Reply.number(flat[i + 1])
      if (score === undefined) return Reply.fail(expected)
      top.push({ room: flat[i]!, backlog: score })
    }
    const stalled = stalledRooms(oldest, at)
    return stalled === undefined
      ? Reply.fail(expected)
      : Result.succeed({ rooms: roomCount, top, clients: clientCount, stalled })
  }
})

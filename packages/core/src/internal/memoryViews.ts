/**
 * The read-only views of the memory engine's keyspace (`memoryKeyspace.ts`): memberships (S23),
 * peek (S13), roomState (S14, S30), stats (S15, S26) and the rooms walk (S26). They change nothing.
 */
import type { Membership, RawRoomState, RawStalledRoom, RawStats, RoomsPosition } from "../Backend.js"
import type { Keyspace } from "./memoryKeyspace.js"

export const memberships = (keyspace: Keyspace, clientId: string): ReadonlyArray<Membership> => {
  const out: Array<Membership> = []
  for (const name of keyspace.clients.get(clientId)?.rooms ?? []) {
    const member = keyspace.rooms.get(name)?.members.get(clientId)
    if (member !== undefined) out.push({ room: name, mode: member.mode })
  }
  return out
}

export const peek = (keyspace: Keyspace, room: string, offset: number, limit: number): ReadonlyArray<string> =>
  (keyspace.rooms.get(room)?.queue ?? []).slice(offset, offset + limit).map((q) => q.envelope)

export const roomState = (keyspace: Keyspace, room: string, now: number): RawRoomState => {
  const paused = keyspace.paused.has(room)
  const r = keyspace.rooms.get(room)
  if (r === undefined) return { backlog: 0, members: [], acked: [], inFlight: null, paused }
  const members = [...r.members].filter(([, m]) => m.mode === "sync").map(([id]) => id)
  const inFlight = r.inFlight
  return {
    backlog: r.queue.length,
    members,
    acked: inFlight === null ? [] : [...inFlight.acked].filter((id) => r.members.has(id)),
    inFlight: inFlight === null
      ? null
      : { id: inFlight.id, releasedAt: inFlight.releasedAt, age: now - inFlight.releasedAt },
    paused
  }
}

export const stats = (keyspace: Keyspace, topRooms: number, stalledRooms: number, now: number): RawStats => {
  const withBacklog = [...keyspace.rooms.values()].filter((r) => r.queue.length > 0)
  const top = withBacklog
    .map((r) => ({ room: r.name, backlog: r.queue.length }))
    // ties in descending name order, as Redis ZREVRANGE gives them
    .sort((a, b) => b.backlog - a.backlog || (a.room < b.room ? 1 : a.room > b.room ? -1 : 0))
    .slice(0, topRooms)
  const stalled: Array<RawStalledRoom> = []
  for (const r of keyspace.rooms.values()) {
    const inFlight = r.inFlight
    if (inFlight === null || inFlight.holders.size === 0) continue
    stalled.push({
      room: r.name,
      id: inFlight.id,
      releasedAt: inFlight.releasedAt,
      age: now - inFlight.releasedAt,
      waitingFor: [...inFlight.holders]
    })
  }
  // oldest first; ties in name order, as Redis ZRANGE gives them
  stalled.sort((a, b) => a.releasedAt - b.releasedAt || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0))
  return {
    knownRooms: withBacklog.length,
    topRooms: top,
    knownClients: keyspace.clients.size,
    stalled: stalled.slice(0, stalledRooms)
  }
}

/**
 * A page of the active rooms (S26): the memory engine has one shard (the client refuses a
 * position of another, `roomsCursor.ts`); rooms in code-unit order of their names, after
 * `from.after`. Every room with state is active (a member, a backlog or a message in flight): the
 * keyspace drops the others (S18; a paused flag is kept apart from the room's state).
 */
export const roomsPage = (
  keyspace: Keyspace,
  from: RoomsPosition | null,
  limit: number
): { rooms: Array<string>; next: RoomsPosition | null } => {
  const after = from?.after ?? ""
  const names = [...keyspace.rooms.keys()].filter((name) => name > after).sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
  const rooms = names.slice(0, limit)
  return { rooms, next: names.length > limit ? { shard: 0, after: rooms[rooms.length - 1]! } : null }
}

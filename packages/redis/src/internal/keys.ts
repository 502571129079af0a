/**
 * The key schema: every key and channel of lockstep, and every script's arguments. TypeScript
 * builds keys and argument arrays through this module; the Lua of every script gets its key
 * helpers (`k_meta(room)`, …) and its named ARGV locals generated from it (`scripts/define.ts`),
 * so neither side spells a key name or an ARGV index anywhere else.
 *
 * A shard's keys share the base `B = <keyPrefix>:{<shard tag>}:` (one hash slot per shard, S17;
 * every key and channel starts with `keyPrefix`, S19). `R` is a room name, `C` a client id.
 *
 * | name (TS, Lua)                | key           | type | content                                                        |
 * |-------------------------------|---------------|------|----------------------------------------------------------------|
 * | `meta`, `k_meta(R)`           | `B m:R`       | hash | seq (arrival counter), fid/fenv/fat (in-flight id, envelope, release ms), dl (least ack timeout ms) |
 * | `members`, `k_members(R)`     | `B mem:R`     | hash | member client id → ack timeout ms ("" for none)                |
 * | `sync`, `k_sync(R)`           | `B sy:R`      | set  | sync members                                                   |
 * | `holders`, `k_holders(R)`     | `B h:R`       | set  | holders: sync members at release that have not acked (S3)      |
 * | `acked`, `k_acked(R)`         | `B a:R`       | set  | members that acked the in-flight message (S14)                 |
 * | `queue`, `k_queue(R)`         | `B q:R`       | zset | queued: score priority, member zero-padded arrival (S2)        |
 * | `payloads`, `k_payloads(R)`   | `B p:R`       | hash | arrival → "<id>\|<envelope>"                                   |
 * | `channel`, `k_channel(R)`     | `B c:R`       | chan | room channel: frames "<frame number>\|<envelope>"              |
 * | `frames`, `k_frames()`        | `B ev`        | str  | number of the last frame published in the shard (S5)           |
 * | `clients`, `k_clients()`      | `B clients`   | zset | client id → expiry ms, server clock (S10)                      |
 * | `backlog`, `k_backlog()`      | `B backlog`   | zset | room → backlog, rooms with a backlog only (S15)                |
 * | `deadlines`, `k_deadlines()`  | `B deadlines` | zset | room → earliest ack deadline ms (S11)                          |
 * | `lock`, `k_lock()`            | `B hk`        | str  | housekeeping lock (PX)                                         |
 * | `clientRooms`, `k_clientRooms(C)` | `B cr:C`  | set  | rooms of a client on this shard                                |
 * | `claims`, `k_claims()`        | `B claims`    | hash | durable client id → epoch of its latest claim (S21); kept for good, so epochs only grow |
 * | `detached`, `k_detached()`    | `B detached`  | zset | "C\|R" → deadline ms, server clock: a durable membership waiting to be resumed (S22–S24) |
 * | `rooms`, `k_rooms()`          | `B rooms`     | zset | the shard's active rooms, score 0 (walked in name order, S26)  |
 * | `inflight`, `k_inflight()`    | `B inflight`  | zset | room → release ms of its in-flight message, while sync members hold it (S26) |
 *
 * Every room key is deleted when the room has no member, no backlog and nothing in flight (S18);
 * `cr:C` when the client has no room left; `clients` entries by housekeeping or unregister;
 * `detached` entries when the membership is resumed or ends (`remove_member`); `ev` is kept for
 * good, and so are the entries of `claims`: one per durable client id ever claimed on the prefix
 * (bounded by the ids a deployment uses, not by traffic). A client id is `[A-Za-z0-9._-]`, so the
 * first `|` of a `detached` member splits it.
 */
import type { ScriptArg } from "../RedisConnection.js"

// -----------------------------------------------------------------------------
// keys and channels
// -----------------------------------------------------------------------------

/** The keys (and the channel) of a room: `B <infix>:R`. */
export const roomKinds = {
  meta: "m",
  members: "mem",
  sync: "sy",
  holders: "h",
  acked: "a",
  queue: "q",
  payloads: "p",
  channel: "c"
} as const

/** The keys of a shard: `B <name>`. */
export const shardKinds = {
  frames: "ev",
  clients: "clients",
  backlog: "backlog",
  deadlines: "deadlines",
  lock: "hk",
  claims: "claims",
  detached: "detached",
  rooms: "rooms",
  inflight: "inflight"
} as const

/** The keys of a client on a shard: `B <infix>:C`. */
export const clientKinds = { clientRooms: "cr" } as const

/** The key base of a shard: `<keyPrefix>:{<tag>}:`. */
export const shardBase = (keyPrefix: string, tag: string): string => `${keyPrefix}:{${tag}}:`

const under = (infix: string) => {
  const middle = `${infix}:`
  return (base: string, name: string): string => base + middle + name
}

/** `B <kind>:R`: a key (or the channel) of a room. */
export const roomKey = (kind: keyof typeof roomKinds): (base: string, room: string) => string => under(roomKinds[kind])
/** `B <name>`: a key of a shard. */
export const shardKey = (kind: keyof typeof shardKinds) => (base: string): string => base + shardKinds[kind]

/** `B m:R`, the routing key (KEYS[1]) of the room scripts */
export const meta = roomKey("meta")
/** `B q:R`, the routing key of peek */
export const queue = roomKey("queue")
/** `B c:R`, the room's channel */
export const channel = roomKey("channel")
/** `B clients`, the routing key of the shard scripts */
export const clients = shardKey("clients")
/** `B backlog`, the routing key of stats */
export const backlog = shardKey("backlog")
/** `B claims` */
export const claims = shardKey("claims")
/** `B detached` */
export const detached = shardKey("detached")
/** `B cr:C` */
export const clientRooms = under(clientKinds.clientRooms)

// -----------------------------------------------------------------------------
// script arguments
// -----------------------------------------------------------------------------

/** The publish command of a connection: sharded Pub/Sub on a cluster (S17). */
export type Pub = "PUBLISH" | "SPUBLISH"

/**
 * The ARGV of a script, by name and in order: `head` from ARGV[1]; then `item` once per item
 * (batched scripts), or one `rest` value per remaining ARGV. `key` says what KEYS[1] (the one
 * declared key, which routes the call) is. Every script with the prelude starts with `base`, `pub`.
 */
export interface Layout {
  readonly key: string
  readonly head: ReadonlyArray<string>
  readonly item?: ReadonlyArray<string>
  readonly rest?: string
}

/** The head every prelude script starts with; `base` is reassigned by each item of a batch. */
export const common = ["base", "pub"] as const

type Args = Array<ScriptArg>

/**
 * The epoch of a durable client's claim (S21), as every script that writes for a client takes it:
 * "" for a client that is not durable, or before its claim; then the decimal epoch. A script
 * given an epoch does nothing (`superseded` in `prelude.ts`) unless it is the client's latest claim.
 */
export type Epoch = string

/**
 * join (S3, S5, S8, S10, S22, S25): `mode` "s" (sync) or "a" (async), `ackTimeoutMs` "" for none.
 */
export const join = {
  key: "meta(room)",
  head: [...common, "room", "client", "mode", "ackTimeoutMs", "clientTimeoutMs", "epoch"],
  args: (
    base: string,
    pub: Pub,
    room: string,
    client: string,
    mode: "s" | "a",
    ackTimeoutMs: number | "",
    clientTimeoutMs: number,
    epoch: Epoch
  ): Args => [base, pub, room, client, mode, ackTimeoutMs, clientTimeoutMs, epoch]
} as const

/** leave (S6, S18, S21) */
export const leave = {
  key: "meta(room)",
  head: [...common, "room", "client", "epoch"],
  args: (base: string, pub: Pub, room: string, client: string, epoch: Epoch): Args => [base, pub, room, client, epoch]
} as const

/** detach (S24): keep the membership for a successor for `clientTimeoutMs`. */
export const detach = {
  key: "meta(room)",
  head: [...common, "room", "client", "clientTimeoutMs", "epoch"],
  args: (base: string, pub: Pub, room: string, client: string, clientTimeoutMs: number, epoch: Epoch): Args => [
    base,
    pub,
    room,
    client,
    clientTimeoutMs,
    epoch
  ]
} as const

/** claim (S21, S23): `epoch` "" on shard 0, which allocates it; the epoch allocated, on the others. */
export const claim = {
  key: "clients",
  head: [...common, "client", "clientTimeoutMs", "epoch"],
  args: (base: string, pub: Pub, client: string, clientTimeoutMs: number, epoch: Epoch): Args => [
    base,
    pub,
    client,
    clientTimeoutMs,
    epoch
  ]
} as const

/** memberships (S23) */
export const memberships = {
  key: "clients",
  head: [...common, "client"],
  args: (base: string, pub: Pub, client: string): Args => [base, pub, client]
} as const

/** resync (S12) */
export const resync = {
  key: "meta(room)",
  head: [...common, "room", "client"],
  args: (base: string, pub: Pub, room: string, client: string): Args => [base, pub, room, client]
} as const

/** roomState (S14) */
export const roomState = {
  key: "meta(room)",
  head: [...common, "room"],
  args: (base: string, pub: Pub, room: string): Args => [base, pub, room]
} as const

/** peek (S13) */
export const peek = {
  key: "queue(room)",
  head: [...common, "room", "offset", "limit"],
  args: (base: string, pub: Pub, room: string, offset: number, limit: number): Args => [base, pub, room, offset, limit]
} as const

/** send (S2, S3, S7, S21): the sends of one client to one shard in one event-loop turn, in order. */
export const send = {
  key: "meta(room) of the first item",
  head: [...common, "client", "epoch"],
  item: ["base", "room", "id", "envelope", "priority"],
  args: (base: string, pub: Pub, client: string, epoch: Epoch): Args => [base, pub, client, epoch],
  itemArgs: (base: string, room: string, id: string, envelope: string, priority: number): Args => [
    base,
    room,
    id,
    envelope,
    priority
  ]
} as const

/** outOfBand (S9, S21): the out-of-band messages of one client to one shard in one event-loop turn. */
export const outOfBand = {
  key: "meta(room) of the first item",
  head: [...common, "client", "epoch"],
  item: ["base", "room", "envelope"],
  args: (base: string, pub: Pub, client: string, epoch: Epoch): Args => [base, pub, client, epoch],
  itemArgs: (base: string, room: string, envelope: string): Args => [base, room, envelope]
} as const

/** ack (S3, S4, S14, S21): the acks of one client to the shards of one node in one event-loop turn. */
export const ack = {
  key: "meta(room) of the first item",
  head: [...common, "client", "epoch"],
  item: ["base", "room", "id"],
  args: (base: string, pub: Pub, client: string, epoch: Epoch): Args => [base, pub, client, epoch],
  itemArgs: (base: string, room: string, id: string): Args => [base, room, id]
} as const

/** keepalive (S10, S21) */
export const keepalive = {
  key: "clients",
  head: [...common, "client", "clientTimeoutMs", "epoch"],
  args: (base: string, pub: Pub, client: string, clientTimeoutMs: number, epoch: Epoch): Args => [
    base,
    pub,
    client,
    clientTimeoutMs,
    epoch
  ]
} as const

/**
 * keepaliveMany (S10, S17, S21), without the prelude: KEYS[1] is the `clients` key of one shard,
 * `claimsKey` the `claims` key of that same shard (checked when `epoch` is not ""), the `rest` the
 * `clients` keys of the other shards served by the same node.
 */
export const keepaliveMany = {
  key: "clients",
  head: ["client", "clientTimeoutMs", "epoch", "claimsKey"],
  rest: "clientsKey",
  args: (
    client: string,
    clientTimeoutMs: number,
    epoch: Epoch,
    claimsKey: string,
    ...clientsKeys: ReadonlyArray<string>
  ): Args => [client, clientTimeoutMs, epoch, claimsKey, ...clientsKeys]
} as const

/**
 * housekeep (S10, S11, S23): `rest`, the clients the registry shard found expired (ejected here too).
 */
export const housekeep = {
  key: "clients",
  head: [...common, "lockMs", "limit"],
  rest: "expiredClient",
  args: (base: string, pub: Pub, lockMs: number, limit: number, ...expiredClients: ReadonlyArray<string>): Args => [
    base,
    pub,
    lockMs,
    limit,
    ...expiredClients
  ]
} as const

/** unregister (S20, S21) */
export const unregister = {
  key: "clients",
  head: [...common, "client", "epoch"],
  args: (base: string, pub: Pub, client: string, epoch: Epoch): Args => [base, pub, client, epoch]
} as const

/** stats (S15, S26) */
export const stats = {
  key: "backlog",
  head: [...common, "topRooms", "stalledRooms"],
  args: (base: string, pub: Pub, topRooms: number, stalledRooms: number): Args => [base, pub, topRooms, stalledRooms]
} as const

/** `B rooms`, the routing key of the rooms page */
export const rooms = shardKey("rooms")

/** rooms (S26): a page of the shard's active rooms after `after` ("" for the first), at most `limit` */
export const roomsPage = {
  key: "rooms",
  head: [...common, "after", "limit"],
  args: (base: string, pub: Pub, after: string, limit: number): Args => [base, pub, after, limit]
} as const

/** Every layout, by script name (`RedisConnection.ScriptName`). */
export const layouts = {
  ack,
  claim,
  detach,
  housekeep,
  join,
  keepalive,
  keepaliveMany,
  leave,
  memberships,
  outOfBand,
  peek,
  resync,
  roomState,
  roomsPage,
  send,
  stats,
  unregister
} as const satisfies Record<string, Layout>

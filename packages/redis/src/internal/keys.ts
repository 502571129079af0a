/**
 * The key schema: every key and channel of lockstep, the fields of the `meta` hash and the values
 * that pack two strings in one (`"<id>|<envelope>"`, `"<client>|<room>"`, frames). TypeScript
 * builds keys through this module; the Lua of every operation gets the same keys, fields and
 * encodings as expressions rendered from it (`K`, `F`, `Pair.lua`), interpolated where the script
 * uses them, so neither side spells a key name, a field or a separator anywhere else.
 *
 * A shard's keys share the base `B = <keyPrefix>:{<shard tag>}:` (one hash slot per shard, S17;
 * every key and channel starts with `keyPrefix`, S19). `R` is a room name, `C` a client id.
 *
 * | name (TS; Lua `K.<name>`)     | key           | type | content                                                        |
 * |-------------------------------|---------------|------|----------------------------------------------------------------|
 * | `meta`                        | `B m:R`       | hash | `metaFields`: seq (arrival counter), fid/fenv/fat/fev (in-flight id, envelope, release ms, release frame), dl (least ack timeout ms), pz (paused, S30) |
 * | `members`                     | `B mem:R`     | hash | member client id → ack timeout ms ("" for none)                |
 * | `sync`                        | `B sy:R`      | set  | sync members                                                   |
 * | `holders`                     | `B h:R`       | set  | holders: sync members at release that have not acked (S3)      |
 * | `acked`                       | `B a:R`       | set  | members that acked the in-flight message (S14)                 |
 * | `queue`                       | `B q:R`       | zset | queued: score priority, member zero-padded arrival (S2)        |
 * | `payloads`                    | `B p:R`       | hash | arrival → `queued`: "<id>\|<envelope>"                         |
 * | `attempts`                    | `B at:R`      | hash | member → `attempt` "<id>\|<n>\|<epoch>": the attempt a resumed join handed it (S27) |
 * | `detachedAt`                  | `B dt:R`      | hash | member → the shard's frame number when it was detached or its id claimed (S24, S27) |
 * | `letters`                     | `B dq:R`      | zset | dead letters (S29): score `seq`, member a `letter`; expires `retentionMs` after the newest |
 * | `channel`                     | `B c:R`       | chan | room channel: `frame`s "<frame number>\|<envelope>"            |
 * | `frames`                      | `B ev`        | str  | number of the last frame published in the shard (S5)           |
 * | `clients`                     | `B clients`   | zset | client id → expiry ms, server clock (S10)                      |
 * | `backlog`                     | `B backlog`   | zset | room → backlog, rooms with a backlog only (S15)                |
 * | `deadlines`                   | `B deadlines` | zset | room → earliest ack deadline ms (S11)                          |
 * | `lock`                        | `B hk`        | str  | housekeeping lock (PX)                                         |
 * | `clientRooms`                 | `B cr:C`      | set  | rooms of a client on this shard                                |
 * | `claims`                      | `B claims`    | hash | durable client id → epoch of its latest claim (S21); kept for good, so epochs only grow |
 * | `detached`                    | `B detached`  | zset | `detachedMembership` "C\|R" → deadline ms, server clock: a durable membership waiting to be resumed (S22–S24) |
 * | `rooms`                       | `B rooms`     | zset | the shard's active rooms, score 0 (walked in name order, S26)  |
 * | `inflight`                    | `B inflight`  | zset | room → release ms of its in-flight message, while sync members hold it (S26) |
 * | `letterSeq`                   | `B dls`       | str  | number of the last dead letter written on the shard: letters' `seq` (S29) |
 *
 * Every room key but `letters` is deleted when the room has no member, no backlog and nothing in
 * flight (S18), except the `pz` field of a paused room's `meta` (the flag outlives every client,
 * S30: `resume` deletes it); `letters` expires `retentionMs` after its newest letter (or is
 * deleted by `dropDeadLetters`, or when its last letter is redriven); `attempts` is deleted by
 * every release (its records are of the in-flight message); `cr:C` when the client has no room left; `clients` entries by housekeeping or unregister;
 * `detached` entries when the membership is resumed or ends (`remove_member`); `ev` is kept for
 * good (as `dls`), and so are the entries of `claims`: one per durable client id ever claimed on the prefix
 * (bounded by the ids a deployment uses, not by traffic). A client id is `[A-Za-z0-9._-]`, so the
 * first `|` of a `detached` member splits it.
 */
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
  attempts: "at",
  detachedAt: "dt",
  letters: "dq",
  channel: "c"
} as const

/** The room keys that hold the room's state (dropped with it, S18): not its channel, not its dead letters (S29). */
export const stateKinds = (Object.keys(roomKinds) as Array<keyof typeof roomKinds>).filter((kind) =>
  kind !== "channel" && kind !== "letters"
)

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
  inflight: "inflight",
  letterSeq: "dls"
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
/** `B dq:R`, a room's dead letters (S29), the routing key of `deadLetters` */
export const letters = roomKey("letters")
/** `B cr:C` */
export const clientRooms = under(clientKinds.clientRooms)

/** `B rooms`, the routing key of the rooms page */
export const rooms = shardKey("rooms")

// -----------------------------------------------------------------------------
// fields and values
// -----------------------------------------------------------------------------

/** The fields of a room's `meta` hash, by meaning. */
export const metaFields = {
  /** the room's arrival counter: queued messages are numbered by it (S2) */
  arrivals: "seq",
  /** the id of the in-flight message, while sync members hold it */
  inFlightId: "fid",
  /** its envelope (a resync or a resumed join hands it out again, S12, S22) */
  inFlightEnvelope: "fenv",
  /** when it was released, server ms */
  releasedAt: "fat",
  /** the frame number of its publication (S27: was a member detached when it was released?) */
  releasedFrame: "fev",
  /** the least ack timeout of the room's sync members, ms (S11); absent for none */
  leastAckTimeout: "dl",
  /** "1" while an operator paused the room (S30); absent otherwise */
  paused: "pz"
} as const

/**
 * Two strings in one value, `"<first>|<second>"`: `first` never holds a `|`, so the first `|` splits
 * them (`second` may hold any). In TypeScript and as the Lua expressions the scripts use.
 */
export interface Pair {
  readonly encode: (first: string, second: string) => string
  /** undefined for a value without a `|` */
  readonly decode: (value: string) => readonly [first: string, second: string] | undefined
  readonly lua: {
    /** the Lua expression joining the Lua expressions `first` and `second` */
    readonly encode: (first: string, second: string) => string
    /** the position of the `|` in `value` (nil for none) */
    readonly find: (value: string) => string
    /** the part before the `|` at position `at` */
    readonly first: (value: string, at: string) => string
    /** the part after the `|` at position `at` */
    readonly second: (value: string, at: string) => string
  }
}

const pair: Pair = {
  encode: (first, second) => `${first}|${second}`,
  decode: (value) => {
    const at = value.indexOf("|")
    return at < 0 ? undefined : [value.slice(0, at), value.slice(at + 1)]
  },
  lua: {
    encode: (first, second) => `${first} .. "|" .. ${second}`,
    find: (value) => `string.find(${value}, "|", 1, true)`,
    first: (value, at) => `string.sub(${value}, 1, ${at} - 1)`,
    second: (value, at) => `string.sub(${value}, ${at} + 1)`
  }
}

/** A queued message, the value of its `payloads` entry: `"<id>|<envelope>"`. */
export const queued: Pair = pair
/** A durable membership waiting for a successor, a member of `detached`: `"<client>|<room>"`. */
export const detachedMembership: Pair = pair
/** A frame on a room channel: `"<frame number>|<envelope>"` (read by core's `Envelope.decodeFrame`). */
export const frame: Pair = pair

/**
 * An attempt record (S27), the value of an `attempts` entry: `"<id>|<n>|<epoch>"`, message `id`
 * was handed to the member for attempt `n` by a resumed join of the claim `epoch`. A message id
 * holds no `|` (`<client id>:<sequence>`).
 */
export const attempt = {
  encode: (id: string, n: number, epoch: string): string => `${id}|${n}|${epoch}`,
  lua: {
    /** the Lua expression of a record of the Lua expressions `id`, `n` and `epoch` */
    encode: (id: string, n: string, epoch: string): string => `${id} .. "|" .. ${n} .. "|" .. ${epoch}`,
    /** the Lua expression of its three parts (id, n as a string, epoch), nil for a malformed one */
    decode: (value: string): string => `string.match(${value}, "^([^|]*)|(%d+)|(.*)$")`
  }
} as const

/** The fields of a dead letter (S29) after its id, in the order of its encoding. */
const letterFields = ["seq", "at", "attempts", "member", "reason", "envelope"] as const

/** A dead letter as stored (S29). */
export interface Letter {
  readonly id: string
  readonly seq: number
  readonly at: number
  readonly attempts: number
  readonly member: string
  readonly reason: string
  readonly envelope: string
}

/**
 * A dead letter (S29), a member of `letters`: `"<id>|<JSON array [seq, at, attempts, member,
 * reason, envelope]>"`, the array made by the script that writes it (`cjson`): `seq` makes each
 * unique, the id in front finds the letters of a message without decoding them (a message id
 * holds no `|`).
 */
export const letter = {
  /** the letter of a `letters` member, undefined for another value */
  decode: (value: string): Letter | undefined => {
    const [id, json] = pair.decode(value) ?? []
    if (id === undefined || json === undefined) return undefined
    let parsed: unknown
    try {
      parsed = JSON.parse(json)
    } catch {
      return undefined
    }
    if (!Array.isArray(parsed) || parsed.length !== letterFields.length) return undefined
    const [seq, at, attempts, member, reason, envelope] = parsed as Array<unknown>
    return typeof seq === "number" && typeof at === "number" && typeof attempts === "number" &&
        typeof member === "string" && typeof reason === "string" && typeof envelope === "string"
      ? { id, seq, at, attempts, member, reason, envelope }
      : undefined
  },
  lua: {
    /** the Lua expression of a letter of the Lua expressions given (numbers and strings) */
    encode: (id: string, fields: { readonly [field in (typeof letterFields)[number]]: string }): string =>
      pair.lua.encode(id, `cjson.encode({ ${letterFields.map((field) => fields[field]).join(", ")} })`),
    /** the Lua condition: `value` is a letter of message `id` */
    isOf: (value: string, id: string): string => `string.sub(${value}, 1, #${id} + 1) == ${pair.lua.encode(id, `""`)}`,
    /** the Lua expression of its `at` (a number, nil for a malformed one), without decoding the rest */
    at: (value: string): string => `tonumber(string.match(${value}, "^[^|]*|%[[^,]*,([^,]*),"))`,
    /** the Lua expression of its envelope, for a letter of message `id` (decoding it; fails for a malformed one) */
    envelope: (value: string, id: string): string =>
      `cjson.decode(string.sub(${value}, #${id} + 2))[${letterFields.indexOf("envelope") + 1}]`
  }
} as const

// -----------------------------------------------------------------------------
// the schema in Lua
// -----------------------------------------------------------------------------

type RoomKeys = { readonly [kind in keyof typeof roomKinds]: (room: string) => string }
type ShardKeys = { readonly [kind in keyof typeof shardKinds]: string }
type ClientKeys = { readonly [kind in keyof typeof clientKinds]: (client: string) => string }

const quoted = (text: string) => JSON.stringify(text)
const luaUnder = (infix: string) => (name: string) => `(base .. ${quoted(`${infix}:`)} .. ${name})`

/**
 * The keys as Lua expressions over the script's `base` local: `K.meta("room")` is
 * `(base .. "m:" .. room)`, `K.clients` is `(base .. "clients")`. The scripts build their keys
 * inline with these (a Lua function per key would be a closure made on every call).
 */
export const K: RoomKeys & ShardKeys & ClientKeys = {
  ...(Object.fromEntries(Object.entries(roomKinds).map(([kind, infix]) => [kind, luaUnder(infix)])) as RoomKeys),
  ...(Object.fromEntries(
    Object.entries(shardKinds).map(([kind, name]) => [kind, `(base .. ${quoted(name)})`])
  ) as ShardKeys),
  clientRooms: luaUnder(clientKinds.clientRooms)
}

/** The `meta` fields as Lua string literals: `F.inFlightId` is `"fid"`. */
export const F: { readonly [field in keyof typeof metaFields]: string } = Object.fromEntries(
  Object.entries(metaFields).map(([field, name]) => [field, quoted(name)])
) as { readonly [field in keyof typeof metaFields]: string }

// -----------------------------------------------------------------------------
// argument values
// -----------------------------------------------------------------------------

/** The publish command of a connection: sharded Pub/Sub on a cluster (S17). */
export type Pub = "PUBLISH" | "SPUBLISH"

/**
 * The epoch of a durable client's claim (S21), as every script that writes for a client takes it:
 * "" for a client that is not durable, or before its claim; then the decimal epoch. A script
 * given an epoch does nothing (`fenced` in `prelude.ts`) unless it is the client's latest claim.
 */
export type Epoch = string

/**
 * The Redis side of one client: each `BackendClient` operation is one script call (DESIGN §4),
 * keys and channels built through `Sharding`.
 */
import type { Backend, QueueConfig } from "@lockstep/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { RedisConnection, ScriptArg } from "../RedisConnection.js"
import { baseOf, type Sharding } from "../Sharding.js"
import { redisError } from "./errors.js"
import { ScriptBatches } from "./scriptBatch.js"
import type { ScriptName } from "./scripts/index.js"

const isString = (u: unknown): u is string => typeof u === "string"
const asNumber = (u: unknown): number => (typeof u === "number" ? u : Number(u))
const asStrings = (u: unknown): ReadonlyArray<string> => (Array.isArray(u) ? u.filter(isString) : [])

export const make = (
  connection: RedisConnection["Type"],
  sharding: Sharding["Type"],
  config: QueueConfig.ResolvedQueueConfig,
  clientId: string
): Backend.BackendClient => {
  const prefix = config.keyPrefix
  const timeout = config.operationTimeout
  const pub = connection.kind === "cluster" ? "SPUBLISH" : "PUBLISH"
  const bases = Array.from({ length: sharding.shards }, (_, shard) => baseOf(sharding, prefix, shard))
  const baseOfRoom = (room: string) => bases[sharding.shardOf(room)]!
  const lockMs = Math.max(10, Math.floor(Duration.toMillis(config.housekeepingInterval) / 2))

  const run = (name: ScriptName, key: string, base: string, args: ReadonlyArray<ScriptArg>) =>
    connection.script(name, key, [base, pub, ...args], timeout)

  // a room's scripts (join, leave, resync, roomState): the arguments built in one array
  const roomScript = (name: ScriptName, room: string, args: ReadonlyArray<ScriptArg>) => {
    const base = baseOfRoom(room)
    return connection.script(name, `${base}m:${room}`, [base, pub, room, ...args], timeout)
  }

  /** shards holding any of `rooms` */
  const shardsOf = (rooms: ReadonlyArray<string>): Array<number> => {
    const set = new Set<number>()
    for (const room of rooms) set.add(sharding.shardOf(room))
    return [...set]
  }

  // a producer without rooms still cleans up one shard per run, in turn, so dead subscribers
  // never hold a room forever just because its live peers only produce
  let housekeepCursor = 0

  // the acks, sends and out-of-band messages of an event-loop turn: one script call per shard for
  // sends (a failed batch is an unknown outcome for each of its sends, never resent), per node
  // for acks (idempotent, S4: on a cluster, a batch that fails, e.g. because a slot moved since
  // the lookup, is made again one call per shard, each routed by ioredis). An ack seals the open
  // send batches, so the client's sends made after it reach the server after it.
  const shardOf = sharding.shards === 1 ? () => 0 : sharding.shardOf
  const heads = bases.map((base) => [base, pub])
  const ackHeads = bases.map((base) => [base, pub, clientId])
  const acksByNode = new ScriptBatches(connection, "ack", timeout)
  const acksByShard = new ScriptBatches(connection, "ack", timeout)
  const sends = new ScriptBatches(connection, "send", timeout)
  const outOfBands = new ScriptBatches(connection, "outOfBand", timeout)
  const batched = (
    batches: ScriptBatches,
    room: string,
    item: (base: string) => ReadonlyArray<ScriptArg>,
    chars: number
  ) =>
    Effect.async<void, Backend.BackendError>((resume) => {
      const shard = shardOf(room)
      const base = bases[shard]!
      batches.add(shard, `${base}m:${room}`, heads[shard]!, item(base), chars, (failure) => {
        resume(failure === undefined ? Effect.void : Effect.fail(failure))
      })
      // no interruption handler (see `RedisConnection.call`): interrupted in the turn that issued
      // it, a send is still made, an unknown outcome as after a timeout
    })

  const perShard = <A>(shards: ReadonlyArray<number>, f: (base: string) => Effect.Effect<A, Backend.BackendError>) =>
    Effect.forEach(shards, (shard) => f(bases[shard]!), { concurrency: "unbounded" })

  const malformed = (operation: string, reply: unknown) =>
    redisError(operation, new Error(`unexpected script reply ${JSON.stringify(reply)}`))

  return {
    send: (room, envelope, priority, id) =>
      batched(sends, room, (base) => [base, room, id, envelope, priority], envelope.length),
    sendOutOfBand: (room, envelope) => batched(outOfBands, room, (base) => [base, room, envelope], envelope.length),
    listen: (room, deliver) => connection.listen(`${baseOfRoom(room)}c:${room}`, deliver, timeout),
    join: (room, options) =>
      Effect.map(
        roomScript("join", room, [
          clientId,
          options.mode === "sync" ? "s" : "a",
          options.ackTimeoutMs === null ? "" : options.ackTimeoutMs,
          options.clientTimeoutMs
        ]),
        asNumber
      ),
    leave: (room) => Effect.asVoid(roomScript("leave", room, [clientId])),
    ack: (room, id, onFailure) => {
      const shard = shardOf(room)
      const base = bases[shard]!
      const key = `${base}m:${room}`
      const item = [base, room, id]
      sends.seal()
      outOfBands.seal()
      acksByNode.add(connection.nodeOf(key), key, ackHeads[shard]!, item, 0, (failure) => {
        if (failure === undefined) return
        if (connection.kind !== "cluster") return onFailure(room, id, failure)
        acksByShard.add(shard, key, ackHeads[shard]!, item, 0, (again) => {
          if (again !== undefined) onFailure(room, id, again)
        })
      })
    },
    keepalive: (rooms, clientTimeoutMs) => {
      // shard 0 is the registry of every live client (knownClients, S15); the others hold the
      // expiries that housekeeping of their rooms needs (S10)
      // shard 0 first: its node's group leads with the registry key, whose answer alone says
      // whether the server still knows this client; another shard may not know it yet (a join in
      // progress) without that meaning anything
      const shards = new Set([0, ...shardsOf(rooms)])
      // one round trip per node: the shards a node serves are refreshed by one cross-slot script
      const byNode = new Map<string, Array<string>>()
      for (const shard of shards) {
        const key = `${bases[shard]!}clients`
        const node = connection.nodeOf(key)
        const keys = byNode.get(node)
        if (keys === undefined) byNode.set(node, [key])
        else keys.push(key)
      }
      const one = (key: string) => run("keepalive", key, key.slice(0, -"clients".length), [clientId, clientTimeoutMs])
      // a node may stop serving a slot between the lookup and the call (migration, failover):
      // then fall back to one call per shard, each routed by ioredis
      const many = (keys: ReadonlyArray<string>) =>
        connection.script("keepaliveMany", keys[0]!, [clientId, clientTimeoutMs, ...keys.slice(1)], timeout)
          .pipe(
            Effect.catchAll((e) =>
              Effect.map(
                Effect.zipRight(
                  Effect.logDebug("lockstep: batched keepalive failed, one call per shard", e.message),
                  Effect.forEach(keys, one, { concurrency: "unbounded" })
                ),
                (replies) => replies[0]
              )
            )
          )
      return Effect.map(
        Effect.forEach(byNode.values(), (keys) => keys.length === 1 ? one(keys[0]!) : many(keys), {
          concurrency: "unbounded"
        }),
        (replies) => asNumber(replies[0]) === 1
      )
    },
    housekeep: (rooms) => {
      const shards = new Set([0, ...shardsOf(rooms), housekeepCursor++ % sharding.shards])
      const housekeepShards = (list: ReadonlyArray<number>, expired: ReadonlyArray<string>) =>
        perShard(list, (base) => run("housekeep", `${base}clients`, base, [lockMs, 100, ...expired]))
      return Effect.flatMap(housekeepShards([...shards], []), (replies) => {
        // shard 0 registers every client: the clients it found expired are ejected from their
        // rooms on every other shard now, not when the rotation gets there (S10)
        const registry = replies[0]
        const expired = Array.isArray(registry) ? asStrings((registry as Array<unknown>)[1]) : []
        if (expired.length === 0 || sharding.shards === 1) return Effect.void
        return Effect.asVoid(housekeepShards(Array.from({ length: sharding.shards - 1 }, (_, i) => i + 1), expired))
      })
    },
    resync: (room) =>
      Effect.flatMap(roomScript("resync", room, [clientId]), (reply) => {
        if (reply === null) return Effect.succeed(null)
        const [id, envelope] = asStrings(reply)
        return id !== undefined && envelope !== undefined
          ? Effect.succeed({ id, envelope })
          : Effect.succeed(null)
      }),
    unregister: (rooms) => {
      const shards = new Set(shardsOf(rooms))
      shards.add(0)
      return Effect.asVoid(perShard([...shards], (base) => run("unregister", `${base}clients`, base, [clientId])))
    },
    peek: (room, offset, limit) => {
      const base = baseOfRoom(room)
      return Effect.map(run("peek", `${base}q:${room}`, base, [room, offset, limit]), asStrings)
    },
    roomState: (room) =>
      Effect.flatMap(roomScript("roomState", room, []), (reply) => {
        if (!Array.isArray(reply) || reply.length < 6) return Effect.fail(malformed("roomState", reply))
        const [backlog, members, acked, fid, fat, now] = reply as Array<unknown>
        const releasedAt = asNumber(fat)
        return Effect.succeed({
          backlog: asNumber(backlog),
          members: asStrings(members),
          acked: asStrings(acked),
          inFlight: isString(fid) && fid !== ""
            ? { id: fid, releasedAt, age: asNumber(now) - releasedAt }
            : null
        })
      }),
    stats: (topRooms) =>
      Effect.map(
        perShard(
          Array.from({ length: sharding.shards }, (_, i) => i),
          (base) => run("stats", `${base}backlog`, base, [topRooms])
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
      ),
    connected: connection.connected
  }
}

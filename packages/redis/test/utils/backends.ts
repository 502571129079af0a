/**
 * Backends of one key prefix for engine tests at the backend level (`RedisBackend.make`: no
 * keepalive or housekeeping fiber runs beside the calls under test), and what those tests share:
 * join options, envelopes, a room channel's frames.
 */
import type { Backend } from "@lockstep/core"
import { Envelope, QueueConfig } from "@lockstep/core"
import { RedisLayer, type Sharding, ShardLayer } from "@lockstep/redis"
import { RedisTestCluster, RedisTestServer } from "@lockstep/redis/testing"
import { Effect, type Scope } from "effect"
import * as Keys from "../../src/internal/keys.js"
import * as RedisBackend from "../../src/internal/redisBackend.js"
import { rawNodes } from "./clusterProbe.js"
import { freshPrefix, rawRedis } from "./redisProbe.js"

/** The join options of attempts and dead letters (S27–S29), for the tests that do not look at them. */
export const joinDefaults = {
  handed: null,
  maxDeliveries: null,
  deadLetters: { limit: 100, retentionMs: 60_000 }
} as const

/** A sync join with the defaults. */
export const syncJoin: Backend.JoinOptions = {
  mode: "sync",
  ackTimeoutMs: null,
  clientTimeoutMs: 2000,
  ...joinDefaults
}

/** A queued message's envelope of `data`, as a client encodes it. */
export const envelope = (data: unknown, fields: Partial<Envelope.MessageEnvelope> = {}): string =>
  JSON.stringify({ k: "q", p: "producer", s: 1, pr: 0, t: 1_700_000_000_000, ...fields, d: data })

/** Backends of one fresh key prefix on one connection. */
export const engine = (
  connection: Parameters<typeof RedisBackend.make>[0],
  sharding: Sharding.Sharding["Service"],
  label: string
) =>
  Effect.gen(function*() {
    const prefix = freshPrefix(label)
    const config = yield* QueueConfig.resolve({ keyPrefix: prefix, clientTimeout: "2 seconds" })
    return {
      prefix,
      base: (shard: number) => Keys.shardBase(prefix, sharding.tagOf(shard)),
      backend: (clientId: string) => RedisBackend.make(connection, sharding, config, clientId)
    }
  })

/** Backends on the spawned standalone server in context, `shards` shards, with a raw connection to it. */
export const standaloneEngine = (label: string, shards = 1) =>
  Effect.gen(function*() {
    const server = yield* RedisTestServer.RedisTestServer
    const connection = yield* RedisLayer.make(server.url)
    const sharding = yield* ShardLayer.make({ shards })
    const raw = yield* rawRedis(server.port)
    return { ...(yield* engine(connection, sharding, label)), raw, port: server.port, sharding }
  }).pipe(Effect.orDie)

/** Backends on the spawned cluster in context, `shards` shards, with a raw connection to each node (by port). */
export const clusterEngine = (label: string, shards = 16) =>
  Effect.gen(function*() {
    const cluster = yield* RedisTestCluster.RedisTestCluster
    const nodes = yield* rawNodes()
    const connection = yield* RedisLayer.makeCluster(cluster.masters)
    const sharding = yield* ShardLayer.make({ shards })
    return { ...(yield* engine(connection, sharding, label)), cluster, nodes, sharding }
  }).pipe(Effect.orDie)

/** The frames of `room` from now on, as `backend` receives them (decoded), until the scope closes. */
export const framesOf = (
  backend: Backend.BackendClient,
  room: string
): Effect.Effect<ReadonlyArray<Envelope.Frame>, Backend.BackendError, Scope.Scope> =>
  Effect.gen(function*() {
    const frames: Array<Envelope.Frame> = []
    yield* backend.listen(room, (frame) => {
      const decoded = Envelope.decodeFrameOrReason(frame)
      if (typeof decoded !== "string") frames.push(decoded)
    })
    return frames
  })

/**
 * Ack `id` and wait until the server applied it: an ack does not wait, but a later operation of
 * the same backend reaches the server after it (here `roomState`). Dies if the ack failed.
 */
export const ackNow = (
  backend: Backend.BackendClient,
  room: string,
  id: string
): Effect.Effect<Backend.RawRoomState, Backend.BackendError> =>
  Effect.suspend(() => {
    let failed: Backend.BackendError | undefined
    backend.ack(room, id, (_room, _id, error) => {
      failed = error
    })
    return Effect.flatMap(
      backend.roomState(room),
      (state) => failed === undefined ? Effect.succeed(state) : Effect.die(failed)
    )
  })

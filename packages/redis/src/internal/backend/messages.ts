/**
 * Messages: send (S2, S3, S7), out-of-band (S9), ack (S3, S4), reject (S28) and peek (S13).
 *
 * The acks, sends and out-of-band messages of an event-loop turn leave in one script call per
 * shard for sends (a failed batch is an unknown outcome for each of its sends, never resent), per
 * node for acks (idempotent, S4: on a cluster, a batch that fails, e.g. because a slot moved since
 * the lookup, is made again one call per shard, each routed by ioredis). An ack seals the open
 * send batches, so the client's sends made after it reach the server after it.
 *
 * The hot path: per message one item record and the callback that resumes the caller; the heads
 * of each shard are built once (again after a claim: they carry the epoch, S21), and a batch's
 * routing key (`Keys.meta` of its first room) once per batch.
 *
 * A durable client's batch made after a newer claim of its id fails as a whole with
 * `ClientSuperseded` (its items did nothing on the shards where it was fenced); such an ack is
 * reported to `onFailure` at once, never made again per shard.
 */
import type { Backend } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Keys from "../keys.js"
import { ack } from "../operations/ack.js"
import { outOfBand } from "../operations/outOfBand.js"
import { peek } from "../operations/peek.js"
import { reject } from "../operations/reject.js"
import { send } from "../operations/send.js"
import { ScriptBatches } from "../scriptBatch.js"
import type { BackendContext } from "./context.js"

export const make = (
  context: BackendContext
): Pick<Backend.BackendClient, "send" | "sendOutOfBand" | "ack" | "reject" | "peek"> => {
  const { bases, clientId, connection, epoch, pub, runner, shardOf, timeout } = context
  const { fence } = epoch
  // the head of each shard (the same for the three operations), for the epoch it was built with
  let headsEpoch = epoch.current
  const makeHeads = (current: Keys.Epoch) => bases.map((base) => ({ base, pub, client: clientId, epoch: current }))
  let heads = makeHeads(headsEpoch)
  const currentHeads = () => {
    if (epoch.current !== headsEpoch) {
      headsEpoch = epoch.current
      heads = makeHeads(headsEpoch)
    }
    return heads
  }
  // the node of a shard is the node of any of its keys (one slot): looked up with a key made once
  const shardKeys = bases.map((base) => Keys.clients(base))
  const acksByNode = new ScriptBatches(runner, ack, timeout, fence)
  const acksByShard = new ScriptBatches(runner, ack, timeout, fence)
  const sends = new ScriptBatches(runner, send, timeout, fence)
  const outOfBands = new ScriptBatches(runner, outOfBand, timeout, fence)

  // no interruption handler (see `Runner.later`): interrupted in the turn that issued it, a send
  // is still made, an unknown outcome as after a timeout
  const settle =
    (resume: (effect: Effect.Effect<void, Backend.BackendError>) => void) =>
    (failure: Backend.BackendError | undefined) => resume(failure === undefined ? Effect.void : Effect.fail(failure))

  return {
    send: (room, envelope, priority, id) =>
      Effect.callback<void, Backend.BackendError>((resume) => {
        const shard = shardOf(room)
        const item = { base: bases[shard]!, room, id, envelope, priority }
        sends.add(shard, currentHeads()[shard]!, item, envelope.length, settle(resume))
      }),
    sendOutOfBand: (room, envelope) =>
      Effect.callback<void, Backend.BackendError>((resume) => {
        const shard = shardOf(room)
        const item = { base: bases[shard]!, room, envelope }
        outOfBands.add(shard, currentHeads()[shard]!, item, envelope.length, settle(resume))
      }),
    ack: (room, id, onFailure) => {
      const shard = shardOf(room)
      const item = { base: bases[shard]!, room, id }
      const head = currentHeads()[shard]!
      sends.seal()
      outOfBands.seal()
      acksByNode.add(runner.nodeOf(shardKeys[shard]!), head, item, 0, (failure) => {
        if (failure === undefined) return
        // one call per shard is for a batch the node refused (a slot moved), not for a fenced client
        if (connection.kind !== "cluster" || failure._tag === "ClientSuperseded") return onFailure(room, id, failure)
        acksByShard.add(shard, head, item, 0, (again) => {
          if (again !== undefined) onFailure(room, id, again)
        })
      })
    },
    // awaited, one call: rare, unlike acks (a send sealed before it still reaches the server first)
    reject: (room, id, attempt, reason, { limit, retentionMs }) => {
      sends.seal()
      outOfBands.seal()
      return context.run(reject, {
        base: context.baseOf(room),
        pub,
        room,
        client: clientId,
        epoch: epoch.current,
        id,
        attempt,
        reason,
        limit,
        retentionMs
      })
    },
    peek: (room, offset, limit) => context.run(peek, { base: context.baseOf(room), pub, room, offset, limit })
  }
}

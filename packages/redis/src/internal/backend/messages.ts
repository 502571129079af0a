/**
 * Messages: send (S2, S3, S7), out-of-band (S9), ack (S3, S4) and peek (S13).
 *
 * The acks, sends and out-of-band messages of an event-loop turn leave in one script call per
 * shard for sends (a failed batch is an unknown outcome for each of its sends, never resent), per
 * node for acks (idempotent, S4: on a cluster, a batch that fails, e.g. because a slot moved since
 * the lookup, is made again one call per shard, each routed by ioredis). An ack seals the open
 * send batches, so the client's sends made after it reach the server after it.
 *
 * The hot path: per message one item array (`Keys.send.itemArgs`, …) and the callback that
 * resumes the caller; the heads of each shard are built once (again after a claim: they carry the
 * epoch, S21), and a batch's routing key (`Keys.meta` of its first room) only when the batch opens.
 *
 * A durable client's batch made after a newer claim of its id fails as a whole with
 * `ClientSuperseded` (its items did nothing on the shards where it was fenced); such an ack is
 * reported to `onFailure` at once, never made again per shard.
 */
import type { Backend } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Keys from "../keys.js"
import { ScriptBatches } from "../scriptBatch.js"
import { asStrings, type BackendContext } from "./context.js"

export const make = (
  context: BackendContext
): Pick<Backend.BackendClient, "send" | "sendOutOfBand" | "ack" | "peek"> => {
  const { bases, clientId, connection, fence, pub, shardOf, timeout } = context
  // the heads of each shard, for the epoch they were built with
  let headsEpoch = context.epoch
  const makeHeads = (epoch: Keys.Epoch) => ({
    send: bases.map((base) => Keys.send.args(base, pub, clientId, epoch)),
    outOfBand: bases.map((base) => Keys.outOfBand.args(base, pub, clientId, epoch)),
    ack: bases.map((base) => Keys.ack.args(base, pub, clientId, epoch))
  })
  let heads = makeHeads(headsEpoch)
  const currentHeads = () => {
    if (context.epoch !== headsEpoch) {
      headsEpoch = context.epoch
      heads = makeHeads(headsEpoch)
    }
    return heads
  }
  // the node of a shard is the node of any of its keys (one slot): looked up with a key made once
  const shardKeys = bases.map((base) => Keys.clients(base))
  const acksByNode = new ScriptBatches(connection, "ack", timeout, fence)
  const acksByShard = new ScriptBatches(connection, "ack", timeout, fence)
  const sends = new ScriptBatches(connection, "send", timeout, fence)
  const outOfBands = new ScriptBatches(connection, "outOfBand", timeout, fence)

  // no interruption handler (see `RedisConnection.scriptLater`): interrupted in the turn that
  // issued it, a send is still made, an unknown outcome as after a timeout
  const settle =
    (resume: (effect: Effect.Effect<void, Backend.BackendError>) => void) =>
    (failure: Backend.BackendError | undefined) => resume(failure === undefined ? Effect.void : Effect.fail(failure))

  return {
    send: (room, envelope, priority, id) =>
      Effect.callback<void, Backend.BackendError>((resume) => {
        const shard = shardOf(room)
        const base = bases[shard]!
        const item = Keys.send.itemArgs(base, room, id, envelope, priority)
        sends.add(shard, base, room, currentHeads().send[shard]!, item, envelope.length, settle(resume))
      }),
    sendOutOfBand: (room, envelope) =>
      Effect.callback<void, Backend.BackendError>((resume) => {
        const shard = shardOf(room)
        const base = bases[shard]!
        const item = Keys.outOfBand.itemArgs(base, room, envelope)
        outOfBands.add(shard, base, room, currentHeads().outOfBand[shard]!, item, envelope.length, settle(resume))
      }),
    ack: (room, id, onFailure) => {
      const shard = shardOf(room)
      const base = bases[shard]!
      const item = Keys.ack.itemArgs(base, room, id)
      const head = currentHeads().ack[shard]!
      sends.seal()
      outOfBands.seal()
      acksByNode.add(connection.nodeOf(shardKeys[shard]!), base, room, head, item, 0, (failure) => {
        if (failure === undefined) return
        // one call per shard is for a batch the node refused (a slot moved), not for a fenced client
        if (connection.kind !== "cluster" || failure._tag === "ClientSuperseded") return onFailure(room, id, failure)
        acksByShard.add(shard, base, room, head, item, 0, (again) => {
          if (again !== undefined) onFailure(room, id, again)
        })
      })
    },
    peek: (room, offset, limit) => {
      const base = context.baseOf(room)
      return Effect.map(
        context.script("peek", Keys.queue(base, room), Keys.peek.args(base, pub, room, offset, limit)),
        asStrings
      )
    }
  }
}

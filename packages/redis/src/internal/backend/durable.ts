/**
 * Durable members: claim (S21, S23) and memberships (S23). (The resume is join's, detach is in
 * `rooms.ts`; fencing is in every script that writes, `fenced` in `prelude.ts`.)
 *
 * A claim allocates the next epoch of the id on shard 0 (HINCRBY of `claims`: epochs only grow),
 * then writes it to every other shard, all at once: a shard that already saw a newer epoch means
 * a newer claim won the race, and this one fails with `ClientSuperseded`. Every shard also
 * registers the client and starts the resume deadline of each membership of the id it holds. From
 * the answer on, this backend passes the epoch to every script that writes (`ClaimEpoch`).
 */
import type { Backend } from "@lockstep/core"
import * as Effect from "effect/Effect"
import type * as Keys from "../keys.js"
import { claim } from "../operations/claim.js"
import { memberships } from "../operations/memberships.js"
import { type BackendContext, perShard } from "./context.js"

export const make = (context: BackendContext): Pick<Backend.BackendClient, "claim" | "memberships"> => {
  const { bases, clientId, pub, sharding } = context
  const allShards = Array.from({ length: sharding.shards }, (_, i) => i)
  const others = allShards.slice(1)

  const claimOn = (base: string, clientTimeoutMs: number, epoch: Keys.Epoch) =>
    context.run(claim, { base, pub, client: clientId, clientTimeoutMs, epoch })

  return {
    claim: (clientTimeoutMs) =>
      Effect.gen(function*() {
        const epoch = yield* claimOn(bases[0]!, clientTimeoutMs, "")
        yield* perShard(context, others, (base) => claimOn(base, clientTimeoutMs, String(epoch)))
        context.epoch.set(epoch)
        return { epoch }
      }),
    memberships: Effect.map(
      perShard(context, allShards, (base) => context.run(memberships, { base, pub, client: clientId })),
      (replies) => replies.flat().sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : 0))
    )
  }
}

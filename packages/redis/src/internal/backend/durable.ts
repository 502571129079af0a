/**
 * Durable members: claim (S21, S23) and memberships (S23). (The resume is join's, detach is in
 * `rooms.ts`; fencing is in every script that writes, `fenced` in `scripts/prelude.ts`.)
 *
 * A claim allocates the next epoch of the id on shard 0 (HINCRBY of `claims`: epochs only grow),
 * then writes it to every other shard, all at once: a shard that already saw a newer epoch means
 * a newer claim won the race, and this one fails with `ClientSuperseded`. Every shard also
 * registers the client and starts the resume deadline of each membership of the id it holds. From
 * the answer on, this backend passes the epoch to every script that writes (`context.epoch`).
 */
import type { Backend } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as Keys from "../keys.js"
import { asNumber, asStrings, type BackendContext, malformed, perShard } from "./context.js"

export const make = (context: BackendContext): Pick<Backend.BackendClient, "claim" | "memberships"> => {
  const { bases, clientId, pub, sharding } = context
  const allShards = Array.from({ length: sharding.shards }, (_, i) => i)
  const others = allShards.slice(1)

  const claimOn = (base: string, clientTimeoutMs: number, epoch: Keys.Epoch) =>
    Effect.flatMap(
      context.script("claim", Keys.clients(base), Keys.claim.args(base, pub, clientId, clientTimeoutMs, epoch)),
      (reply) => {
        const answered = asNumber(reply)
        return Number.isSafeInteger(answered) && answered > 0
          ? Effect.succeed(answered)
          : Effect.fail(malformed("claim", reply))
      }
    )

  return {
    claim: (clientTimeoutMs) =>
      Effect.gen(function*() {
        const epoch = yield* claimOn(bases[0]!, clientTimeoutMs, "")
        yield* perShard(context, others, (base) => claimOn(base, clientTimeoutMs, String(epoch)))
        context.epoch = String(epoch)
        return { epoch }
      }),
    memberships: Effect.map(
      perShard(
        context,
        allShards,
        (base) => context.script("memberships", Keys.clients(base), Keys.memberships.args(base, pub, clientId))
      ),
      (replies) => {
        const memberships: Array<Backend.Membership> = []
        for (const reply of replies) {
          const flat = asStrings(reply)
          for (let i = 0; i + 1 < flat.length; i += 2) {
            memberships.push({ room: flat[i]!, mode: flat[i + 1] === "s" ? "sync" : "async" })
          }
        }
        return memberships.sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : 0))
      }
    )
  }
}

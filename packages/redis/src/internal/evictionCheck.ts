/**
 * A server that may evict keys corrupts rooms silently (a queue, a member set or an in-flight
 * message gone under memory pressure), so each `RedisConnection` reads `maxmemory-policy` once
 * when it connects (of the server, or of every master) and warns, once, if it is not
 * `noeviction`. It reads `INFO memory` (the user needs `INFO` anyway: ioredis' ready check sends
 * it); a user that may not run it, or any other failure to read the policy, is logged at debug
 * level and changes nothing. The check runs in the background, in the connection's scope: an
 * unreachable master must not hold the connection back; a debug line says when it is done.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { RedisFailure } from "./errors.js"

/** One node to check: its address (for the message) and how to read `INFO memory` from it. */
export interface Node {
  readonly address: string
  readonly info: Effect.Effect<string, RedisFailure>
}

const policyOf = (info: string): string | undefined => /^maxmemory_policy:(\S+)/m.exec(info)?.[1]

/** Check every node (all at once); one warning naming the nodes that may evict and their policies. */
const check = (nodes: ReadonlyArray<Node>): Effect.Effect<void> =>
  Effect.forEach(
    nodes,
    (node) =>
      node.info.pipe(
        Effect.map((info) => ({ node: node.address, policy: policyOf(info) })),
        Effect.tapError((e) =>
          Effect.logDebug(`lockstep: could not read maxmemory-policy of ${node.address}`, e.message)
        ),
        Effect.option
      ),
    { concurrency: "unbounded" }
  ).pipe(
    Effect.flatMap((results) => {
      const evicting = results.flatMap((r) =>
        r._tag === "Some" && r.value.policy !== undefined && r.value.policy !== "noeviction" ? [r.value] : []
      )
      const checked = Effect.logDebug(
        `lockstep: maxmemory-policy checked: ${
          results.map((r, i) => `${nodes[i]!.address} ${r._tag === "Some" ? r.value.policy ?? "?" : "unread"}`)
            .join(", ")
        }`
      )
      if (evicting.length === 0) return checked
      const where = evicting.map((e) => `${e.node} (maxmemory-policy ${e.policy})`).join(", ")
      return Effect.logWarning(
        `lockstep: Redis at ${where} may evict keys under memory pressure; an evicted lockstep key ` +
          "silently corrupts its room (a lost queue, member or in-flight message). Set the policy to " +
          "noeviction: CONFIG SET maxmemory-policy noeviction (and maxmemory-policy noeviction in redis.conf)."
      ).pipe(Effect.andThen(checked))
    })
  )

/** `check` in the background, in the scope of the connection. */
export const start = (nodes: ReadonlyArray<Node>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.forkScoped(check(nodes)))

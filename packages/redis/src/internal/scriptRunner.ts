/**
 * Running lockstep scripts on a connection: each is registered once with ioredis
 * `defineCommand` (EVALSHA, falling back to EVAL on NOSCRIPT) and called through the
 * connection's `Calls`, so it leaves with the other commands of its event-loop turn.
 */
import type { Cluster, Redis } from "ioredis"
import type { RedisConnection, ScriptArg } from "../RedisConnection.js"
import type { Calls } from "./calls.js"
import { scripts } from "./scripts/index.js"

/** The commands `defineCommand` adds to a client, by name. */
type ScriptCaller = Record<string, (key: string, ...args: ReadonlyArray<ScriptArg>) => Promise<unknown>>

/** Register every script on `client`; each declares one key (its routing key). */
export const defineScripts = (client: Redis | Cluster): void => {
  for (const script of Object.values(scripts)) client.defineCommand(script.name, { numberOfKeys: 1, lua: script.lua })
}

/** `script` and `scriptLater` of a connection (standalone or cluster) whose scripts are defined. */
export const make = (
  client: Redis | Cluster,
  calls: Calls
): Pick<RedisConnection["Service"], "script" | "scriptLater"> => {
  const caller = client as unknown as ScriptCaller
  return {
    script: (name, key, args, timeout) => {
      const fn = caller[scripts[name].name]!
      return calls.call(name, timeout, () => fn.call(client, key, ...args))
    },
    scriptLater: (name, key, args, timeout, done) => {
      const fn = caller[scripts[name].name]!
      calls.later(name, timeout, () => fn.call(client, key, ...args()), done)
    }
  }
}

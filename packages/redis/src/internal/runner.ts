/**
 * Running lockstep's operations (`operation.ts`) on a connection: each is registered with ioredis
 * `defineCommand` on its first run (EVALSHA, falling back to EVAL on NOSCRIPT), called through the
 * connection's `Calls`, so it leaves with the other commands of its event-loop turn, and its reply
 * is decoded; a reply that does not decode fails with an `EngineError`.
 *
 * Every `RedisConnection` made by `RedisLayer` carries its runner (`withRunner`): the public
 * service types it `unknown` under a symbol it does not export, the engine reads it with `runnerOf`.
 */
import type { QueueError } from "@lockstep/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { Cluster, Redis } from "ioredis"
import type { RedisConnection } from "../RedisConnection.js"
import type { Calls } from "./calls.js"
import { redisError, type RedisFailure } from "./errors.js"
import type { Any, ArgValue, BatchOperation, Operation } from "./operation.js"
import type { Decoder } from "./reply.js"

/** The commands `defineCommand` adds to a client, by name. */
type ScriptCaller = Record<string, (key: string, ...args: ReadonlyArray<ArgValue>) => Promise<unknown>>

/** The failure of a reply that is not what the operation answers. */
export const malformed = (operation: string, reply: unknown, expected: string): QueueError.EngineError =>
  redisError(operation, new Error(`unexpected script reply ${JSON.stringify(reply)} (expected ${expected})`))

/** The reply of `operation` decoded, or the failure of a reply it does not answer. */
const decode = <O>(operation: { readonly name: string; readonly decode: Decoder<O> }, reply: unknown) =>
  Result.mapError(operation.decode(reply), (expected) => malformed(operation.name, reply, expected))

export class Runner {
  /** the command of each operation registered so far, by name */
  private readonly registered = new Map<string, { readonly lua: string; readonly call: ScriptCaller[string] }>()

  constructor(
    private readonly client: Redis | Cluster,
    private readonly calls: Calls,
    /** The node currently serving `key` (cluster; "" on a standalone server): used to batch per node. */
    readonly nodeOf: (key: string) => string
  ) {}

  /**
   * The ioredis command of `operation`, defined on its first use. Two operations of one name are
   * a bug (the second would run the first's Lua): refused, with an `EngineError`.
   */
  private commandOf(operation: Any): ScriptCaller[string] {
    const known = this.registered.get(operation.name)
    if (known !== undefined) {
      if (known.lua !== operation.lua) throw new Error(`another operation is registered as ${operation.name}`)
      return known.call
    }
    this.client.defineCommand(operation.command, { numberOfKeys: 1, lua: operation.lua })
    const call = (this.client as unknown as ScriptCaller)[operation.command]!
    this.registered.set(operation.name, { lua: operation.lua, call })
    return call
  }

  /** The names of the operations registered so far. */
  names(): ReadonlyArray<string> {
    return [...this.registered.keys()]
  }

  /** Run `operation` on `input`: one EVALSHA routed by its key, its reply decoded. */
  run<I, O>(operation: Operation<I, O>, input: I, timeout: Duration.Duration): Effect.Effect<O, RedisFailure> {
    const key = operation.key(input)
    const args = operation.argv(input)
    return Effect.flatMap(
      this.calls.call(operation.name, timeout, () => this.commandOf(operation).call(this.client, key, ...args)),
      (reply) => Effect.fromResult(decode(operation, reply))
    )
  }

  /**
   * `run` without an Effect, for per-message batches: the call is made at the end of this
   * event-loop turn with the batch `batch` returns then (so calls of the same turn can add items
   * to it; it has one item at least), routed by the key of its first item; `done` receives the
   * failure, or `undefined` and the decoded reply.
   */
  later<H, I, O>(
    operation: BatchOperation<H, I, O>,
    batch: () => { readonly head: H; readonly items: ReadonlyArray<I> },
    timeout: Duration.Duration,
    done: (failure: RedisFailure | undefined, output: O | undefined) => void
  ): void {
    this.calls.later(
      operation.name,
      timeout,
      () => {
        const { head, items } = batch()
        return this.commandOf(operation).call(this.client, operation.key(items[0]!), ...operation.argv(head, items))
      },
      (failure, reply) => {
        if (failure !== undefined) return done(failure, undefined)
        const output = decode(operation, reply)
        if (Result.isFailure(output)) done(output.failure, undefined)
        else done(undefined, output.success)
      }
    )
  }
}

/**
 * The key under which a `RedisConnection` carries its runner: the symbol of `RedisConnection.ts`
 * (`Symbol.for` of the same key), which the public declarations type as `unknown`.
 */
const RunnerId: unique symbol = Symbol.for("@lockstep/redis/RedisConnection/operations")

/** A `RedisConnection` whose runner is typed. */
interface Carrier {
  readonly [RunnerId]: Runner
}

/** The public members of a connection. */
type Members = Pick<RedisConnection["Service"], "kind" | "listen" | "connected" | "nodes">

/** A connection of `members` that runs lockstep's operations with `runner`. */
export const withRunner = (members: Members, runner: Runner): RedisConnection["Service"] => {
  const carrier: Members & Carrier = { ...members, [RunnerId]: runner }
  return carrier as unknown as RedisConnection["Service"]
}

/** The runner of a connection made by `withRunner`. */
export const runnerOf = (connection: RedisConnection["Service"]): Runner => (connection as unknown as Carrier)[RunnerId]

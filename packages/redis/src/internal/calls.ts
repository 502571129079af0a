/**
 * The calls of one connection: each ioredis call is made at the end of the event-loop turn that
 * issued it, with the turn's other calls (`TurnBatch`), under a deadline (`Deadlines`), and its
 * outcome becomes `EngineError` / `OperationTimeout`. Every ioredis command of the engine goes
 * through here, except connecting and quitting (`withDeadline`).
 */
import { QueueError } from "@lockstep/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Cluster, Redis } from "ioredis"
import { Deadlines, type Pending } from "./deadlines.js"
import { redisError, type RedisFailure } from "./errors.js"
import { type Corkable, TurnBatch } from "./turnBatch.js"

/** How often deadlines are checked: a call fails at most this late. */
const tickMs = 20

export class Calls {
  private readonly turn: TurnBatch

  constructor(private readonly deadlines: Deadlines, sockets: Corkable) {
    this.turn = new TurnBatch(sockets)
  }

  /**
   * Make a promise-returning ioredis call at the end of the current turn with a deadline, and hand
   * its outcome to `done`: the reply, or the failure. No Effect and no fiber: for per-message
   * batches (acks), where resuming a fiber per call costs more than the call itself. Returns a
   * function that withdraws the call if it was not made yet (and silences `done`).
   */
  later<A>(
    operation: string,
    timeout: Duration.Duration,
    run: () => Promise<A>,
    done: (failure: RedisFailure | undefined, value: A | undefined) => void
  ): () => void {
    const deadlines = this.deadlines
    let settled = false
    const entry: Pending = {
      deadline: performance.now() + Duration.toMillis(timeout),
      expire: () => {
        if (settled) return
        settled = true
        done(new QueueError.OperationTimeout({ operation, timeout }), undefined)
      }
    }
    const settle = (failure: QueueError.EngineError | undefined, value: A | undefined) => {
      if (settled) return
      settled = true
      deadlines.delete(entry)
      done(failure, value)
    }
    deadlines.add(entry)
    this.turn.add(() => {
      if (settled) return
      let promise: Promise<A>
      try {
        promise = run()
      } catch (cause) {
        return settle(redisError(operation, cause), undefined)
      }
      promise.then(
        (value) => settle(undefined, value),
        (cause: unknown) => settle(redisError(operation, cause), undefined)
      )
    })
    return () => {
      settled = true
      deadlines.delete(entry)
    }
  }

  /**
   * `later` as an Effect. A call interrupted before the end of the turn is never made. (The
   * per-message calls, sends and acks, do not come through here: they are batched per turn with
   * `Runner.later`, and an interrupted send is still made, an unknown outcome as after a timeout.)
   */
  call<A>(operation: string, timeout: Duration.Duration, run: () => Promise<A>): Effect.Effect<A, RedisFailure> {
    return Effect.callback<A, RedisFailure>((resume) =>
      Effect.sync(this.later(
        operation,
        timeout,
        run,
        (failure, value) => resume(failure === undefined ? Effect.succeed(value as A) : Effect.fail(failure))
      ))
    )
  }
}

/** The calls of a connection whose sockets are `sockets`; their deadlines end with the scope. */
export const make = (sockets: Corkable): Effect.Effect<Calls, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Deadlines(tickMs)),
      (deadlines) => Effect.sync(() => deadlines.close())
    ),
    (deadlines) => new Calls(deadlines, sockets)
  )

/**
 * An ioredis call made at once (connect, quit), failing with `OperationTimeout` after `timeout`
 * by itself, not by interruption: it works inside the uninterruptible acquisition of a resource.
 */
export const withDeadline = <A>(
  operation: string,
  timeout: Duration.Duration,
  run: () => Promise<A>
): Effect.Effect<A, RedisFailure> =>
  Effect.callback<A, RedisFailure>((resume) => {
    let settled = false
    const settle = (effect: Effect.Effect<A, RedisFailure>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(effect)
    }
    const timer = setTimeout(
      () => settle(Effect.fail(new QueueError.OperationTimeout({ operation, timeout }))),
      Duration.toMillis(timeout)
    )
    try {
      run().then(
        (value) => settle(Effect.succeed(value)),
        (cause: unknown) => settle(Effect.fail(redisError(operation, cause)))
      )
    } catch (cause) {
      settle(Effect.fail(redisError(operation, cause)))
    }
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
    })
  })

/** Quit (at most 2 s), then disconnect; a connection that is not ready is just disconnected. */
export const quit = (client: Redis | Cluster): Effect.Effect<void> =>
  client.status === "ready"
    ? withDeadline("quit", Duration.seconds(2), () => client.quit()).pipe(
      Effect.catch(() => Effect.void),
      Effect.ensuring(Effect.sync(() => client.disconnect()))
    )
    : Effect.sync(() => client.disconnect())

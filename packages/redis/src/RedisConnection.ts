/**
 * The one seam where ioredis is touched. A `RedisConnection` is a command connection plus one
 * subscriber connection per process (standalone), or one `Redis.Cluster` with sharded
 * subscribers (cluster, S17), shared by every `ClientLayer` built on it. Every call is wrapped
 * into `EngineError` / `OperationTimeout`; incoming Pub/Sub messages are routed by one listener per
 * connection through a `Map<channel, deliver>`.
 *
 * @since 0.1.0
 */
import { QueueError } from "@lockstep/core"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import { redisError, type RedisFailure } from "./internal/errors.js"

/** @since 0.1.0 */
export type ScriptArg = string | number

/**
 * The lockstep scripts a connection runs (`script`, `scriptLater`).
 *
 * @since 0.1.0
 */
export type ScriptName =
  | "ack"
  | "housekeep"
  | "join"
  | "keepalive"
  | "keepaliveMany"
  | "leave"
  | "outOfBand"
  | "peek"
  | "resync"
  | "roomState"
  | "send"
  | "stats"
  | "unregister"

/**
 * @since 0.1.0
 */
export class RedisConnection extends Context.Tag("@lockstep/redis/RedisConnection")<RedisConnection, {
  readonly kind: "standalone" | "cluster"
  /** Run one lockstep script: a single EVALSHA routed by `key` (NOSCRIPT handled by ioredis). */
  readonly script: (
    name: ScriptName,
    key: string,
    args: ReadonlyArray<ScriptArg>,
    timeout: Duration.Duration
  ) => Effect.Effect<unknown, RedisFailure>
  /**
   * `script` without an Effect, for per-message batches: the call is made at the end of this
   * event-loop turn with the arguments `args` returns then (so calls of the same turn can add to
   * them), and `done` receives the failure (or `undefined`) and the reply.
   */
  readonly scriptLater: (
    name: ScriptName,
    key: string,
    args: () => ReadonlyArray<ScriptArg>,
    timeout: Duration.Duration,
    done: (failure: RedisFailure | undefined, reply: unknown) => void
  ) => void
  /**
   * Subscribe `deliver` to a channel (SUBSCRIBE, or SSUBSCRIBE on a cluster). Live when the Effect
   * succeeds, unsubscribed when the Scope closes and no other listener of the channel is left.
   */
  readonly listen: (
    channel: string,
    deliver: (message: string) => void,
    timeout: Duration.Duration
  ) => Effect.Effect<void, RedisFailure, Scope.Scope>
  /** true while the subscriber connection is up and its channels are subscribed */
  readonly connected: SubscriptionRef.SubscriptionRef<boolean>
  /** Node addresses to use for diagnostics, e.g. `127.0.0.1:6380`. */
  readonly nodes: Effect.Effect<ReadonlyArray<string>>
  /** The node currently serving `key` (cluster; "" on a standalone server): used to batch per node. */
  readonly nodeOf: (key: string) => string
}>() {}

/** An operation waiting for its reply, and what to do when its deadline passes. */
interface Pending {
  readonly deadline: number
  readonly expire: () => void
}

/**
 * Deadlines of every operation in flight, checked by one coarse interval timer instead of one
 * `setTimeout` per operation (a timer per call is measurable on the hot path: every ack is a
 * call). An operation fails at most `tick` ms after its deadline. The timer runs only while
 * operations are pending and never keeps the process alive.
 */
class Deadlines {
  private readonly pending = new Set<Pending>()
  private timer: ReturnType<typeof setInterval> | undefined = undefined
  constructor(private readonly tick: number) {}

  add(entry: Pending): void {
    this.pending.add(entry)
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), this.tick)
      this.timer.unref()
    }
  }

  delete(entry: Pending): void {
    this.pending.delete(entry)
  }

  private sweep(): void {
    if (this.pending.size === 0) {
      clearInterval(this.timer)
      this.timer = undefined
      return
    }
    const now = performance.now()
    for (const entry of this.pending) {
      if (entry.deadline <= now) {
        this.pending.delete(entry)
        entry.expire()
      }
    }
  }
}

const deadlines = new Deadlines(20)

/**
 * Commands are written at the end of the event-loop turn that issued them, all together. A write
 * to a socket whose reader is asleep wakes it up, and on a virtual machine that wake-up costs more
 * than the write (`perf` on this project's 2-core VM: about 20% of the client's time went to it in
 * the one-room benchmark). Written together, the commands of a turn (acks of many rooms, of many
 * clients in one process) wake Redis once instead of once each; the replies come back together.
 */
class TurnBatch {
  private pending: Array<() => void> = []
  private sockets: Array<Corkable> = []
  private scheduled = false
  private readonly flush = () => {
    this.scheduled = false
    const batch = this.pending
    const sockets = this.sockets
    this.pending = []
    this.sockets = []
    // corked, a connection's commands of this turn leave in one writev instead of a write each;
    // exactly the sockets corked are uncorked, whatever fails in between
    const corked: Array<Corkable> = []
    for (const socket of sockets) {
      try {
        socket.cork()
        corked.push(socket)
      } catch {
        // this connection's commands are written uncorked
      }
    }
    try {
      for (const write of batch) write() // each reports its own failure to its caller
    } finally {
      for (const socket of corked) {
        try {
          socket.uncork()
        } catch {
          // a socket that cannot be uncorked is being destroyed: its commands fail on their own
        }
      }
    }
  }
  add(write: () => void, socket: Corkable | undefined): void {
    this.pending.push(write)
    if (socket !== undefined && !this.sockets.includes(socket)) this.sockets.push(socket)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flush)
    }
  }
}

/**
 * The socket of a connection, corked while a turn's commands are written.
 *
 * @since 0.1.0
 */
export interface Corkable {
  cork(): void
  uncork(): void
}

const turn = new TurnBatch()

/**
 * Make a promise-returning ioredis call at the end of the current event-loop turn (see
 * `TurnBatch`) with a deadline (checked every 20 ms), and hand its outcome to `done`: the reply,
 * or the failure. No Effect and no fiber: for per-message batches (acks), where resuming a fiber
 * per call costs more than the call itself. Returns a function that withdraws the call if it was
 * not made yet (and silences `done`).
 *
 * @since 0.1.0
 */
export const callLater = <A>(
  operation: string,
  timeout: Duration.Duration,
  run: () => Promise<A>,
  socket: Corkable | undefined,
  done: (failure: RedisFailure | undefined, value: A | undefined) => void
): () => void => {
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
  turn.add(() => {
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
  }, socket)
  return () => {
    settled = true
    deadlines.delete(entry)
  }
}

/**
 * `callLater` as an Effect. A call interrupted before the end of the turn is never made. (The
 * per-message calls, sends and acks, do not come through here: they are batched per turn with
 * `scriptLater`, and an interrupted send is still made, an unknown outcome as after a timeout.)
 *
 * @since 0.1.0
 */
export const call = <A>(
  operation: string,
  timeout: Duration.Duration,
  run: () => Promise<A>,
  socket?: Corkable | undefined
): Effect.Effect<A, RedisFailure> =>
  Effect.async<A, RedisFailure>((resume) =>
    Effect.sync(callLater(
      operation,
      timeout,
      run,
      socket,
      (failure, value) => resume(failure === undefined ? Effect.succeed(value as A) : Effect.fail(failure))
    ))
  )

/**
 * The per-message script calls (acks, sends, out-of-band messages) of one client, gathered per
 * group (a shard, or the shards of one cluster node) for the current event-loop turn and made as
 * one script call, since those scripts take many items: one command to build, write and parse,
 * one script run and one round trip for all the calls of a turn, instead of one each. Calls of a
 * turn keep their order inside the batch, so a producer's sends to a room stay FIFO (S2).
 */
import type { Backend } from "@lockstep/core"
import type * as Duration from "effect/Duration"
import type { RedisConnection, ScriptArg, ScriptName } from "../RedisConnection.js"
import * as Keys from "./keys.js"

/** Items per script call at most: a call holds Redis for a few microseconds per item. */
const maxItems = 512
/** Characters of item arguments per call at most (payloads may be large): about 1 MiB. */
const maxChars = 1 << 20

interface Batch {
  readonly args: Array<ScriptArg>
  readonly done: Array<(failure: Backend.BackendError | undefined) => void>
  chars: number
}

export class ScriptBatches {
  /** the batch of each group still gathering calls in this turn */
  private readonly open = new Map<number | string, Batch>()

  constructor(
    private readonly connection: RedisConnection["Service"],
    private readonly name: ScriptName,
    private readonly timeout: Duration.Duration,
    /** what a failed call reports (the refusal of a fenced client as `ClientSuperseded`, S21) */
    private readonly fence: (failure: Backend.BackendError) => Backend.BackendError
  ) {}

  /**
   * Add one call to the batch of `group`: `item` (its arguments) for `room` of shard `base`,
   * `chars` its size. The first call of a batch gives its `head`, the arguments before the items,
   * and its routing key, `Keys.meta` of its room (made only then). `done` gets the failure of the
   * whole call, or `undefined` once it was applied. (A fenced client's batch fails as a whole with
   * `ClientSuperseded`, though its items on shards where its claim still held were applied.)
   */
  add(
    group: number | string,
    base: string,
    room: string,
    head: ReadonlyArray<ScriptArg>,
    item: ReadonlyArray<ScriptArg>,
    chars: number,
    done: (failure: Backend.BackendError | undefined) => void
  ): void {
    let batch = this.open.get(group)
    if (batch === undefined || batch.done.length >= maxItems || batch.chars + chars > maxChars) {
      const fresh: Batch = { args: [...head], done: [], chars: 0 }
      batch = fresh
      this.open.set(group, fresh)
      this.connection.scriptLater(
        this.name,
        Keys.meta(base, room),
        () => {
          if (this.open.get(group) === fresh) this.open.delete(group)
          return fresh.args
        },
        this.timeout,
        (failure) => {
          const reported = failure === undefined ? undefined : this.fence(failure)
          for (const settle of fresh.done) settle(reported)
        }
      )
    }
    for (const arg of item) batch.args.push(arg)
    batch.done.push(done)
    batch.chars += chars
  }

  /**
   * Close every open batch to new calls: those made from now on go in new batches, written after
   * whatever was issued in between (e.g. an ack: a send made after it must not join a batch
   * opened before it, or it would reach the server first).
   */
  seal(): void {
    this.open.clear()
  }
}

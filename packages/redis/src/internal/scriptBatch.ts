/**
 * The per-message script calls (acks, sends, out-of-band messages) of one client, gathered per
 * group (a shard, or the shards of one cluster node) for the current event-loop turn and made as
 * one call of a batch operation: one command to build, write and parse, one script run and one
 * round trip for all the calls of a turn, instead of one each. Calls of a turn keep their order
 * inside the batch, so a producer's sends to a room stay FIFO (S2).
 */
import type { Backend } from "@lockstep/core"
import type * as Duration from "effect/Duration"
import type { BatchOperation } from "./operation.js"
import type { Runner } from "./runner.js"

/** Items per script call at most: a call holds Redis for a few microseconds per item. */
const maxItems = 512
/** Characters of item arguments per call at most (payloads may be large): about 1 MiB. */
const maxChars = 1 << 20

interface Batch<H, I> {
  readonly head: H
  readonly items: Array<I>
  readonly done: Array<(failure: Backend.BackendError | undefined) => void>
  chars: number
}

export class ScriptBatches<H, I> {
  /** the batch of each group still gathering calls in this turn */
  private readonly open = new Map<number | string, Batch<H, I>>()

  constructor(
    private readonly runner: Runner,
    private readonly operation: BatchOperation<H, I, unknown>,
    private readonly timeout: Duration.Duration,
    /** what a failed call reports (the refusal of a fenced client as `ClientSuperseded`, S21) */
    private readonly fence: (failure: Backend.BackendError) => Backend.BackendError
  ) {}

  /**
   * Add `item` to the batch of `group`, `chars` its size. The first call of a batch gives its
   * `head`, the arguments before the items; the batch is routed by the key of its first item.
   * `done` gets the failure of the whole call, or `undefined` once it was applied. (A fenced
   * client's batch fails as a whole with `ClientSuperseded`, though its items on shards where its
   * claim still held were applied.)
   */
  add(
    group: number | string,
    head: H,
    item: I,
    chars: number,
    done: (failure: Backend.BackendError | undefined) => void
  ): void {
    let batch = this.open.get(group)
    if (batch === undefined || batch.done.length >= maxItems || batch.chars + chars > maxChars) {
      const fresh: Batch<H, I> = { head, items: [], done: [], chars: 0 }
      batch = fresh
      this.open.set(group, fresh)
      this.runner.later(
        this.operation,
        () => {
          if (this.open.get(group) === fresh) this.open.delete(group)
          return fresh
        },
        this.timeout,
        (failure) => {
          const reported = failure === undefined ? undefined : this.fence(failure)
          for (const settle of fresh.done) settle(reported)
        }
      )
    }
    batch.items.push(item)
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

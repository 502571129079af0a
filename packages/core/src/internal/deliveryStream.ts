/**
 * A subscription's buffer and its Stream. The buffer is filled synchronously from the engine's
 * message handler and holds deliveries and, last, one terminal item (end, or the ejection).
 *
 * It is a plain array and a list of waiting readers rather than an Effect `Queue`: a subscription
 * normally has one consumer (its Stream), for which the taker bookkeeping of a `Queue` (a
 * `Deferred` per empty take) is pure overhead on the hot path. The stream pulls every buffered
 * delivery as one chunk, in one stage.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Delivery } from "../Delivery.js"
import type { ClientEjected } from "../QueueError.js"

/** The end of a subscription that was closed by its own scope (S6) or its client (S20). */
export const End: unique symbol = Symbol.for("@lockstep/core/internal/End")

export type Terminal = ClientEjected | typeof End

type Pulled = Effect.Effect<Chunk.Chunk<Delivery>, Option.Option<ClientEjected>>

const finish = (terminal: Terminal): Pulled =>
  terminal === End ? Effect.fail(Option.none()) : Effect.fail(Option.some(terminal))

export class Buffer {
  private items: Array<Delivery> = []
  private terminal: Terminal | undefined = undefined
  /** readers waiting for the next item: one, unless the same Stream is run twice at once */
  private waiters: Array<(pulled: Pulled) => void> = []

  /** deliveries buffered and not yet pulled */
  get size(): number {
    return this.items.length
  }

  /** Buffer a delivery (the caller bounds the size); ignored once the buffer is terminated. */
  offer(delivery: Delivery): void {
    if (this.terminal !== undefined) return
    this.items.push(delivery)
    this.wake()
  }

  /** End the stream after the deliveries already buffered; the first terminal wins. */
  end(terminal: Terminal): void {
    if (this.terminal !== undefined) return
    this.terminal = terminal
    this.wake()
  }

  private wake(): void {
    if (this.waiters.length === 0) return
    const waiters = this.waiters
    this.waiters = []
    // a reader resumes later, with everything buffered by then
    for (const waiter of waiters) waiter(this.pull)
  }

  readonly pull: Pulled = Effect.suspend((): Pulled => {
    if (this.items.length > 0) {
      const batch = this.items
      this.items = []
      return Effect.succeed(Chunk.unsafeFromArray(batch))
    }
    if (this.terminal !== undefined) return finish(this.terminal)
    return Effect.async<Chunk.Chunk<Delivery>, Option.Option<ClientEjected>>((resume) => {
      this.waiters.push(resume)
      return Effect.sync(() => {
        const i = this.waiters.indexOf(resume)
        if (i >= 0) this.waiters.splice(i, 1)
      })
    })
  })
}

export const toStream = (buffer: Buffer): Stream.Stream<Delivery, ClientEjected> =>
  Stream.repeatEffectChunkOption(buffer.pull)

/**
 * A subscription's buffer and its Stream. The buffer is filled synchronously from the engine's
 * message handler and holds deliveries and, last, one terminal item (end, or the ejection).
 *
 * It is a plain array and a list of waiting readers rather than an Effect `Queue`: a subscription
 * normally has one consumer (its Stream), for which the taker bookkeeping of a `Queue` is pure
 * overhead on the hot path. The stream is a pull (`Stream.fromPull`) that takes every buffered
 * delivery as one chunk.
 *
 * A waiting reader is woken from a microtask, not from `offer`: in Effect 4 resuming a fiber runs
 * it at once on the caller's stack, so a wake from `offer` would run the consumer inside the
 * engine's socket handler, one delivery at a time. Deferred to the end of the handler, the reader
 * wakes once per burst (everything that arrived in one read of the socket) and takes it as one
 * chunk, and consumer code never runs on the engine's listener stack.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Pull from "effect/Pull"
import * as Stream from "effect/Stream"
import type { DeliveryBuffer } from "../Backend.js"
import type { Delivery } from "../Delivery.js"
import { ClientEjected } from "../QueueError.js"

/** The end of a subscription that was closed by its own scope (S6) or its client (S20). */
export const End: unique symbol = Symbol.for("@lockstep/core/internal/End")

export type Terminal = ClientEjected | typeof End

/** What one pull of the stream gives: a non-empty batch, the ejection, or the end (`Cause.Done`). */
type Taken = Pull.Pull<readonly [Delivery, ...Array<Delivery>], ClientEjected>

const done: Taken = Cause.done()

export class Buffer implements DeliveryBuffer {
  /** deliveries, and failures that end one run of the stream (see `fail`) */
  private items: Array<Delivery | ClientEjected> = []
  /** how many of `items` are failures: 0 on the hot path, which then never scans */
  private failures = 0
  private terminal: Terminal | undefined = undefined
  /** readers waiting for the next item: one, unless the same Stream is run twice at once */
  private waiters: Array<() => void> = []
  /** a wake of the waiters is scheduled (a microtask) */
  private waking = false

  /** `onTaken` sees every batch of deliveries as it is taken (e.g. to count them per room) */
  constructor(private readonly onTaken?: (taken: ReadonlyArray<Delivery>) => void) {}

  /** items buffered and not yet taken */
  get size(): number {
    return this.items.length
  }

  /** Buffer a delivery (the caller bounds the size); ignored once the buffer is terminated. */
  offer(delivery: Delivery): void {
    if (this.terminal !== undefined) return
    this.items.push(delivery)
    this.wake()
  }

  /**
   * Fail the stream once, after the deliveries already buffered, without ending the buffer: a
   * stream run again goes on with what is offered later (the room proxy's local clients, which
   * lose one room and keep the others).
   */
  fail(error: ClientEjected): void {
    if (this.terminal !== undefined) return
    this.items.push(error)
    this.failures++
    this.wake()
  }

  /** End the stream after the deliveries already buffered (`End`, or an ejection); the first terminal wins. */
  end(terminal: Terminal = End): void {
    if (this.terminal !== undefined) return
    this.terminal = terminal
    this.wake()
  }

  /** Wake the waiting readers once the current handler is done (see the module's comment). */
  private wake(): void {
    if (this.waiters.length === 0 || this.waking) return
    this.waking = true
    queueMicrotask(this.wakeNow)
  }

  private readonly wakeNow = (): void => {
    this.waking = false
    const waiters = this.waiters
    this.waiters = []
    // a reader resumes with everything buffered by now
    for (const waiter of waiters) waiter()
  }

  /** Every buffered delivery as one chunk; the ejection or the end when there is none left; else wait. */
  readonly take: Taken = Effect.suspend(() => this.takeAtMost(Number.POSITIVE_INFINITY))

  /** As `take`, at most `max` deliveries at once. */
  takeAtMost(max: number): Taken {
    if (this.items.length > 0) {
      if (this.failures > 0) return this.takeUpToFailure(max)
      if (this.items.length <= max) {
        const batch = this.items as Array<Delivery>
        this.items = []
        return Effect.succeed(this.taken(batch))
      }
      return Effect.succeed(this.taken(this.items.splice(0, max) as Array<Delivery>))
    }
    if (this.terminal !== undefined) return this.terminal === End ? done : Effect.fail(this.terminal)
    // No interruption handler (it would cost on every wait): a reader interrupted while waiting
    // stays in `waiters` until the next wake, whose resume the interrupted fiber ignores; nothing
    // is lost, as a wake hands over a take, not the items. So that readers interrupted on an idle
    // buffer (a poll with a timeout, again and again) do not pile up, a long list is woken first:
    // live readers simply wait again.
    if (this.waiters.length >= maxWaiters) this.wakeNow()
    // a woken reader takes again when it runs (lazily: a stale one must not take anything)
    const again = max === Number.POSITIVE_INFINITY ? this.take : Effect.suspend(() => this.takeAtMost(max))
    return Effect.callback<readonly [Delivery, ...Array<Delivery>], ClientEjected | Cause.Done>((resume) => {
      this.waiters.push(() => resume(again))
    })
  }

  /** Up to `max` deliveries before the first failure; the failure itself (taken) when it leads. */
  private takeUpToFailure(max: number): Taken {
    const first = this.items[0]!
    if (isEjected(first)) {
      this.items.shift()
      this.failures--
      return Effect.fail(first)
    }
    const at = this.items.findIndex(isEjected)
    return Effect.succeed(this.taken(this.items.splice(0, Math.min(at, max)) as Array<Delivery>))
  }

  private taken(batch: Array<Delivery>): readonly [Delivery, ...Array<Delivery>] {
    this.onTaken?.(batch)
    return batch as unknown as readonly [Delivery, ...Array<Delivery>]
  }
}

/** More readers than this waiting on one buffer at once can only be stale ones (see `takeAtMost`). */
const maxWaiters = 32

const isEjected = (item: Delivery | ClientEjected): item is ClientEjected => item instanceof ClientEjected

/** The stream of a buffer: one pull takes every buffered delivery (at most `maxChunkSize`) as one chunk. */
export const toStream = (
  buffer: Buffer,
  options?: {
    /**
     * At most this many deliveries per chunk. A consumer that stops in the middle of a chunk
     * (`Stream.take(n)`) drops the rest of it; with 1, whatever it did not take stays buffered
     * for the next run (the room proxy's local clients, whose streams are run again and again).
     */
    readonly maxChunkSize?: number | undefined
  }
): Stream.Stream<Delivery, ClientEjected> => {
  const max = options?.maxChunkSize ?? Number.POSITIVE_INFINITY
  const pull = max === Number.POSITIVE_INFINITY ? buffer.take : Effect.suspend(() => buffer.takeAtMost(max))
  return Stream.fromPull(Effect.succeed(pull))
}

/** A new buffer (`Backend.makeDeliveryBuffer`). */
export const make = (onTaken?: (taken: ReadonlyArray<Delivery>) => void): Buffer => new Buffer(onTaken)

/** The stream of a buffer made by `make` (`Backend.deliveryStream`); of any other, a defect. */
export const streamOf = (
  buffer: DeliveryBuffer,
  options?: { readonly maxChunkSize?: number | undefined }
): Stream.Stream<Delivery, ClientEjected> =>
  buffer instanceof Buffer
    ? toStream(buffer, options)
    : Stream.die(new Error("Backend.deliveryStream: the buffer was not made by Backend.makeDeliveryBuffer"))

/**
 * One local client of the room proxy, and its life:
 *
 *     open ──removed (its scope closed) or the proxy shut down──▶ closed
 *
 * - **open**: a member of the rooms in `rooms`; each upstream delivery of those rooms is offered
 *   to its buffer, at most `bufferSize` not taken (else it is a slow consumer, ejected from that
 *   room by the room's owner). An ejection fails one run of its stream; it stays in its other rooms.
 * - **closed**: receives nothing more and is never failed again; its leaves are under way (a
 *   removal) or its rooms were forgotten (a shutdown), and its stream ends after what it buffered
 *   (`end`). `closed` never goes back.
 */
import { Backend, type Delivery, type QueueError } from "@lockstep/core"
import type * as Stream from "effect/Stream"

export class LocalClient {
  /**
   * the rooms this client is a member of: `name ∈ rooms` exactly when the room of that name has
   * this client in its `members`; both change together, under that room's permit
   */
  readonly rooms = new Set<string>()
  /** removed, or the proxy shut down: receives nothing more; set once, before its leaves start */
  closed = false
  /** its deliveries, read through `deliveries`; offered only under the permit of their room */
  private readonly buffer = Backend.makeDeliveryBuffer()

  constructor(
    /** `<upstream client id>/<n>`: unique within the process */
    readonly id: string,
    /** deliveries buffered, not taken, before it counts as a slow consumer */
    private readonly bufferSize: number
  ) {}

  /** The stream of its buffer, one delivery per chunk: a consumer that stops early leaves the rest buffered. */
  deliveries(): Stream.Stream<Delivery.Delivery, QueueError.ClientEjected> {
    return Backend.deliveryStream(this.buffer, { maxChunkSize: 1 })
  }

  /** Offer a delivery; `false` when the buffer is full (a slow consumer: nothing was offered). */
  offer(delivery: Delivery.Delivery): boolean {
    if (this.buffer.size >= this.bufferSize) return false
    this.buffer.offer(delivery)
    return true
  }

  /** Fail one run of its stream, after what it buffered; run again, it goes on with its other rooms. */
  fail(error: QueueError.ClientEjected): void {
    if (!this.closed) this.buffer.fail(error)
  }

  /** Close it: it receives nothing more (its rooms are left, or forgotten, by the caller). */
  close(): void {
    this.closed = true
  }

  /** End its stream after what it buffered (the first end wins). */
  end(): void {
    this.buffer.end()
  }
}

/**
 * The attempt records of one room of the memory engine (S27), counted where they can be counted
 * exactly and nowhere on the hot path: per member, the attempt `n` of the last hand-over of the
 * in-flight message (0: released while the member was detached, it never saw it) and the claim
 * epoch of the process a resumed join handed it to (null when none did). A publication writes
 * nothing (attempt 1); the records are cleared when the next message is released and dropped
 * with the room's state (S18). A record of another id than the one asked about means nothing.
 */

interface Attempt {
  readonly id: string
  readonly n: number
  readonly epoch: number | null
}

export class Attempts {
  private readonly records = new Map<string, Attempt>()

  /** The record of `member` for message `id`, if it is about that message. */
  private of(member: string, id: string): Attempt | undefined {
    const record = this.records.get(member)
    return record !== undefined && record.id === id ? record : undefined
  }

  /** A new message is released: the records of the previous one are void. */
  clear(): void {
    this.records.clear()
  }

  /** `member` was detached when `id` was released (S24): its successor counts attempt 1. */
  detachedAtRelease(member: string, id: string): void {
    this.records.set(member, { id, n: 0, epoch: null })
  }

  /**
   * The attempt of `id` for `member`, resumed by the process of claim `epoch` (S22): one more
   * than the last hand-over's, unless this claim's earlier join was answered it and its consumer
   * never had it (`handed`, the last message a closed subscription of the process handed out).
   * Not recorded: `handedOver` records it once it is answered.
   */
  resumed(member: string, id: string, epoch: number, handed: string | null): number {
    const record = this.of(member, id)
    const base = record?.n ?? 1
    return record !== undefined && record.epoch === epoch && handed !== id ? base : base + 1
  }

  /** A resumed join answered `id` to `member` for attempt `n`. */
  handedOver(member: string, id: string, n: number, epoch: number): void {
    this.records.set(member, { id, n, epoch })
  }

  /** The attempt a resync reports (S12): the last hand-over's, at least 1; it counts nothing. */
  resynced(member: string, id: string): number {
    return Math.max(this.of(member, id)?.n ?? 1, 1)
  }

  /** The attempts `member` had of `id` when an operator skipped it (S30): the record's, else 1. */
  had(member: string, id: string): number {
    return this.of(member, id)?.n ?? 1
  }
}

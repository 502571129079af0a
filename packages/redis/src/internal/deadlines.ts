/**
 * Deadlines of the calls in flight on one connection, checked by one coarse interval timer
 * instead of one `setTimeout` per call (a timer per call is measurable on the hot path: every
 * ack is a call). A call fails at most `tick` ms after its deadline. The timer runs only while
 * calls are pending and never keeps the process alive; it belongs to the connection's scope.
 */

/** A call waiting for its reply, and what to do when its deadline passes. */
export interface Pending {
  /** `performance.now()` at which it expires */
  readonly deadline: number
  readonly expire: () => void
}

export class Deadlines {
  private readonly pending = new Set<Pending>()
  private timer: ReturnType<typeof setInterval> | undefined = undefined
  private closed = false

  constructor(private readonly tick: number) {}

  add(entry: Pending): void {
    this.pending.add(entry)
    if (this.timer === undefined && !this.closed) {
      this.timer = setInterval(() => this.sweep(), this.tick)
      this.timer.unref()
    }
  }

  delete(entry: Pending): void {
    this.pending.delete(entry)
  }

  /**
   * Stop the timer for good (the connection's scope closed) and expire what is still pending: its
   * connection is gone, so no reply will come. Calls added later only settle by their reply.
   */
  close(): void {
    this.closed = true
    clearInterval(this.timer)
    this.timer = undefined
    const left = [...this.pending]
    this.pending.clear()
    for (const entry of left) entry.expire()
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

/** A manual clock for engines on Effect's Clock (the memory engine). */
import { Clock, Duration, Effect } from "effect"

/**
 * A manual clock: time moves only in `adjust`, which wakes due sleepers one at a time in time
 * order (FIFO on ties) and lets every fiber run after each wake-up, like `TestClock.adjust`, but
 * without `TestClock`'s real `setTimeout(0)` waits per wake-up (≈ 8–10 ms each). Enough and
 * deterministic for the memory engine, whose delivery is synchronous and which touches no real
 * timer. Install it with `Effect.withClock(clock)`.
 */
export class ManualClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private now = 0
  private seq = 0
  private readonly sleepers: Array<{ readonly at: number; readonly seq: number; readonly wake: () => void }> = []

  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.now) * 1_000_000n
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const sleeper = { at: this.now + Duration.toMillis(duration), seq: this.seq++, wake: () => resume(Effect.void) }
      this.sleepers.push(sleeper)
      return Effect.sync(() => {
        const i = this.sleepers.indexOf(sleeper)
        if (i >= 0) this.sleepers.splice(i, 1)
      })
    })
  }

  /** Let every runnable fiber run until it suspends (consumers, resync, ejection notices). */
  readonly settle: Effect.Effect<void> = Effect.asVoid(Effect.repeatN(Effect.yieldNow(), 24))

  /** Move time forward by `millis`, waking sleepers in order. */
  adjust(millis: number): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      const target = this.now + millis
      yield* this.settle
      while (true) {
        let next: (typeof this.sleepers)[number] | undefined
        for (const s of this.sleepers) {
          if (s.at <= target && (next === undefined || s.at < next.at || (s.at === next.at && s.seq < next.seq))) {
            next = s
          }
        }
        if (next === undefined) break
        this.sleepers.splice(this.sleepers.indexOf(next), 1)
        this.now = Math.max(this.now, next.at)
        next.wake()
        yield* this.settle
      }
      this.now = target
      yield* this.settle
    })
  }
}

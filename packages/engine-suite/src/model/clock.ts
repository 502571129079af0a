/** A manual clock for engines on Effect's Clock (the memory engine). */
import { Clock, Duration, Effect } from "effect"

/**
 * `n` scheduler rounds: each yield lets every fiber ready to run (and the microtasks in between,
 * which wake delivery streams) run until it waits again. A plain loop, with no schedule, so it
 * needs no clock.
 */
export const yields = (n: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Effect.yieldNow
  })

/**
 * A manual clock: time moves only in `adjust`, which wakes due sleepers one at a time in time
 * order (FIFO on ties) and lets every fiber run after each wake-up, like `TestClock.adjust`, but
 * with a fixed number of scheduler rounds per wake-up (`settle`): Effect 4's `TestClock.adjust`
 * waits only for the tasks a wake-up schedules, not for the delivery streams' readers (woken from a
 * microtask) and what they set off. Enough and deterministic for the memory engine, whose delivery
 * is synchronous and which touches no real timer. Install it with
 * `Effect.provideService(Clock.Clock, clock)`.
 */
export class ManualClock implements Clock.Clock {
  private now = 0
  private seq = 0
  private readonly sleepers: Array<{ readonly at: number; readonly seq: number; readonly wake: () => void }> = []

  currentTimeMillisUnsafe(): number {
    return this.now
  }
  currentTimeNanosUnsafe(): bigint {
    return BigInt(this.now) * 1_000_000n
  }
  monotonicTimeNanosUnsafe(): bigint {
    return this.currentTimeNanosUnsafe()
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.currentTimeNanosUnsafe())
  readonly monotonicTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.monotonicTimeNanosUnsafe())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    // as Effect's clocks: no time to wait is a yield (a schedule's zero delay must not wait for `adjust`)
    if (Duration.toMillis(duration) <= 0) return Effect.yieldNow
    return Effect.callback<void>((resume) => {
      const sleeper = { at: this.now + Duration.toMillis(duration), seq: this.seq++, wake: () => resume(Effect.void) }
      this.sleepers.push(sleeper)
      return Effect.sync(() => {
        const i = this.sleepers.indexOf(sleeper)
        if (i >= 0) this.sleepers.splice(i, 1)
      })
    })
  }

  /** Let every runnable fiber run until it suspends (consumers, resync, ejection notices). */
  readonly settle: Effect.Effect<void> = yields(25)

  /** Move time forward by `millis`, waking sleepers in order. */
  adjust(millis: number): Effect.Effect<void> {
    return Effect.gen({ self: this }, function*() {
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

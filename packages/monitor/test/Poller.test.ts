/**
 * The monitor's shared snapshot loop (src/internal/poller.ts) on its own, on a TestClock: one poll
 * per interval for every subscriber, a late joiner served at once, changes only, and a loop that
 * lives exactly as long as someone subscribes (closing a subscriber's scope waits for it).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import * as Poller from "../src/internal/poller.js"

/** A subscriber in a scope of its own; what it receives arrives in the queue. */
const subscriber = <A>(poller: Poller.Poller<A>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const received = yield* Queue.unbounded<A>()
    yield* poller.snapshots.pipe(Stream.runForEach((a) => Queue.offer(received, a)), Effect.forkIn(scope))
    return { received, close: Scope.close(scope, Exit.void) }
  })

const interval = Duration.seconds(1)

describe("Poller", () => {
  it.effect("one poll per interval whatever the number of subscribers; a late joiner gets the latest at once", () =>
    Effect.gen(function*() {
      let polls = 0
      const poller = yield* Poller.make(Effect.sync(() => ++polls), { interval, key: String })
      const subscribers = yield* Effect.forEach([1, 2, 3, 4, 5], () => subscriber(poller))
      for (const s of subscribers) expect(yield* Queue.take(s.received)).toBe(1)
      expect(polls).toBe(1)
      yield* TestClock.adjust(interval)
      for (const s of subscribers) expect(yield* Queue.take(s.received)).toBe(2)
      expect(polls).toBe(2)
      const late = yield* subscriber(poller)
      expect(yield* Queue.take(late.received)).toBe(2)
      expect(polls).toBe(2)
    }))

  it.effect("a snapshot equal to the one before (by key) is not sent again", () =>
    Effect.gen(function*() {
      const values = ["a", "a", "b", "b", "a"]
      let polls = 0
      const poller = yield* Poller.make(Effect.sync(() => values[polls++] ?? "a"), { interval, key: (s) => s })
      const s = yield* subscriber(poller)
      expect(yield* Queue.take(s.received)).toBe("a")
      for (const n of [2, 3, 4, 5]) {
        // `adjust` returns once the fibers it woke are suspended again: the poll is done
        yield* TestClock.adjust(interval)
        expect(polls).toBe(n)
      }
      // in order: a duplicate would have come before the changes
      expect(yield* Queue.take(s.received)).toBe("b")
      expect(yield* Queue.take(s.received)).toBe("a")
    }))

  it.effect("the loop stops with the last subscriber, not before, and starts afresh with the next", () =>
    Effect.gen(function*() {
      // the third poll hangs until interrupted, and says so
      const polling = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      let polls = 0
      const poll = Effect.suspend(() =>
        ++polls === 3
          ? Deferred.succeed(polling, undefined).pipe(
            Effect.andThen(Effect.never),
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          )
          : Effect.succeed(polls)
      )
      const poller = yield* Poller.make(poll, { interval, key: String })
      const subscribers = yield* Effect.forEach([1, 2, 3], () => subscriber(poller))
      for (const s of subscribers) expect(yield* Queue.take(s.received)).toBe(1)
      yield* TestClock.adjust(interval)
      for (const s of subscribers) expect(yield* Queue.take(s.received)).toBe(2)
      yield* TestClock.adjust(interval)
      yield* Deferred.await(polling)

      // closing a subscriber's scope releases its share at once: the loop runs while one is left
      yield* subscribers[0]!.close
      yield* subscribers[1]!.close
      expect(yield* Deferred.isDone(interrupted)).toBe(false)
      yield* subscribers[2]!.close
      expect(yield* Deferred.isDone(interrupted)).toBe(true)

      // nothing polls while nobody subscribes
      yield* TestClock.adjust(Duration.times(interval, 10))
      expect(polls).toBe(3)

      // the next subscriber starts a new loop: its first snapshot is fresh, not the last one seen
      const next = yield* subscriber(poller)
      expect(yield* Queue.take(next.received)).toBe(4)
      expect(polls).toBe(4)
    }))
})

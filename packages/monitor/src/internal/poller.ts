/**
 * One snapshot loop per mounted monitor, shared by every open board: however many people watch,
 * the engine is read once per interval. The loop starts with the first subscriber and stops with
 * the last (a reference-counted resource: the loop is a fiber of its scope); nothing polls while
 * nobody watches. Each snapshot that differs from the one before (by `key`) is published; a
 * subscriber gets the latest one at once, then each change.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as RcRef from "effect/RcRef"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** The snapshots shared by every subscriber. */
export interface Poller<A> {
  /**
   * While the stream runs: the latest snapshot at once (or the first one when the loop starts
   * with it), then each one that changed. Running it keeps the loop alive; the last stream to
   * end stops it.
   */
  readonly snapshots: Stream.Stream<A>
}

/**
 * A subscriber that reads slower than snapshots change keeps the newest ones: older ones are
 * dropped from its buffer, never the others' (a stalled connection holds no memory).
 */
const buffer = 16

/**
 * The shared loop for `poll`, run every `interval` while someone subscribes: its resources
 * belong to the scope of the monitor (closing it stops the loop whoever still listens).
 */
export const make = <A>(
  poll: Effect.Effect<A>,
  options: { readonly interval: Duration.Duration; readonly key: (snapshot: A) => string }
): Effect.Effect<Poller<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const loop = (pubsub: PubSub.PubSub<A>) =>
      Effect.gen(function*() {
        let last: string | undefined = undefined
        while (true) {
          const snapshot = yield* poll
          const key = options.key(snapshot)
          if (key !== last) {
            last = key
            yield* PubSub.publish(pubsub, snapshot)
          }
          yield* Effect.sleep(options.interval)
        }
      })
    const session = yield* RcRef.make({
      acquire: Effect.gen(function*() {
        const pubsub = yield* Effect.acquireRelease(
          PubSub.sliding<A>({ capacity: buffer, replay: 1 }),
          PubSub.shutdown
        )
        yield* Effect.forkScoped(loop(pubsub))
        return pubsub
      })
    })
    return {
      snapshots: Stream.unwrap(Effect.gen(function*() {
        const pubsub = yield* RcRef.get(session)
        return Stream.fromSubscription(yield* PubSub.subscribe(pubsub))
      }))
    }
  })

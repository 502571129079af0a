/**
 * Routes Pub/Sub messages of one subscriber connection to the listeners of each channel, and
 * keeps the connection's subscriptions equal to the set of channels with listeners.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { RedisConnection } from "../RedisConnection.js"
import type { RedisFailure } from "./errors.js"

export class Router {
  /** listeners per channel: an array (usually of one), walked without an iterator per message */
  private readonly routes = new Map<string, Array<(message: string) => void>>()

  /** Deliver a message to the listeners of its channel, synchronously, in arrival order. */
  dispatch(channel: string, message: string): void {
    const listeners = this.routes.get(channel)
    if (listeners === undefined) return
    // a listener must never throw into ioredis (it would crash the process); the client's own
    // listener decodes defensively, this is the second line of defence
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(message)
      } catch {
        // dropped: counted nowhere, as the listener could not say what it was
      }
    }
  }

  /** Register a listener; returns true if the channel had none (so it must be subscribed). */
  add(channel: string, deliver: (message: string) => void): boolean {
    const listeners = this.routes.get(channel)
    if (listeners === undefined) {
      this.routes.set(channel, [deliver])
      return true
    }
    // a new array, as in `remove`
    if (!listeners.includes(deliver)) this.routes.set(channel, [...listeners, deliver])
    return false
  }

  /** Remove a listener; returns true if the channel has none left (so it may be unsubscribed). */
  remove(channel: string, deliver: (message: string) => void): boolean {
    const listeners = this.routes.get(channel)
    if (listeners === undefined) return false
    const at = listeners.indexOf(deliver)
    if (at < 0) return false
    // a new array: a dispatch in progress keeps walking the one it started with
    const rest = listeners.filter((_, i) => i !== at)
    if (rest.length > 0) {
      this.routes.set(channel, rest)
      return false
    }
    this.routes.delete(channel)
    return true
  }

  channels(): Array<string> {
    return [...this.routes.keys()]
  }
}

/**
 * The `listen` of a connection: `subscribe` / `unsubscribe` a channel (SUBSCRIBE, or SSUBSCRIBE on
 * a cluster) as its first listener comes and its last goes. `runScoped` runs background work in
 * the connection's scope.
 */
export const makeListen = (
  runScoped: (effect: Effect.Effect<unknown>) => unknown,
  router: Router,
  connected: SubscriptionRef.SubscriptionRef<boolean>,
  subscribe: (channel: string, timeout: Duration.Duration) => Effect.Effect<unknown, RedisFailure>,
  unsubscribe: (channel: string) => Effect.Effect<unknown, RedisFailure>
): RedisConnection["Service"]["listen"] =>
(channel, deliver, timeout) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      router.add(channel, deliver)
      // (S)SUBSCRIBE is idempotent and ordered on its connection: once confirmed we are live.
      // A timed-out SUBSCRIBE may still go out later: the UNSUBSCRIBE queued behind it undoes it,
      // in the background, so the caller's failure is not delayed by it.
      return subscribe(channel, timeout).pipe(
        Effect.tapError(() =>
          Effect.sync(() => {
            if (router.remove(channel, deliver)) runScoped(Effect.ignore(unsubscribe(channel)))
          })
        )
      )
    }),
    () =>
      Effect.suspend(() =>
        router.remove(channel, deliver)
          // while down there is nothing to unsubscribe: the channel is no longer re-asserted on reconnect
          ? Effect.flatMap(
            SubscriptionRef.get(connected),
            (up) => up ? Effect.ignore(unsubscribe(channel)) : Effect.void
          )
          : Effect.void
      )
  ).pipe(Effect.asVoid)

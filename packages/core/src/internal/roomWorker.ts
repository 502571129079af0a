/**
 * The machinery of `RoomWorker.run`: one fiber per room, each owning its own subscription, so
 * an ejection from one room (S10, S11, S30) closes that subscription only and the fiber joins
 * the room again while the others go on.
 *
 * A room's fiber runs **sessions**: a session subscribes (its own Scope), hands each delivery
 * to the handler in order and settles it, and ends when the stream fails (an ejection) or the
 * join fails. Between sessions the fiber waits per the `rejoin` schedule.
 *
 * Whatever stops the worker (the handler's error under `onFailure: "fail"`, a fenced client, a
 * defect, a join it cannot get past) is put in one `Deferred` (`await`); the fiber that found it
 * waits to be interrupted, and a watcher closes the rooms' scope. So every room's subscription
 * closes the same way, by the interruption of its fiber, and its client's `onClose` decides
 * between a leave and a detach (S24): a durable client stopped by a failing handler keeps its
 * memberships, and the unsettled message, for a successor (S22).
 *
 * `make` returns once every room was joined once (`ready`); `run` is `make` and `await` in a
 * scope of their own.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Pull from "effect/Pull"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import type { Delivery } from "../Delivery.js"
import { type ClientEjected, ClientSuperseded, InvalidArgument, type QueueError } from "../QueueError.js"
import { workerFailuresTotal, workerRejoinsTotal } from "../QueueMetrics.js"
import type { OnFailure, Options, RejoinCause, RoomWorker } from "../RoomWorker.js"
import { SyncFanoutQueue } from "../SyncFanoutQueue.js"
import { roomError } from "./validation.js"

/**
 * Joins in flight at once when the worker starts (each is a round trip): as `subscribeMany`'s
 * bound, so that thousands of rooms do not start thousands of calls, each with its deadline.
 */
const joinConcurrency = 64

/** `RoomWorker.defaultRetry` */
export const defaultRetry: Schedule.Schedule<unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.upTo({ times: 3 })
)

/** `RoomWorker.defaultRejoin` */
export const defaultRejoin: Schedule.Schedule<unknown> = Schedule.min([
  Schedule.exponential("500 millis"),
  Schedule.spaced("30 seconds")
]).pipe(Schedule.jittered)

/** Longest reason of a reject (S28), in UTF-16 code units. */
const maxReasonLength = 256

/** Lone surrogates (no UTF-8 form): a reject's reason must be well-formed text. */
const loneSurrogates = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * The reason a rejected delivery's dead letter gets: the handler error's message (else its
 * `_tag`, else its text), well-formed, 1–256 code units.
 */
export const reasonOf = (error: unknown): string => {
  let text = ""
  if (typeof error === "object" && error !== null) {
    const { _tag, message } = error as { readonly _tag?: unknown; readonly message?: unknown }
    if (typeof message === "string" && message.length > 0) text = message
    else if (typeof _tag === "string") text = _tag
  } else if (error !== undefined && error !== null) {
    text = String(error)
  }
  text = text.replace(loneSurrogates, "\uFFFD")
  if (text.length === 0) return "handler failed"
  if (text.length <= maxReasonLength) return text
  // cut before a surrogate pair rather than through it
  const cut = /[\uD800-\uDBFF]/.test(text[maxReasonLength - 2]!) ? maxReasonLength - 2 : maxReasonLength - 1
  return `${text.slice(0, cut)}…`
}

/** Failures of the engine's reach: a join or a reject hitting them is tried again per `rejoin`. */
const isTransient = (error: QueueError | ClientEjected): error is Exclude<RejoinCause, ClientEjected> =>
  error._tag === "EngineError" || error._tag === "OperationTimeout"

const onFailureValues: ReadonlyArray<OnFailure> = ["reject", "ack", "fail"]

/** The options checked, with their defaults. */
const resolve = <E, R>(rooms: ReadonlyArray<string>, options: Options<E, R> | undefined) =>
  Effect.gen(function*() {
    if (!Array.isArray(rooms) || rooms.length === 0) {
      return yield* new InvalidArgument({ message: "RoomWorker.run needs at least one room" })
    }
    const seen = new Set<string>()
    for (const room of rooms) {
      const invalid = roomError(room)
      if (invalid !== undefined) return yield* invalid
      if (seen.has(room)) return yield* new InvalidArgument({ message: `room ${JSON.stringify(room)} is listed twice` })
      seen.add(room)
    }
    const concurrency = options?.concurrency ?? "unbounded"
    if (concurrency !== "unbounded" && !(Number.isSafeInteger(concurrency) && concurrency > 0)) {
      return yield* new InvalidArgument({
        message: `concurrency must be a positive integer or "unbounded", got ${String(concurrency)}`
      })
    }
    const onFailure = options?.onFailure ?? "reject"
    if (!onFailureValues.includes(onFailure)) {
      return yield* new InvalidArgument({
        message: `onFailure must be "reject", "ack" or "fail", got ${JSON.stringify(onFailure)}`
      })
    }
    return {
      concurrency,
      onFailure,
      subscribeOptions: { mode: options?.mode },
      retry: (options?.retry ?? defaultRetry) as Schedule.Schedule<unknown, E, never, R>,
      rejoin: (options?.rejoin ?? defaultRejoin) as Schedule.Schedule<unknown, RejoinCause, never, R>
    }
  })

/** Why a worker stopped. */
type Failure<E> = E | QueueError | ClientEjected

export const make = <E, R, R2 = never>(
  rooms: ReadonlyArray<string>,
  handler: (delivery: Delivery) => Effect.Effect<void, E, R>,
  options?: Options<E, R2>
): Effect.Effect<RoomWorker<E>, Failure<E>, R | R2 | SyncFanoutQueue | Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* SyncFanoutQueue
    const { concurrency, onFailure, rejoin, retry, subscribeOptions } = yield* resolve(rooms, options)
    const clientId = queue.clientId
    // the rooms' fibers live in a scope of their own: closed when the caller's closes, or when
    // the worker stops (before every room was joined, `make` fails)
    const parent = yield* Effect.scope
    const scope = yield* Scope.fork(parent, "sequential")
    /** completed by whatever stops the worker */
    const stop = yield* Deferred.make<never, Failure<E>>()
    /** completed once every room was joined, or by what stopped the worker first */
    const ready = yield* Deferred.make<void, Failure<E>>()
    yield* Scope.addFinalizer(scope, Deferred.interrupt(stop))
    /** rooms not joined at the moment */
    const unjoined = new Set(rooms)
    /** rooms never joined so far */
    const starting = new Set(rooms)
    const joins = yield* Semaphore.make(joinConcurrency)
    const permits = concurrency === "unbounded" ? undefined : yield* Semaphore.make(concurrency)

    /** Stop the worker with `cause`; the caller waits to be interrupted with the others. */
    const stopWith = (cause: Cause.Cause<Failure<E>>): Effect.Effect<never> =>
      Effect.andThen(
        Effect.andThen(Deferred.failCause(ready, cause), Deferred.failCause(stop, cause)),
        Effect.never
      )
    const fail = (error: Failure<E>): Effect.Effect<never> => stopWith(Cause.fail(error))

    /**
     * A reject (S28; an ack never fails and needs none of this): one that cannot reach the engine
     * is tried again per `rejoin` (the room waits on it, S3); any other failure stops the worker.
     * The schedule is only set up once the reject failed.
     */
    const settle = (operation: Effect.Effect<void, QueueError>): Effect.Effect<void, never, R2> =>
      Effect.catch(operation, (error) => isTransient(error) ? settleAgain(operation, error) : fail(error))

    /** `operation` failed with `first`, a transient error: try it again per `rejoin`, as `Effect.retry` would. */
    const settleAgain = (
      operation: Effect.Effect<void, QueueError>,
      first: Exclude<RejoinCause, ClientEjected>
    ): Effect.Effect<void, never, R2> =>
      Effect.flatMap(Schedule.toStepWithSleep(rejoin), (wait) => {
        const again = (error: Exclude<RejoinCause, ClientEjected>): Effect.Effect<void, never, R2> =>
          wait(error).pipe(
            // the schedule ended: the worker stops with the last failure
            Pull.catchDone(() => fail(error)),
            Effect.andThen(
              Effect.catch(operation, (next) => isTransient(next) ? again(next) : fail(next))
            )
          )
        return again(first)
      })

    /** One run of the handler: called anew for each retry, with a permit when `concurrency` is bounded. */
    const attempt = (delivery: Delivery) => {
      const run = Effect.suspend(() => handler(delivery))
      return permits === undefined ? run : permits.withPermits(1)(run)
    }

    /**
     * The handler's first run failed with `first`: call it again per `retry`, as `Effect.retry`
     * would (each retry sees the schedule's `CurrentMetadata`), then ack, or settle per `onFailure`.
     */
    const retrying = (delivery: Delivery, first: E): Effect.Effect<void, never, R | R2> =>
      Effect.flatMap(Schedule.toStepWithMetadata(retry), (step) => {
        const again = (error: E): Effect.Effect<void, never, R | R2> =>
          Pull.matchEffect(step(error), {
            onSuccess: (meta) =>
              Effect.matchEffect(Effect.provideService(attempt(delivery), Schedule.CurrentMetadata, meta), {
                onSuccess: () => delivery.ack, // never fails: it does not wait for the server (S12)
                onFailure: again
              }),
            // the schedule's own failure (it has none: its error type is never)
            onFailure: Effect.failCause,
            // no more retries
            onDone: () => failed(delivery, error)
          })
        return again(first)
      })

    /** The handler gave up on `delivery` with `error`: settle it per `onFailure`. */
    const failed = (delivery: Delivery, error: E): Effect.Effect<void, never, R2> =>
      Effect.logWarning(
        `lockstep: worker handler failed for ${delivery.id} in room ${JSON.stringify(delivery.room)} ` +
          `(attempt ${delivery.attempt}): ${reasonOf(error)}; ${
            onFailure === "fail" ? "stopping the worker" : onFailure === "ack" ? "acking it" : "rejecting it"
          }`
      ).pipe(
        Effect.annotateLogs({ messageId: delivery.id }),
        Effect.andThen(Metric.update(Metric.withAttributes(workerFailuresTotal, { outcome: onFailure }), 1)),
        Effect.andThen(
          onFailure === "fail"
            ? fail(error)
            : onFailure === "ack"
            ? delivery.ack
            : settle(delivery.reject(reasonOf(error)))
        )
      )

    /**
     * Handle one delivery: the handler, its retries, then an ack or what `onFailure` says. The
     * first run is the hot path: no schedule is stepped unless it fails.
     */
    const handle = (delivery: Delivery): Effect.Effect<void, never, R | R2> =>
      attempt(delivery).pipe(
        Effect.matchEffect({
          onSuccess: () => delivery.ack, // never fails: it does not wait for the server (S12)
          onFailure: (error) => retrying(delivery, error)
        }),
        // a defect of the handler stops the worker, the other rooms closed as by an interruption
        Effect.catchCause(stopWith)
      )

    /**
     * One membership of `room`: join, then handle its deliveries until the stream ends. Fails
     * with what ended it: an ejection, or the join's failure. `joined` runs once the join
     * succeeded.
     */
    const session = (room: string, joined: Effect.Effect<void, never, R2>) =>
      Effect.gen(function*() {
        const deliveries = yield* joins.withPermits(1)(queue.subscribe(room, subscribeOptions))
        yield* joined
        yield* Stream.runForEach(deliveries, handle)
      }).pipe(Effect.scoped)

    /** The fiber of one room: sessions, and the waits per `rejoin` between them. */
    const roomLoop = (room: string): Effect.Effect<void, never, R | R2> =>
      Effect.gen(function*() {
        let wait = yield* Schedule.toStepWithSleep(rejoin)
        /** the ejection this room is being rejoined after, if any */
        let ejected: ClientEjected | undefined = undefined
        /** the room was joined: the schedule starts over; a rejoin is logged and counted */
        const joined = Effect.gen(function*() {
          unjoined.delete(room)
          if (starting.delete(room) && starting.size === 0) yield* Deferred.succeed(ready, undefined)
          wait = yield* Schedule.toStepWithSleep(rejoin)
          const after = ejected
          ejected = undefined
          if (after === undefined) return
          yield* Effect.logInfo(`lockstep: worker rejoined room ${JSON.stringify(room)} after ${after.reason}`).pipe(
            Effect.annotateLogs({ reason: after.reason })
          )
          yield* Metric.update(Metric.withAttributes(workerRejoinsTotal, { reason: after.reason }), 1)
        })
        while (true) {
          const result = yield* Effect.result(session(room, joined))
          unjoined.add(room)
          if (result._tag === "Success") {
            // the stream ended without an ejection: its client was closed (S20); nothing to rejoin
            return yield* stopWith(Cause.interrupt())
          }
          const error = result.failure
          let cause: RejoinCause
          if (error._tag === "ClientEjected") {
            if (error.reason === "superseded") return yield* fail(new ClientSuperseded({ clientId }))
            ejected = error
            cause = error
            yield* Effect.logWarning(
              `lockstep: worker ejected from room ${JSON.stringify(room)}: ${error.reason}; rejoining`
            ).pipe(Effect.annotateLogs({ reason: error.reason }))
          } else if (isTransient(error)) {
            cause = error
            yield* Effect.logWarning(
              `lockstep: worker could not join room ${JSON.stringify(room)}: ${error.message}; trying again`
            )
          } else {
            return yield* fail(error)
          }
          // the schedule ended: the worker stops with what it could not get past
          yield* wait(cause).pipe(Pull.catchDone(() => fail(cause)))
        }
      }).pipe(
        Effect.catchCause(stopWith),
        Effect.annotateLogs({ clientId, room })
      )

    yield* Effect.forEach(rooms, (room) => Effect.forkIn(roomLoop(room), scope), { discard: true })
    // whatever stops the worker closes every room, as an interruption would (see the module doc)
    yield* Deferred.await(stop).pipe(
      Effect.onExit((exit) => Scope.close(scope, exit)),
      Effect.forkIn(parent)
    )
    yield* Deferred.await(ready).pipe(
      Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void)
    )
    return {
      await: Deferred.await(stop),
      rejoining: Effect.sync(() => [...unjoined].sort())
    }
  })

export const run = <E, R, R2 = never>(
  rooms: ReadonlyArray<string>,
  handler: (delivery: Delivery) => Effect.Effect<void, E, R>,
  options?: Options<E, R2>
): Effect.Effect<never, Failure<E>, R | R2 | SyncFanoutQueue> =>
  make(rooms, handler, options).pipe(
    Effect.flatMap((worker) => worker.await),
    Effect.scoped
  )

/**
 * The generic client behind every engine: it turns a `BackendClient` (the server side) into the
 * `SyncFanoutQueue` service, so the memory engine and the Redis engine share one implementation
 * of everything client-side. This module only wires the parts:
 *
 * | part | module | semantics |
 * |---|---|---|
 * | one subscription's states: joining, S5 filter, delivery, resync answer | `subscription.ts` | S3, S5, S8, S9, S12 |
 * | the client's subscriptions: join a group, leave, eject, close all | `subscriptions.ts` | S6, S10, S11, S20 |
 * | acks and their repetition | `acks.ts` | S3, S4, S12, S16 |
 * | keepalive, local loss detection, housekeeping, reconnect → resync | `liveness.ts`, `pendingLeaves.ts` | S6, S10–S12 |
 * | durable clients: the claim, fencing, detach on close | here, `fence.ts` | S21–S25 |
 * | send and sendOutOfBand | `producer.ts` | S1, S2, S7, S9, S16 |
 * | peek, roomState, metrics | `inspection.ts`, `clientStats.ts` | S13–S15 |
 * | attempts, rejects | `subscription.ts`, `acks.ts` | S27, S28 |
 * | operator actions (`RoomAdmin`) | `roomAdmin.ts` | S29, S30 |
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { BackendClient, BackendError, DeadLetterPolicy } from "../Backend.js"
import type { ResolvedQueueConfig, SubscriptionMode } from "../QueueConfig.js"
import { InvalidArgument } from "../QueueError.js"
import type { RoomAdmin } from "../RoomAdmin.js"
import type { SyncFanoutQueue } from "../SyncFanoutQueue.js"
import { Acks } from "./acks.js"
import { ClientStats } from "./clientStats.js"
import * as Fence from "./fence.js"
import * as Inspection from "./inspection.js"
import * as InvalidSink from "./invalidSink.js"
import * as Liveness from "./liveness.js"
import { PendingLeaves } from "./pendingLeaves.js"
import * as Producer from "./producer.js"
import * as RoomAdminImpl from "./roomAdmin.js"
import { Subscriptions, whenConnected } from "./subscriptions.js"
import { validateRoom } from "./validation.js"

type Service = SyncFanoutQueue["Service"]

/** The services of one client: the queue and its operator's side (S29, S30). */
export interface Client {
  readonly queue: Service
  readonly admin: RoomAdmin["Service"]
}

/** A fresh client id: 12 hex characters, no ':' (message ids are `<client id>:<sequence>`). */
export const randomClientId = (): string => globalThis.crypto.randomUUID().replace(/-/g, "").slice(0, 12)

/**
 * Message sequences of a durable client start at its claim's epoch × 2³² (S7: ids never reused
 * across claims of one id; 2²¹ claims of 2³² messages each stay safe integers).
 */
const sequencesPerClaim = 2 ** 32

export const makeQueue = <E, R>(
  connect: (clientId: string) => Effect.Effect<BackendClient, E, R>,
  config: ResolvedQueueConfig
): Effect.Effect<Service, E | BackendError, R | Scope.Scope> => Effect.map(makeClient(connect, config), (c) => c.queue)

export const makeClient = <E, R>(
  connect: (clientId: string) => Effect.Effect<BackendClient, E, R>,
  config: ResolvedQueueConfig
): Effect.Effect<Client, E | BackendError, R | Scope.Scope> =>
  Effect.gen(function*() {
    const durable = Option.isSome(config.clientId)
    const clientId = Option.getOrElse(config.clientId, randomClientId)
    const clientTimeoutMs = Duration.toMillis(config.clientTimeout)
    const connection = yield* connect(clientId)
    // S21: a durable client is fenced once a newer process claimed its id; the first operation
    // that says so (a keepalive within one interval at the latest) fails every stream
    let superseded = false
    /** what the client does once it learns it was fenced (set when its parts exist) */
    let fenced = () => {}
    const backend = durable
      ? Fence.watch(connection, () => {
        if (superseded) return
        superseded = true
        fenced()
      })
      : connection
    // S21: claim the id before anything else; the newest claim wins
    const sequence = new Producer.Sequence(
      durable ? (yield* backend.claim(clientTimeoutMs)).epoch * sequencesPerClaim : 0
    )
    const deadLetters: DeadLetterPolicy = {
      limit: config.deadLetterLimit,
      retentionMs: Duration.toMillis(config.deadLetterRetention)
    }
    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()
    const pendingLeaves = new PendingLeaves(backend, clientTimeoutMs)

    // S20: leave every room when the client's scope closes (S24: or keep them for a successor).
    // Added before the fibers are forked, so it runs after they were interrupted.
    let registered: Subscriptions | undefined = undefined
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const rooms = registered?.closeAll() ?? []
        // S24: a detached client's memberships wait for a successor (or end after clientTimeout,
        // S10); a fenced one's belong to the newer holder
        if (superseded || config.onClose === "detach") return Effect.void
        // unreachable server: nothing to tell it; it ejects this client after clientTimeout (S10)
        return whenConnected(backend, backend.unregister(rooms)).pipe(
          Effect.catch((e) => Effect.logWarning("lockstep: could not unregister client", e.message)),
          Effect.annotateLogs({ clientId })
        )
      })
    )

    // Background work (log lines, the leave after an ejection, ack retries) starts on the
    // scheduler, never on the stack that asks for it: Effect 4 runs a forked fiber at once, so an
    // ejection found while the engine hands out a frame (a slow consumer) would leave the room,
    // and release its backlog, in the middle of that hand-out (S2), and loggers would run on the
    // engine's socket handler.
    const forkNow = yield* FiberSet.makeRuntime<never>()
    const runFork = (effect: Effect.Effect<void>): void => {
      forkNow(Effect.andThen(Effect.yieldNow, effect))
    }
    const stats = new ClientStats(clientId, yield* Effect.context<never>(), runFork)
    const acks = new Acks(backend, clientId, (room) => subscriptions.byRoom.get(room), runFork, deadLetters)
    const subscriptions: Subscriptions = registered = new Subscriptions({
      backend,
      clientId,
      subscriberBuffer: config.subscriberBuffer,
      ackTimeoutMs: Option.match(config.ackTimeout, { onNone: () => null, onSome: Duration.toMillis }),
      clientTimeoutMs,
      detachOnInterrupt: config.onClose === "detach",
      durable,
      maxDeliveries: Option.getOrNull(config.maxDeliveries),
      deadLetters,
      now,
      stats,
      pendingLeaves,
      runFork
    }, acks)

    fenced = () => {
      pendingLeaves.clear()
      subscriptions.ejectAll("superseded")
      runFork(Effect.logWarning(`lockstep: client id ${clientId} was claimed by a newer process; this one is fenced`))
    }

    yield* Liveness.start({ backend, config, clientId, durable, now, subscriptions, pendingLeaves, acks })

    const modeOf = (
      options: { readonly mode?: unknown } | undefined
    ): Effect.Effect<SubscriptionMode, InvalidArgument> => {
      const mode = options?.mode ?? config.mode
      return mode === "sync" || mode === "async"
        ? Effect.succeed(mode)
        : Effect.fail(new InvalidArgument({ message: `mode must be "sync" or "async", got ${String(mode)}` }))
    }

    const service: Service = {
      clientId,
      ...Producer.make({ backend, clientId, sequence, maxPayloadBytes: config.maxPayloadBytes, now, stats }),
      subscribe: (room, options) =>
        validateRoom(room).pipe(
          Effect.andThen(modeOf(options)),
          Effect.flatMap((mode) => subscriptions.subscribe([room], mode)),
          Effect.withSpan("SyncFanoutQueue.subscribe", { attributes: { room } })
        ),
      subscribeMany: (rooms, options) =>
        Effect.gen(function*() {
          if (!Array.isArray(rooms) || rooms.length === 0) {
            return yield* new InvalidArgument({ message: "subscribeMany needs at least one room" })
          }
          const seen = new Set<string>()
          for (const room of rooms) {
            yield* validateRoom(room)
            if (seen.has(room)) {
              return yield* new InvalidArgument({ message: `room ${JSON.stringify(room)} is listed twice` })
            }
            seen.add(room)
          }
          return yield* subscriptions.subscribe(rooms, yield* modeOf(options))
        }).pipe(
          Effect.withSpan("SyncFanoutQueue.subscribeMany", {
            attributes: { rooms: Array.isArray(rooms) ? rooms.length : 0 }
          })
        ),
      ...Inspection.make({ backend, keyPrefix: config.keyPrefix, stats, subscribedRooms: () => subscriptions.size }),
      memberships: backend.memberships.pipe(Effect.withSpan("SyncFanoutQueue.memberships"))
    }
    InvalidSink.register(service, stats.invalidMessage)
    const admin = RoomAdminImpl.make({
      backend,
      clientId,
      keyPrefix: config.keyPrefix,
      sequence,
      deadLetters,
      now,
      stats
    })
    return { queue: service, admin }
  })

/**
 * The generic client behind every engine: it turns a `BackendClient` (the server side) into the
 * `SyncFanoutQueue` service. Everything here is engine-independent, so the memory engine and the
 * Redis engine share one implementation of validation, subscriptions, routing, keepalive,
 * housekeeping, resync (S12), local loss detection (S10) and metrics (S15).
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import type * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { AckFailure, BackendClient, BackendError } from "../Backend.js"
import type { Delivery, QueuedMessage } from "../Delivery.js"
import * as Envelope from "../Envelope.js"
import * as MessageId from "../MessageId.js"
import type { ResolvedQueueConfig, SubscriptionMode } from "../QueueConfig.js"
import {
  AlreadySubscribed,
  ClientEjected,
  type EjectReason,
  InvalidArgument,
  PayloadTooLarge,
  type QueueError
} from "../QueueError.js"
import * as QueueMetrics from "../QueueMetrics.js"
import type { RoomState } from "../RoomState.js"
import type { SubscribeOptions, SyncFanoutQueue } from "../SyncFanoutQueue.js"
import * as DeliveryStream from "./deliveryStream.js"
import * as InvalidSink from "./invalidSink.js"
import { LatencyWindow } from "./latencyWindow.js"
import { hotSpan, isTraced } from "./tracing.js"
import { priorityOrError, roomError, utf8Length, validateInt, validateRoom } from "./validation.js"

/** The rooms of one `subscribe` / `subscribeMany` call, read through one buffer (one Stream). */
interface Group {
  readonly buffer: DeliveryStream.Buffer
  /** subscriptions of the group not closed yet: the buffer ends with the last one */
  open: number
}

interface Subscription {
  readonly room: string
  readonly mode: SubscriptionMode
  readonly group: Group
  /** room event number at join; frames up to it predate the membership (S5). null while joining */
  joinedEvent: number | null
  /** frames received while joining */
  pending: Array<string>
  /** id of the last queued message delivered, to avoid needless resync duplicates (S12) */
  lastQueuedId: string | null
  /** queued messages delivered so far: a resync answer older than the last of them is stale (S12) */
  queuedCount: number
  /** deliveries of this room in the group's buffer, not taken yet (bounded by `subscriberBuffer`) */
  buffered: number
  /** id of the last queued message the consumer acked (the ack may have been lost in transit) */
  lastAckedId: string | null
  closed: boolean
}

/** The extra tags of every metric update: none (one array, not one per delivery). */
const noTags: ReadonlyArray<MetricLabel.MetricLabel> = []

/** A fresh client id: 12 hex characters, no ':' (message ids are `<client id>:<sequence>`). */
export const randomClientId = (): string => globalThis.crypto.randomUUID().replace(/-/g, "").slice(0, 12)

const clientTimeoutMsOf = (config: ResolvedQueueConfig) => Duration.toMillis(config.clientTimeout)

export const makeQueue = Effect.fnUntraced(function*<E, R>(
  connect: (clientId: string) => Effect.Effect<BackendClient, E, R>,
  config: ResolvedQueueConfig
) {
  const clientId = randomClientId()
  const backend = yield* connect(clientId)
  const clock = yield* Effect.clock
  const now = () => clock.unsafeCurrentTimeMillis()
  const clientTimeoutMs = clientTimeoutMsOf(config)
  const ackTimeoutMs = Option.match(config.ackTimeout, { onNone: () => null, onSome: Duration.toMillis })
  const subscriptions = new Map<string, Subscription>()
  const latency = new LatencyWindow()
  const loggedInvalid = new Set<string>()
  let sequence = 0
  let received = 0
  let invalid = 0

  const whenConnected = <E>(effect: Effect.Effect<void, E>): Effect.Effect<void, E> =>
    Effect.flatMap(SubscriptionRef.get(backend.connected), (up) => up ? effect : Effect.void)

  // Rooms this client stopped listening to without the server confirming the leave (closed while
  // the server was out of reach, or our own S10 timeout): the server may still count us as a
  // member and wait for our ack forever once we are back (S6). Left when the server answers again.
  const pendingLeaves = new Set<string>()
  const flushLeaves = Effect.suspend(() =>
    Effect.forEach(
      [...pendingLeaves],
      (room) =>
        subscriptions.has(room)
          ? Effect.sync(() => pendingLeaves.delete(room)) // re-subscribed: subscribe left first
          : backend.leave(room).pipe(Effect.andThen(() => pendingLeaves.delete(room)), Effect.ignore),
      { discard: true }
    )
  )

  // S20: leave every room when the client's scope closes. Added before the fibers are forked, so
  // it runs after they were interrupted.
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      const rooms: Array<string> = []
      for (const sub of subscriptions.values()) {
        sub.closed = true
        sub.group.buffer.end(DeliveryStream.End)
        rooms.push(sub.room)
      }
      subscriptions.clear()
      // unreachable server: nothing to tell it; it ejects this client after clientTimeout (S10)
      return whenConnected(backend.unregister(rooms)).pipe(
        Effect.catchAll((e) => Effect.logWarning("lockstep: could not unregister client", e.message)),
        Effect.annotateLogs({ clientId })
      )
    })
  )

  const runFork = yield* FiberSet.makeRuntime<never>()

  // A decode failure quotes the offending value, which a hostile publisher controls: log once per
  // kind of failure (the reason's first line), for a bounded number of kinds, never a huge line.
  const invalidKind = (reason: string) => reason.slice(0, 200).split("\n", 1)[0]!
  const shouldLogInvalid = (kind: string) => !loggedInvalid.has(kind) && loggedInvalid.size < 32

  const logInvalidOnce = (room: string, reason: string) =>
    Effect.suspend(() => {
      const kind = invalidKind(reason)
      if (!shouldLogInvalid(kind)) return Effect.void
      loggedInvalid.add(kind)
      const text = reason.length > 1000 ? `${reason.slice(0, 1000)}…` : reason
      return Effect.logWarning(`lockstep: invalid message on room ${JSON.stringify(room)}: ${text}`).pipe(
        Effect.annotateLogs({ clientId, room })
      )
    })

  const countInvalid = (room: string, reason: string) => {
    invalid++
    QueueMetrics.invalidTotal.unsafeUpdate(1, noTags)
    if (shouldLogInvalid(invalidKind(reason))) runFork(logInvalidOnce(room, reason))
  }

  // Acks do not wait for the server (see `BackendClient.ack`): one that could not be delivered is
  // repeated, with a growing delay, for as long as it matters (the subscription is open and it is
  // still the last message the consumer acked); after a reconnect the resync repeats it too (S12).
  const sendAck = (sub: Subscription, id: string, attempt: number): void =>
    backend.ack(
      sub.room,
      id,
      attempt === 0 ? onAckFailure : (_room, _id, error) => retryAck(sub, id, error, attempt)
    )
  const onAckFailure: AckFailure = (room, id, error) => {
    const sub = subscriptions.get(room)
    if (sub !== undefined) retryAck(sub, id, error, 0)
  }
  const retryAck = (sub: Subscription, id: string, error: BackendError, attempt: number) => {
    if (sub.closed || sub.lastAckedId !== id) return
    // visible once it has failed for a while (about 1.5 s), at debug level before
    const log = attempt === 5 ? Effect.logWarning : Effect.logDebug
    runFork(
      log(`lockstep: ack not delivered (${error.message}), repeating it`).pipe(
        Effect.zipRight(Effect.sleep(Duration.millis(Math.min(2000, 50 * 2 ** attempt)))),
        Effect.zipRight(Effect.sync(() => {
          if (!sub.closed && sub.lastAckedId === id) sendAck(sub, id, attempt + 1)
        })),
        Effect.annotateLogs({ clientId, room: sub.room })
      )
    )
  }

  /**
   * Acknowledge `id` for the consumer of `sub` (S3, S4): handed to the connection, not awaited.
   * Once per delivery, so one step and no allocation unless a real tracer wants its span.
   */
  const ackFor = (sub: Subscription, id: string): Effect.Effect<void> =>
    Effect.withFiberRuntime((fiber) => {
      sub.lastAckedId = id
      if (sub.closed) return Effect.void // left: the leave released what it held (S6)
      if (!isTraced(fiber)) {
        sendAck(sub, id, 0)
        return Effect.void
      }
      return hotSpan("SyncFanoutQueue.ack", { room: sub.room, id }, Effect.sync(() => sendAck(sub, id, 0)))
    })

  /** Close a subscription without a leave; its group's stream ends with the last one. */
  const closeLocally = (sub: Subscription): Group => {
    if (sub.closed) return sub.group
    sub.closed = true
    if (subscriptions.get(sub.room) === sub) subscriptions.delete(sub.room)
    sub.group.open--
    return sub.group
  }

  /**
   * Remove subscriptions because the engine (or this client, S10) ejected them. A group that keeps
   * other rooms fails its stream once (run again, it goes on with them); otherwise the stream
   * ends with the ejection for good.
   */
  const eject = (subs: ReadonlyArray<Subscription>, reason: EjectReason, leaveRemotely: boolean) => {
    const ejected = subs.filter((sub) => !sub.closed)
    const groups = new Map<Group, ClientEjected>()
    for (const sub of ejected) {
      const group = closeLocally(sub)
      if (!groups.has(group)) groups.set(group, new ClientEjected({ room: sub.room, clientId, reason }))
    }
    for (const [group, error] of groups) {
      if (group.open > 0) group.buffer.fail(error)
      else group.buffer.end(error)
    }
    for (const sub of ejected) {
      QueueMetrics.ejectedTotal.unsafeUpdate(1, noTags)
      runFork(
        Effect.logWarning(`lockstep: ejected from room ${JSON.stringify(sub.room)}: ${reason}`).pipe(
          Effect.zipRight(leaveRemotely ? backend.leave(sub.room) : Effect.void),
          Effect.catchAll((e) => Effect.logWarning("lockstep: leave after ejection failed", e.message)),
          Effect.annotateLogs({ clientId, room: sub.room })
        )
      )
    }
  }

  const deliverEnvelope = (sub: Subscription, envelope: Envelope.MessageEnvelope) => {
    const id = MessageId.make(envelope.p, envelope.s)
    const queued = envelope.k === "q"
    const blocking = queued && sub.mode === "sync"
    if (blocking) {
      // a resync (S12) may race the published frame of the same release: deliver it once
      if (id === sub.lastQueuedId) return
      sub.lastQueuedId = id
      sub.queuedCount++
    }
    if (sub.buffered >= config.subscriberBuffer) {
      return eject([sub], "slow-consumer", true)
    }
    const receivedAt = now()
    const latencyMs = Math.max(0, receivedAt - envelope.t)
    const delivery: Delivery = {
      room: sub.room,
      id,
      data: envelope.d,
      kind: queued ? "queued" : "out-of-band",
      priority: envelope.pr,
      producer: envelope.p,
      sequence: envelope.s,
      sentAt: new Date(envelope.t),
      latency: Duration.millis(latencyMs),
      ack: blocking ? ackFor(sub, id) : Effect.void
    }
    sub.buffered++
    sub.group.buffer.offer(delivery)
    received++
    latency.record(latencyMs)
    QueueMetrics.receivedTotal.unsafeUpdate(1, noTags)
    QueueMetrics.latencyMs.unsafeUpdate(latencyMs, noTags)
  }

  const onFrame = (sub: Subscription, frame: string): void => {
    if (sub.closed) return
    if (sub.joinedEvent === null) {
      sub.pending.push(frame)
      return
    }
    const decoded = Envelope.decodeFrameOrReason(frame)
    if (typeof decoded === "string") {
      countInvalid(sub.room, decoded)
      // S16: if it was the in-flight message we hold, ack it so the room does not stall on it
      if (sub.mode === "sync") runFork(ackUndecodableInFlight(sub))
      return
    }
    const { envelope, event } = decoded
    if (event <= sub.joinedEvent) return
    if (envelope.k === "e") {
      if (envelope.c === clientId) eject([sub], envelope.why, false)
      return
    }
    deliverEnvelope(sub, envelope)
  }

  /** Ack the room's in-flight message if we hold it and it cannot be decoded (S16). */
  const ackUndecodableInFlight = (sub: Subscription) =>
    backend.resync(sub.room).pipe(
      Effect.flatMap((inFlight) =>
        inFlight !== null && !sub.closed && Either.isLeft(Envelope.decode(inFlight.envelope))
          ? ackFor(sub, inFlight.id)
          : Effect.void
      ),
      Effect.catchAll((e) => Effect.logDebug("lockstep: could not ack an undecodable message", e.message))
    )

  /** Close a subscription from its own scope (S6). */
  const close = (sub: Subscription) =>
    Effect.suspend(() => {
      if (sub.closed) return Effect.void
      const group = closeLocally(sub)
      if (group.open === 0) group.buffer.end(DeliveryStream.End)
      pendingLeaves.add(sub.room) // until the server confirms the leave
      return whenConnected(backend.leave(sub.room).pipe(Effect.andThen(() => pendingLeaves.delete(sub.room)))).pipe(
        Effect.catchAll((e) => Effect.logWarning("lockstep: leave failed", e.message)),
        Effect.annotateLogs({ clientId, room: sub.room })
      )
    })

  /** Join `rooms` (validated, distinct) as one group: one buffer, one Stream. */
  const subscribeRooms = (
    rooms: ReadonlyArray<string>,
    options: SubscribeOptions | undefined
  ): Effect.Effect<Stream.Stream<Delivery, ClientEjected>, QueueError, Scope.Scope> =>
    Effect.gen(function*() {
      const mode = options?.mode ?? config.mode
      if (mode !== "sync" && mode !== "async") {
        return yield* new InvalidArgument({ message: `mode must be "sync" or "async", got ${String(mode)}` })
      }
      for (const room of rooms) {
        if (subscriptions.has(room)) return yield* new AlreadySubscribed({ room })
      }
      // the rooms are taken from here on (no yield before): a concurrent subscribe to one of them
      // fails with AlreadySubscribed
      const byRoom = new Map<string, Subscription>()
      const group: Group = {
        // deliveries taken from the buffer no longer count against their room's bound
        buffer: new DeliveryStream.Buffer(
          rooms.length === 1
            ? (taken) => {
              only.buffered -= taken.length
            }
            : (taken) => {
              for (const d of taken) {
                const sub = byRoom.get(d.room)
                if (sub !== undefined) sub.buffered--
              }
            }
        ),
        open: rooms.length
      }
      const subs = rooms.map((room): Subscription => ({
        room,
        mode,
        group,
        joinedEvent: null,
        pending: [],
        lastQueuedId: null,
        queuedCount: 0,
        buffered: 0,
        lastAckedId: null,
        closed: false
      }))
      const only = subs[0]!
      for (const sub of subs) {
        byRoom.set(sub.room, sub)
        subscriptions.set(sub.room, sub)
      }
      const parent = yield* Effect.scope
      // the rooms of a group are left in parallel when its scope closes; each room's own scope
      // runs its finalizers in reverse order: the leave happens before the channel is dropped
      const scope = yield* Scope.fork(parent, ExecutionStrategy.parallel)
      const join = (sub: Subscription) =>
        Effect.gen(function*() {
          if (pendingLeaves.has(sub.room)) {
            // a membership left over from an unconfirmed leave would still hold the in-flight message (S5)
            yield* backend.leave(sub.room)
            pendingLeaves.delete(sub.room)
          }
          const own = yield* Scope.fork(scope, ExecutionStrategy.sequential)
          yield* Effect.gen(function*() {
            // order matters: listen before join so nothing released after the join is missed (S3)
            yield* backend.listen(sub.room, (frame) => onFrame(sub, frame))
            yield* Effect.addFinalizer(() => close(sub))
            const event = yield* backend.join(sub.room, { mode, ackTimeoutMs, clientTimeoutMs })
            sub.joinedEvent = event
            const pending = sub.pending
            sub.pending = []
            for (const frame of pending) onFrame(sub, frame)
          }).pipe(Scope.extend(own))
        })
      yield* (subs.length === 1 ? join(only) : Effect.forEach(subs, join, { concurrency: 64, discard: true }))
        .pipe(
          Effect.onExit((exit) =>
            Exit.isFailure(exit)
              ? Effect.zipRight(
                Effect.sync(() => {
                  for (const sub of subs) {
                    if (sub.closed || sub.joinedEvent !== null) continue // joined: its finalizer leaves now
                    closeLocally(sub)
                    // a join that timed out or was interrupted may have run on the server: leave
                    // once it answers again (S6), or the room would wait for this client's acks
                    pendingLeaves.add(sub.room)
                  }
                }),
                Scope.close(scope, exit)
              )
              : Effect.void
          )
        )
      return DeliveryStream.toStream(group.buffer)
    })

  const subscribe: SyncFanoutQueue["Type"]["subscribe"] = (room, options) =>
    Effect.zipRight(validateRoom(room), subscribeRooms([room], options)).pipe(
      Effect.withSpan("SyncFanoutQueue.subscribe", { attributes: { room } })
    )

  const subscribeMany: SyncFanoutQueue["Type"]["subscribeMany"] = (rooms, options) =>
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
      return yield* subscribeRooms(rooms, options)
    }).pipe(
      Effect.withSpan("SyncFanoutQueue.subscribeMany", {
        attributes: { rooms: Array.isArray(rooms) ? rooms.length : 0 }
      })
    )

  /** The envelope's JSON, or why it cannot be sent. */
  const encode = (envelope: Envelope.MessageEnvelope): string | InvalidArgument | PayloadTooLarge => {
    const json = Envelope.encodeMessage(envelope)
    if (Either.isLeft(json)) return new InvalidArgument({ message: json.left })
    const text = json.right
    // S16: the limit applies to the data's JSON (the payload), not to the envelope around it.
    // `d` is the envelope's last key and `,"d":` cannot occur inside the JSON strings before it.
    const start = text.indexOf(",\"d\":") + 5
    if ((text.length - start - 1) * 3 > config.maxPayloadBytes) {
      const size = utf8Length(text.slice(start, -1))
      if (size > config.maxPayloadBytes) return new PayloadTooLarge({ size, limit: config.maxPayloadBytes })
    }
    return text
  }

  // send and sendOutOfBand are per-message operations: one step validates, encodes and hands the
  // message to the engine, with a span only under a real tracer (see tracing.ts). The sequence
  // number is taken and the envelope encoded in that one synchronous step, so concurrent sends
  // never share or skip a number.
  const produce = (
    span: string,
    kind: "q" | "o",
    room: string,
    priority: unknown,
    data: unknown,
    write: (json: string, id: MessageId.MessageId, priority: number) => Effect.Effect<void, BackendError>
  ): Effect.Effect<MessageId.MessageId, QueueError> =>
    Effect.withFiberRuntime((fiber): Effect.Effect<MessageId.MessageId, QueueError> => {
      const invalid = roomError(room)
      if (invalid !== undefined) return Effect.fail(invalid)
      const pr = priorityOrError(priority)
      if (typeof pr !== "number") return Effect.fail(pr)
      const s = sequence + 1
      const json = encode({ k: kind, p: clientId, s, pr, t: now(), d: data })
      if (typeof json !== "string") return Effect.fail(json)
      sequence = s
      const id = MessageId.make(clientId, s)
      const sent = Effect.map(write(json, id, pr), () => {
        QueueMetrics.sentTotal.unsafeUpdate(1, noTags)
        return id
      })
      return isTraced(fiber) ? Effect.withSpan(sent, span, { attributes: { room }, captureStackTrace: false }) : sent
    })

  const send: SyncFanoutQueue["Type"]["send"] = (room, data, options) =>
    produce(
      "SyncFanoutQueue.send",
      "q",
      room,
      options?.priority,
      data,
      (json, id, priority) => backend.send(room, json, priority, id)
    )

  const sendOutOfBand: SyncFanoutQueue["Type"]["sendOutOfBand"] = (room, data) =>
    produce("SyncFanoutQueue.sendOutOfBand", "o", room, 0, data, (json) => backend.sendOutOfBand(room, json))

  const peek: SyncFanoutQueue["Type"]["peek"] = (room, options) =>
    Effect.gen(function*() {
      yield* validateRoom(room)
      const offset = yield* validateInt("offset", options?.offset, 0, 0, Number.MAX_SAFE_INTEGER)
      const limit = yield* validateInt("limit", options?.limit, 100, 1, 10_000)
      const raw = yield* backend.peek(room, offset, limit)
      const messages: Array<QueuedMessage> = []
      for (const json of raw) {
        const decoded = Envelope.decode(json)
        if (Either.isRight(decoded) && decoded.right.k !== "e") {
          const e = decoded.right
          messages.push({
            id: MessageId.make(e.p, e.s),
            room,
            data: e.d,
            priority: e.pr,
            producer: e.p,
            sequence: e.s,
            sentAt: new Date(e.t)
          })
        } else {
          countInvalid(room, Either.isLeft(decoded) ? decoded.left : "unexpected envelope kind")
        }
      }
      return messages
    }).pipe(Effect.withSpan("SyncFanoutQueue.peek", { attributes: { room } }))

  const roomState: SyncFanoutQueue["Type"]["roomState"] = (room) =>
    Effect.gen(function*() {
      yield* validateRoom(room)
      const raw = yield* backend.roomState(room)
      const state: RoomState = {
        room,
        backlog: raw.backlog,
        members: [...raw.members].sort(),
        acked: [...raw.acked].sort(),
        inFlight: raw.inFlight === null ? Option.none() : Option.some({
          id: MessageId.MessageId(raw.inFlight.id),
          releasedAt: new Date(raw.inFlight.releasedAt),
          age: Duration.millis(Math.max(0, raw.inFlight.age))
        })
      }
      return state
    }).pipe(Effect.withSpan("SyncFanoutQueue.roomState", { attributes: { room } }))

  const metrics: SyncFanoutQueue["Type"]["metrics"] = (options) =>
    Effect.gen(function*() {
      const top = yield* validateInt("topRooms", options?.topRooms, 10, 0, 1000)
      const stats = yield* backend.stats(top)
      return {
        knownRooms: stats.knownRooms,
        topRooms: stats.topRooms,
        knownClients: stats.knownClients,
        subscribedRooms: subscriptions.size,
        received,
        invalid,
        latency: latency.summary()
      }
    }).pipe(Effect.withSpan("SyncFanoutQueue.metrics"))

  const ejectAll = (reason: EjectReason) => eject([...subscriptions.values()], reason, false)

  /** The server answered a keepalive: `known` is false when it had expired us (every membership is gone). */
  const heard = (known: boolean) =>
    Effect.suspend(() => {
      if (known) return flushLeaves
      pendingLeaves.clear()
      if (subscriptions.size > 0) ejectAll("keepalive-timeout")
      return Effect.void
    })

  // S10: heartbeat, and fail our own streams when the server is out of reach for clientTimeout.
  yield* backend.keepalive([], clientTimeoutMs).pipe(Effect.ignore)
  let lastHeard = now()
  const keepaliveOnce = Effect.suspend(() =>
    backend.keepalive([...subscriptions.keys()], clientTimeoutMs).pipe(
      Effect.timeoutFail({
        duration: config.keepaliveInterval,
        onTimeout: () => "timeout" as const
      }),
      Effect.either,
      Effect.flatMap((result) => {
        const t = now()
        if (Either.isRight(result)) {
          lastHeard = t
          return heard(result.right)
        } else if (t - lastHeard >= clientTimeoutMs && subscriptions.size > 0) {
          // the server will expire us, unless we are back first: then these rooms must be left
          for (const room of subscriptions.keys()) pendingLeaves.add(room)
          ejectAll("keepalive-timeout")
        }
        return Effect.void
      })
    )
  )
  yield* keepaliveOnce.pipe(
    Effect.repeat(Schedule.spaced(config.keepaliveInterval)),
    Effect.delay(config.keepaliveInterval),
    Effect.forkScoped
  )

  // S10, S11: expire clients and ack deadlines; any client may do it, the server dedupes the work.
  yield* Effect.suspend(() => backend.housekeep([...subscriptions.keys()])).pipe(
    Effect.catchAllCause((cause) => Effect.logDebug("lockstep: housekeeping failed", Cause.pretty(cause))),
    Effect.repeat(Schedule.spaced(config.housekeepingInterval)),
    Effect.delay(config.housekeepingInterval),
    Effect.forkScoped
  )

  // S12: after the push connection came back, re-deliver in-flight messages we hold and never saw.
  const deliverResync = (sub: Subscription, inFlight: { readonly id: string; readonly envelope: string }) => {
    if (sub.closed || inFlight.id === sub.lastQueuedId) return
    const decoded = Envelope.decode(inFlight.envelope)
    if (Either.isLeft(decoded) || decoded.right.k === "e") {
      return countInvalid(sub.room, Either.isLeft(decoded) ? decoded.left : "unexpected envelope kind")
    }
    deliverEnvelope(sub, decoded.right)
  }

  // Suspended: the subscriptions are read at each reconnect, not when the client is built.
  const resync = Effect.suspend(() =>
    Effect.forEach(
      [...subscriptions.values()].filter((sub) => sub.mode === "sync" && sub.joinedEvent !== null),
      (sub) => {
        const delivered = sub.queuedCount
        return backend.resync(sub.room).pipe(
          Effect.flatMap((inFlight) => {
            // still held by us although the consumer acked it: the ack was lost in transit, repeat it
            if (inFlight !== null && inFlight.id === sub.lastAckedId) return ackFor(sub, inFlight.id)
            // a queued message arrived since we asked: the answer predates it (the consumer acked
            // the message it names, which released the new one), delivering it again would be a
            // duplicate
            if (inFlight !== null && sub.queuedCount !== delivered) return Effect.void
            if (inFlight !== null) return Effect.sync(() => deliverResync(sub, inFlight))
            if (sub.closed) return Effect.void
            // not holding the in-flight message: still a member? An ack-timeout ejection published
            // while we were away was lost (S11)
            return Effect.map(backend.roomState(sub.room), (state) => {
              if (!sub.closed && !state.members.includes(clientId)) eject([sub], "ack-timeout", false)
            })
          }),
          Effect.catchAll((e) => Effect.logWarning("lockstep: resync failed", e.message))
        )
      },
      { discard: true }
    )
  ).pipe(Effect.withSpan("SyncFanoutQueue.resync"))

  // After a reconnect: notices published while we were away are lost. Ask the server whether it
  // still knows us (S10) before resyncing, and leave the rooms we gave up meanwhile (S6).
  const reconnected = Effect.gen(function*() {
    const known = yield* Effect.either(backend.keepalive([...subscriptions.keys()], clientTimeoutMs))
    if (Either.isRight(known)) {
      lastHeard = now()
      yield* heard(known.right)
    }
    yield* resync
  })

  yield* backend.connected.changes.pipe(
    Stream.changes,
    Stream.drop(1),
    Stream.filter((up) => up),
    Stream.runForEach(() => reconnected),
    Effect.forkScoped
  )

  const service: SyncFanoutQueue["Type"] = {
    clientId,
    send,
    sendOutOfBand,
    subscribe,
    subscribeMany,
    peek,
    roomState,
    metrics
  }
  InvalidSink.register(service, countInvalid)
  return service
})

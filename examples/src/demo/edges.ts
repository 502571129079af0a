/**
 * An edge of the demo: a process that runs a `RoomWorker` on the room, as a real edge would. Each
 * process is a client of its own (the edge's name is its durable `clientId`, S21) and its worker,
 * both in a scope of their own, so that one process can die alone.
 *
 * The crashing edge's handler has a bug: the poison message brings its process down. A supervisor
 * plays the process manager: it "kills" the process (network cut first, then its fibers stopped
 * without a goodbye, as a SIGKILL would), waits a little and starts it again under the same id.
 * The new process resumes the membership and gets the unacked message again (S22), one attempt
 * more (S27), until `maxDeliveries` (S28) makes the server dead-letter it for that edge.
 */
import { type Delivery, type QueueConfig, type RoomAdmin, RoomWorker, SyncFanoutQueue } from "@lockstep/core"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type * as Engine from "../internal/engine.js"
import { green, ms, red } from "../internal/format.js"
import type { Display } from "./display.js"
import { DOWN_FOR, type Edge, isPoison, labelOf, MAX_DELIVERIES, ROOM, shortId } from "./model.js"

export interface Env {
  readonly engine: Engine.Engine
  /** every edge's client config (key prefix, clientTimeout, maxDeliveries); its name is added as clientId */
  readonly config: QueueConfig.QueueConfig
  /** an operator's view of the room, to read the dead letters from the server (S29) */
  readonly admin: RoomAdmin.RoomAdmin["Service"]
  readonly display: Display
  /** where the processes' scopes hang: closed on exit (and on Ctrl-C) */
  readonly parent: Scope.Scope
}

/** One process of an edge. */
export interface Process {
  readonly client: Engine.Client
  readonly scope: Scope.Closeable
  /** completed by the handler when the message crashes the process */
  readonly crashed: Deferred.Deferred<Delivery.Delivery>
  /** the first queued message this process got */
  readonly first: Deferred.Deferred<Delivery.Delivery>
}

/** The edge's handler, run by its worker for each delivery; the worker acks when it succeeds. */
const handler = (env: Env, edge: Edge, process: Pick<Process, "crashed" | "first">) =>
(
  delivery: Delivery.Delivery
): Effect.Effect<void> => {
  const latencyMs = Duration.toMillis(delivery.latency)
  if (delivery.kind === "out-of-band") {
    return Effect.sync(() => edge.broadcasts.push({ id: delivery.id, latencyMs }))
  }
  return Effect.gen(function*() {
    yield* Deferred.succeed(process.first, delivery)
    if (!edge.receivedAt.has(delivery.id)) edge.receivedAt.set(delivery.id, env.display.elapsed())
    if (edge.spec.crashesOnPoison && isPoison(delivery.data)) {
      // the bug: this message brings the process down before anything is acked
      yield* Deferred.succeed(process.crashed, delivery)
      return yield* Effect.never
    }
    edge.status = "working"
    edge.current = `${shortId(delivery.id)} p${delivery.priority} ${
      isPoison(delivery.data) ? "☠ poison" : labelOf(delivery.priority)
    }`
    yield* Effect.sleep(Duration.millis(edge.spec.workMs * (0.5 + Math.random())))
    if (!edge.doneAt.has(delivery.id)) {
      edge.ids.push(delivery.id)
      edge.latencies.push(latencyMs)
      edge.priorities.push(delivery.priority)
      edge.doneAt.set(delivery.id, env.display.elapsed())
    }
    edge.status = "waiting"
  })
}

/**
 * Start a process of `edge`: its client, then its worker on the room; returns once the room is
 * joined (or resumed, S22).
 */
export const start = Effect.fn("Edge.start")(function*(env: Env, edge: Edge) {
  const scope = yield* Scope.fork(env.parent, "sequential")
  return yield* Effect.gen(function*() {
    const client = yield* env.engine.client(
      { ...env.config, clientId: edge.spec.name },
      { crashable: edge.spec.crashesOnPoison }
    )
    const crashed = yield* Deferred.make<Delivery.Delivery>()
    const first = yield* Deferred.make<Delivery.Delivery>()
    const worker = yield* RoomWorker.make([ROOM], handler(env, edge, { crashed, first })).pipe(
      Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, client.queue)
    )
    edge.clientId = client.queue.clientId
    edge.status = "waiting"
    if (edge.joinedAt === 0) edge.joinedAt = env.display.elapsed()
    // a worker stops on its own only for a reason worth telling (e.g. ClientSuperseded)
    yield* worker.await.pipe(
      Effect.catch((e) => env.display.say(red(`${edge.spec.name}'s worker stopped: ${e._tag}`))),
      Effect.forkScoped
    )
    return { client, scope, crashed, first } satisfies Process
  }).pipe(
    Scope.provide(scope),
    Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
  )
})

/** The process dies holding `delivery`: no ack, no heartbeat, no goodbye. */
const crash = Effect.fn("Edge.crash")(function*(env: Env, edge: Edge, process: Process, delivery: Delivery.Delivery) {
  edge.status = "crashed"
  edge.crashes.push({ at: env.display.elapsed(), id: delivery.id, attempt: delivery.attempt })
  yield* process.client.cut // the network goes first
  yield* Scope.close(process.scope, Exit.void)
  const id = shortId(delivery.id)
  yield* env.display.say(
    red(`✖ ${edge.spec.name}'s handler crashed its process on ${id} ☠ (attempt ${delivery.attempt})`) +
      (delivery.attempt === 1
        ? `: it never acks ${id}, and as a durable member it still holds it: the room waits on it (S3)`
        : `: ${id} again, same id (S22, S27)`)
  )
})

/** The first queued message of a restarted process is not the poison: tell what the server did with it. */
const movedOn = Effect.fn("Edge.movedOn")(function*(env: Env, edge: Edge, next: Delivery.Delivery) {
  const last = edge.crashes[edge.crashes.length - 1]
  if (last === undefined) return
  edge.movedOn = { id: next.id, at: env.display.elapsed() }
  const page = yield* env.admin.deadLetters(ROOM)
  const letter = page.letters.find((l) => l.message.id === last.id && l.member === edge.clientId)
  yield* env.display.say(
    green(`→ the room moved on: ${edge.spec.name} got ${shortId(next.id)}, not ${shortId(last.id)}`) +
      (letter === undefined
        ? ` (no dead letter of ${shortId(last.id)} for it)`
        : `: attempt ${letter.attempts + 1} would exceed maxDeliveries ${MAX_DELIVERIES}, so the server ` +
          `dead-lettered ${shortId(last.id)} for ${edge.spec.name} after ${letter.attempts} attempts ` +
          `(reason ${letter.reason}, S28)`)
  )
}, (effect, env) => Effect.catch(effect, (e) => env.display.say(red(`deadLetters failed: ${e.message}`))))

/**
 * The process manager of `edge`, from its `first` process on: each time the process crashes, start
 * it again under its id after `DOWN_FOR`. Runs until interrupted.
 */
export const supervise = Effect.fn("Edge.supervise")(function*(env: Env, edge: Edge, first: Process) {
  let process = first
  while (true) {
    const delivery = yield* Deferred.await(process.crashed)
    yield* crash(env, edge, process, delivery)
    yield* Effect.sleep(DOWN_FOR)
    const restarted = yield* start(env, edge).pipe(
      Effect.catch((e) => Effect.as(env.display.say(red(`${edge.spec.name} could not come back: ${e.message}`)), null))
    )
    if (restarted === null) return
    process = restarted
    edge.restarts++
    yield* env.display.say(
      green(`↻ ${edge.spec.name} started again under its id after ${ms(Duration.toMillis(DOWN_FOR))}`) +
        `: it resumed its membership (S22)`
    )
    const next = yield* Deferred.await(process.first)
    if (!isPoison(next.data)) yield* movedOn(env, edge, next)
  }
})

/**
 * The driver of model-based runs (DESIGN §5). `runScenario(engine, scenario)` runs one operation
 * sequence against an `Engine` (a client factory on one shared server, cut / restore, a way to let
 * time pass and background work settle) through the public `SyncFanoutQueue` API only (`steps.ts`),
 * and after EVERY step checks what the engine did against the model of each room
 * (`roomModel.ts`): ejections are explained (`ejections.ts`), then deliveries and rooms are checked
 * (`invariants.ts`, I1–I6; `durableChecks.ts`, I7–I8; `operationChecks.ts`, I9–I13).
 *
 * Every subscription lives in its own `Scope` (closing it = leave) and is drained by a forked
 * fiber into a log. An extra "observer" client (never cut, never subscribed, never housekeeping)
 * reads `roomState` and `peek` after each step; built with the engine's `operator`, it reads the
 * dead letters too (S29) and takes the operator's actions (S30).
 *
 * At the end every client is restored, every paused room resumed (S30), time runs past the client
 * timeout and the live sync subscriptions ack until the rooms drain: no member may be left without
 * a live subscription (it would hold the room forever, S6, S10), no live subscription may have
 * silently lost its membership (S10, S11), and no message may be left queued (`checkDrained`).
 * Durable clients (S21–S25, `durable.ts`): every fenced process must have learnt it by then (I7);
 * with `resumeOnDrain` every durable client is running again and resumes all its memberships first
 * (for engines on real time, where memberships would wait `clientTimeout` to end).
 */
import { QueueConfig } from "@lockstep/core"
import { Cause, Duration, Effect, Exit, Option, Result, type Scope } from "effect"
import * as Durable from "./durable.js"
import { checkFencedEnded, checkFencedStreams, checkResumeDeadlines } from "./durableChecks.js"
import { explainEjections } from "./ejections.js"
import {
  type Admin,
  type DeliveryRecord,
  type Engine,
  ModelViolation,
  type RunOptions,
  type ScenarioLog
} from "./engine.js"
import { checkDrained, checkRooms, checkSubscriptions, type ObservedRoom } from "./invariants.js"
import { notePaused } from "./operationChecks.js"
import { durableId, isOperation, type Op, roomName, type Scenario } from "./ops.js"
import * as RoomModel from "./roomModel.js"
import { type Client, mayBeExpired, type Room, type Run } from "./run.js"
import { doAck, runOp } from "./steps.js"

/** Every dead letter of `room`, newest first (S29): one page holds all a run writes. */
const allLetters = (admin: Admin, room: string) =>
  Effect.flatMap(admin.deadLetters(room, { limit: 1000 }), (page) =>
    Option.isSome(page.cursor)
      ? Effect.die(new ModelViolation(`${room}: more than 1000 dead letters`))
      : Effect.succeed(page.letters))

/**
 * Run `scenario` against `engine`, checking after every step. Fails with a `ModelViolation`
 * defect describing the broken invariant and the steps so far.
 */
export const runScenario = (
  engine: Engine,
  scenario: Scenario,
  options: RunOptions = {}
): Effect.Effect<void, never, Scope.Scope> => Effect.asVoid(runScenarioLog(engine, scenario, options))

/**
 * `runScenario`, returning what every client received (`ScenarioLog`), to compare engines.
 */
export const runScenarioLog = (
  engine: Engine,
  scenario: Scenario,
  options: RunOptions = {}
): Effect.Effect<ScenarioLog, never, Scope.Scope> =>
  Effect.gen(function*() {
    const keyPrefix = options.keyPrefix ?? "model"
    const T = scenario.clientTimeoutMs
    const A = scenario.ackTimeoutMs
    const resolved = Result.getOrThrow(QueueConfig.validate({
      keyPrefix,
      clientTimeout: Duration.millis(T),
      ...(A === null ? {} : { ackTimeout: Duration.millis(A) })
    }))
    const K = Duration.toMillis(resolved.keepaliveInterval)
    const H = Duration.toMillis(resolved.housekeepingInterval)
    const timing: RoomModel.Timing = {
      clientTimeoutMs: T,
      keepaliveMs: K,
      housekeepingMs: H,
      ackTimeoutMs: A,
      slackMs: engine.slackMs
    }

    // ---- engine setup: the observer never subscribes, is never cut and never housekeeps; with
    // the engine's `operator` it is the operator too (S29, S30)
    const observerConfig: QueueConfig.QueueConfig = {
      keyPrefix,
      clientTimeout: Duration.hours(1),
      housekeepingInterval: Duration.hours(1)
    }
    const operator = engine.operator === undefined ? null : yield* engine.operator(observerConfig)
    const observer = operator?.queue ?? (yield* engine.client(observerConfig))
    const runScope = yield* Effect.scope
    const clients: Array<Client> = []
    for (let i = 0; i < scenario.clients; i++) {
      const onClose = scenario.durable?.[i] ?? null
      const config: QueueConfig.QueueConfig = {
        keyPrefix,
        clientTimeout: Duration.millis(T),
        ...(A === null ? {} : { ackTimeout: Duration.millis(A) }),
        ...(onClose === null ? {} : { clientId: durableId(i), onClose }),
        ...(scenario.maxDeliveries == null ? {} : { maxDeliveries: scenario.maxDeliveries })
      }
      // a durable client's process runs in a scope of its own (Crash and Shutdown close it)
      const { queue, scope } = onClose === null
        ? { queue: yield* engine.client(config), scope: null }
        : yield* Durable.startProcess(engine, runScope, config)
      const t = yield* engine.now
      clients.push({
        index: i,
        queue,
        id: queue.clientId,
        config,
        onClose,
        incarnation: 0,
        alive: true,
        scope,
        fenced: [],
        cut: false,
        uncutSince: t,
        heardLowerBound: t
      })
    }
    const rooms: Array<Room> = []
    for (let i = 0; i < scenario.rooms; i++) rooms.push(RoomModel.makeRoom(i, roomName(i)))
    const run: Run = {
      engine,
      scenario,
      timing,
      scope: runScope,
      clients,
      byId: new Map(clients.map((c) => [c.id, c])),
      rooms,
      subs: [],
      messages: new Map(),
      trace: [],
      step: 0,
      payloads: 0,
      admin: operator?.admin ?? null,
      pausedAtStart: new Map()
    }
    const { subs } = run

    // the letters are read after every step only where the scenario may write some (S27–S30);
    // elsewhere once, at the end: none may have appeared
    const lettersEveryStep = scenario.maxDeliveries != null || scenario.ops.some(isOperation)
    const observeRoom = (room: Room, letters: boolean) =>
      Effect.gen(function*() {
        const state = yield* observer.roomState(room.name)
        const peek = yield* observer.peek(room.name, { limit: 10_000 })
        const observed: ObservedRoom = {
          backlog: state.backlog,
          members: state.members,
          acked: state.acked,
          inFlight: Option.match(state.inFlight, {
            onNone: () => null,
            onSome: (f) => ({ id: f.id as string, releasedAt: f.releasedAt.getTime() })
          }),
          peek: peek.map((m) => m.id as string),
          all: engine.members === undefined ? null : yield* engine.members(room.name),
          paused: state.paused,
          letters: run.admin === null || !letters ? null : yield* allLetters(run.admin, room.name)
        }
        return observed
      }).pipe(Effect.catch((e) => Effect.die(new ModelViolation(`observer failed: ${e.message}`))))

    /**
     * After a step: settle, explain ejections, check every delivery and the rooms. `stepStart` is
     * the time the step began (timers may have fired in between).
     */
    const observe = (stepStart: number, letters = lettersEveryStep) =>
      Effect.gen(function*() {
        yield* engine.settle
        const now = yield* engine.now
        // danger: a client that may have been expired makes its subscriptions uncertain
        for (const c of clients) {
          if (!mayBeExpired(run, c, now)) continue
          for (const sub of subs) if (sub.client === c.index && sub.live) sub.uncertain = true
          for (const room of rooms) {
            const m = room.members.get(c.index)
            if (m !== undefined) m.uncertain = true
          }
        }
        const observed: Array<ObservedRoom> = []
        for (const room of rooms) observed.push(yield* observeRoom(room, letters))
        explainEjections(run, observed, stepStart, now)
        checkSubscriptions(run)
        checkFencedStreams(run, now)
        checkRooms(run, observed, now)
        checkResumeDeadlines(run, now)
        notePaused(run)
      })

    const exec = (op: Op) =>
      Effect.gen(function*() {
        const start = yield* engine.now
        yield* runOp(run, op)
        yield* observe(start)
      })

    const result = (): ScenarioLog => {
      const deliveries = clients.map((c) =>
        subs.filter((sub) => sub.client === c.index).flatMap((sub) =>
          sub.log.slice(0, sub.checked).map((d, i): DeliveryRecord => ({
            step: sub.steps[i]!,
            subscription: sub.no,
            room: sub.room,
            mode: sub.mode,
            kind: d.kind,
            n: (d.data as { readonly n: number }).n,
            producer: run.byId.get(d.producer)?.index ?? -1,
            priority: d.priority,
            attempt: d.attempt
          }))
        ).sort((a, b) => a.step - b.step || a.subscription - b.subscription)
      )
      const subscriptions = subs.map((sub) => ({
        no: sub.no,
        client: sub.client,
        room: sub.room,
        mode: sub.mode,
        end: sub.exit === null
          ? "open" as const
          : Exit.isSuccess(sub.exit)
          ? "closed" as const
          : `ejected: ${
            Option.match(Cause.findErrorOption(sub.exit.cause), { onNone: () => "defect", onSome: (e) => e.reason })
          }` as const
      }))
      return { deliveries, subscriptions }
    }

    yield* observe(yield* engine.now)
    for (const op of scenario.ops) {
      run.step++
      yield* exec(op)
    }
    if (options.drain === false) return result()

    // ---- liveness: reconnect everybody, let timers run out, ack everything
    for (const c of clients) {
      if (!c.cut && !c.fenced.some((h) => h.cut)) continue
      run.step++
      yield* exec({ _tag: "Restore", client: c.index })
    }
    // S30: a paused room releases nothing: the operator resumes it
    for (const room of rooms) {
      if (!room.paused) continue
      run.step++
      yield* exec({ _tag: "Resume", room: room.index })
    }
    if (options.resumeOnDrain === true) {
      // S22: every durable client runs again and resumes every membership of its id
      for (const c of clients) {
        if (c.onClose === null || c.alive) continue
        run.step++
        yield* exec({ _tag: "Restart", client: c.index, resubscribe: true })
      }
      for (const room of rooms) {
        for (const [c, m] of [...room.members]) {
          if (clients[c]!.onClose === null || m.sub.live) continue
          run.step++
          yield* exec({ _tag: "Subscribe", client: c, room: room.index, mode: m.mode })
        }
      }
    }
    // S21: a fenced process that has not learnt it yet does when an operation of it is refused
    for (const c of clients) {
      for (const h of c.fenced) {
        const waiting = subs.find((s) => s.fenced?.holder === h && s.exit === null && !s.scopeClosed)
        if (waiting === undefined) continue
        run.step++
        const start = yield* engine.now
        yield* Durable.fencedAction(run, c, h, waiting.room, "send")
        yield* observe(start)
      }
    }
    run.step++
    yield* exec({ _tag: "Advance", millis: options.drainAdvanceMs ?? T + 2 * K + H })
    for (let round = 0; round < run.messages.size + 2; round++) {
      let acked = 0
      for (const sub of subs) {
        if (!sub.live || sub.mode !== "sync" || sub.unacked === null) continue
        const d = sub.log.find((x) => x.id === sub.unacked)!
        run.step++
        run.trace.push(`#${run.step} drain: c${sub.client} acks ${d.id} (subscription #${sub.no})`)
        const start = yield* engine.now
        yield* doAck(run, clients[sub.client]!, sub, d, "drain ack")
        yield* observe(start)
        acked++
      }
      if (acked === 0) break
    }
    if (!lettersEveryStep) yield* observe(yield* engine.now, true)
    checkDrained(run)
    checkFencedEnded(run)
    return result()
  })

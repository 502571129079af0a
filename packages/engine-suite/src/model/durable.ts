/**
 * The steps of durable clients (S21–S25) in a model-based run, and what they do to the model
 * (`DurableOp` in `ops.ts`). A durable client is a sequence of processes of one id (`Client` in
 * `run.ts`); each runs in its own scope under the run's.
 *
 * - Crash (SIGKILL): every connection of the id is cut, then the process's scope closes: it tells
 *   the server nothing. Its memberships stay and hold their rooms until the id expires (S10, S22).
 * - Restart: a new process builds a client with the same `clientId`, which claims the id (S21): a
 *   process still running is fenced (its subscriptions become "fenced": see `durableChecks.ts`),
 *   and every membership of the id has `clientTimeout` to be resumed (S23). A Subscribe of the new
 *   process resumes a membership (S22, in `steps.ts`).
 * - Shutdown (SIGTERM): the subscriptions' scopes, then the client's, close by interruption. With
 *   `onClose: "detach"` each open subscription's membership waits `clientTimeout` for a successor
 *   (S24); with `"leave"` every membership of the id is left (S20).
 * - Interrupt: one subscription's scope closes by interruption: detached (S24) or left (S6).
 * - Fenced: the newest fenced process acks, sends, subscribes or leaves: nothing changes (S21), and
 *   it learns it was fenced (its streams fail with "superseded").
 *
 * A process that is not running does nothing: the ordinary operations of its client are skipped.
 */
import type { QueueConfig } from "@lockstep/core"
import { Effect, Exit, Scope } from "effect"
import type { Engine, Queue } from "./engine.js"
import { describeOp, type DurableOp, type FencedAction, type Op } from "./ops.js"
import * as RoomModel from "./roomModel.js"
import {
  type Client,
  errorTag,
  expectFailure,
  expectSuccess,
  type Holder,
  removeMember,
  type Run,
  type Sub
} from "./run.js"

/** How a process shutting down closes its scopes (a runtime's SIGTERM handler interrupts the main fiber). */
const shutdown = Exit.interrupt()

/** Start a process of a durable client: a client built in a scope of its own under `parent`. */
export const startProcess = (
  engine: Engine,
  parent: Scope.Scope,
  config: QueueConfig.QueueConfig
): Effect.Effect<{ readonly queue: Queue; readonly scope: Scope.Closeable }> =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(parent, "sequential")
    const queue = yield* Scope.provide(engine.client(config), scope)
    return { queue, scope }
  })

/** Whether `op` is an operation of a client whose current process does not run (then it is skipped). */
export const notRunning = (run: Run, op: Op): boolean => {
  switch (op._tag) {
    case "Send":
    case "SendOutOfBand":
    case "Subscribe":
    case "Ack":
    case "Reject":
    case "Leave":
    case "Crash":
    case "Shutdown":
    case "Interrupt": {
      const c = run.clients[op.client]!
      if (c.alive) return false
      run.trace.push(`#${run.step} ${describeOp(op)} -> not running`)
      return true
    }
    default:
      return false
  }
}

/** The subscriptions of a process of `c`. */
const subsOf = (run: Run, c: Client, incarnation: number): Array<Sub> =>
  run.subs.filter((s) => s.client === c.index && s.incarnation === incarnation)

/** A cut reaches every process of the id: the fenced ones cannot learn it until it heals. */
export const cutHolders = (run: Run, c: Client): void => {
  for (const h of c.fenced) {
    h.cut = true
    h.learnBy = null
    // S10: one cut for clientTimeout fails its own streams
    for (const sub of subsOf(run, c, h.incarnation)) sub.fenced?.reasons.add("keepalive-timeout")
  }
}

/** The cut heals: a fenced process reconnects, and its first keepalive tells it (S21). */
export const restoreHolders = (c: Client, now: number): void => {
  for (const h of c.fenced) {
    if (!h.cut) continue
    h.cut = false
    h.learnBy = now
  }
}

/**
 * Close a subscription of the current process by interruption: with `onClose: "detach"` the
 * membership waits for a resume (S24), otherwise it is left (S6). A cut client tells the server
 * nothing now: both become a leave once it is back (a detach that did not reach the server is
 * made once the server answers again, or the room would wait for this live client forever).
 */
const interruptSub = (run: Run, c: Client, sub: Sub, now: number) =>
  Effect.gen(function*() {
    yield* Scope.close(sub.scope, shutdown)
    sub.scopeClosed = true
    if (!sub.live) return
    sub.live = false
    sub.expected.length = 0
    const room = run.rooms[sub.room]!
    const member = room.members.get(c.index)?.sub === sub
    if (c.cut) sub.leftUnreachable = true
    else if (!member) return
    else if (c.onClose === "detach") RoomModel.detach(room, c.index, now + run.timing.clientTimeoutMs)
    else removeMember(run, room, c.index, now, now)
  })

/** The current process of `c` no longer runs; the server hears nothing more from it. */
const stopped = (run: Run, c: Client, now: number) => {
  RoomModel.cut(c, now, run.timing)
  c.alive = false
}

/** Do a durable client's operation and apply it to the model. */
export const runDurableOp = (run: Run, op: DurableOp): Effect.Effect<void> =>
  Effect.gen(function*() {
    const now = yield* run.engine.now
    const c = run.clients[op.client]!
    const T = run.timing.clientTimeoutMs
    switch (op._tag) {
      case "Crash": {
        run.trace.push(`#${run.step} ${describeOp(op)} (process #${c.incarnation})`)
        yield* run.engine.cut(c.id)
        cutHolders(run, c)
        stopped(run, c, now)
        yield* Scope.close(c.scope!, Exit.void)
        for (const sub of subsOf(run, c, c.incarnation)) {
          if (sub.scopeClosed) continue
          yield* Scope.close(sub.scope, Exit.void)
          sub.scopeClosed = true
          sub.live = false
          sub.expected.length = 0
        }
        return
      }
      case "Shutdown": {
        run.trace.push(`#${run.step} ${describeOp(op)} (process #${c.incarnation}, onClose ${c.onClose})`)
        for (const sub of subsOf(run, c, c.incarnation)) {
          if (!sub.scopeClosed) yield* interruptSub(run, c, sub, now)
        }
        yield* Scope.close(c.scope!, shutdown)
        // S20: "leave" unregisters the id: every membership of it is left, not only its subscriptions'
        if (c.onClose === "leave" && !c.cut) {
          for (const room of run.rooms) if (room.members.has(c.index)) removeMember(run, room, c.index, now, now)
        }
        stopped(run, c, now)
        return
      }
      case "Interrupt": {
        const open = subsOf(run, c, c.incarnation).filter((s) => s.room === op.room && !s.scopeClosed)
        run.trace.push(`#${run.step} ${describeOp(op)} -> closes ${open.map((s) => `#${s.no}`).join(" ") || "nothing"}`)
        for (const sub of open) yield* interruptSub(run, c, sub, now)
        return
      }
      case "Restart": {
        const fencing = c.alive
        if (fencing) {
          // S21: the running process is fenced: its subscriptions are no longer the model's
          const { keepaliveMs: K, slackMs } = run.timing
          const holder: Holder = {
            incarnation: c.incarnation,
            queue: c.queue,
            since: now,
            cut: c.cut,
            learnBy: c.cut ? null : now + K + slackMs
          }
          c.fenced.push(holder)
          for (const sub of subsOf(run, c, c.incarnation)) {
            if (sub.scopeClosed || sub.exit !== null) continue
            const reasons = new Set<RoomModel.EjectReason>(["superseded", ...sub.lateEject])
            if (c.cut || sub.uncertain) reasons.add("keepalive-timeout")
            sub.fenced = { holder, reasons }
            sub.live = false
            sub.expected.length = 0
          }
        }
        const started = yield* startProcess(run.engine, run.scope, c.config)
        c.queue = started.queue
        c.scope = started.scope
        c.incarnation++
        c.alive = true
        c.cut = false
        c.uncutSince = now
        c.heardLowerBound = now // the claim registered it
        // S21, S23: the claim gives every membership of the id clientTimeout to be resumed
        for (const room of run.rooms) RoomModel.detach(room, c.index, now + T)
        run.trace.push(
          `#${run.step} ${describeOp(op)} -> process #${c.incarnation}${
            fencing ? ` (claims over running process #${c.incarnation - 1}: fenced)` : ""
          }`
        )
        return
      }
      case "Fenced": {
        const h = c.fenced.at(-1)
        if (h === undefined) {
          run.trace.push(`#${run.step} ${describeOp(op)} -> no fenced process`)
          return
        }
        return yield* fencedAction(run, c, h, op.room, op.action)
      }
    }
  })

/**
 * A fenced process of `c` tries `action` on room `room`: it must take no effect (S21; the checks
 * after the step compare the rooms with the model, which does not change), a send or subscribe
 * must fail with `ClientSuperseded` (while its connection is up), and the process learns it was
 * fenced from any refused operation.
 */
export const fencedAction = (run: Run, c: Client, h: Holder, roomIndex: number, action: FencedAction) =>
  Effect.gen(function*() {
    const now = yield* run.engine.now
    const room = run.rooms[roomIndex]!
    const label = `#${run.step} Fenced(c${c.index}, r${roomIndex}, ${action}) by process #${h.incarnation}`
    const what = `fenced process #${h.incarnation} of c${c.index}: ${action}`
    const refused = h.cut ? (run.engine.cutFailures ?? ["EngineError"]) : ["ClientSuperseded"]
    const learns = () => {
      if (!h.cut) h.learnBy = Math.min(h.learnBy ?? now, now)
    }
    const mine = subsOf(run, c, h.incarnation).filter((s) => s.room === roomIndex)
    const open = (s: Sub) => !s.scopeClosed && s.exit === null
    switch (action) {
      case "send": {
        const n = ++run.payloads
        const exit = yield* Effect.exit(h.queue.send(room.name, { n }))
        run.trace.push(`${label} -> ${Exit.isFailure(exit) ? errorTag(exit.cause) : "succeeded"}`)
        expectFailure(run, what, exit, refused)
        return learns()
      }
      case "subscribe": {
        const scope = yield* Scope.make()
        const exit = yield* Effect.exit(Scope.provide(h.queue.subscribe(room.name), scope))
        yield* Scope.close(scope, Exit.void)
        run.trace.push(`${label} -> ${Exit.isFailure(exit) ? errorTag(exit.cause) : "succeeded"}`)
        // a subscription it does not know is fenced yet still holds the room on its side
        expectFailure(run, what, exit, mine.some(open) ? ["AlreadySubscribed", ...refused] : refused)
        if (Exit.isFailure(exit) && errorTag(exit.cause) === "ClientSuperseded") learns()
        return
      }
      case "ack": {
        const sub = mine.filter((s) => s.mode === "sync" && s.log.some((d) => d.kind === "queued")).at(-1)
        if (sub === undefined) {
          run.trace.push(`${label} -> nothing to ack`)
          return
        }
        const d = sub.log.filter((x) => x.kind === "queued").at(-1)!
        run.trace.push(`${label} -> ${d.id} (subscription #${sub.no})`)
        expectSuccess(run, what, yield* Effect.exit(d.ack)) // an ack does not wait for the server
        if (open(sub)) learns() // it reaches the engine, which refuses it
        return
      }
      case "leave": {
        const closing = mine.filter((s) => !s.scopeClosed)
        run.trace.push(`${label} -> closes ${closing.map((s) => `#${s.no}`).join(" ") || "nothing"}`)
        for (const sub of closing) {
          const wasOpen = open(sub)
          yield* Scope.close(sub.scope, Exit.void)
          sub.scopeClosed = true
          if (wasOpen) learns() // its leave reaches the engine, which refuses it
        }
        return
      }
    }
  })

/**
 * One step of a run: an operation of one of the run's clients through the public
 * `SyncFanoutQueue` API (or cut / restore / time passing, through the engine), and what it does to
 * the model. Every subscription lives in its own `Scope` (closing it = leave) and is drained by a
 * forked fiber into its log. An operation of a cut client must fail (`Engine.cutFailures`); any
 * other failure is a violation. The operations of durable clients are in `durable.ts`; here a
 * durable client's operations go to its current process (none while it is not running) and a
 * subscribe of its id resumes the id's membership (S22), counting the attempt (S27) or, past
 * `maxDeliveries`, dead-lettering the message it holds (S28). Rejects and the operator's actions
 * are in `operations.ts`.
 */
import type { Delivery } from "@lockstep/core"
import { Effect, Exit, Scope, Stream } from "effect"
import * as Durable from "./durable.js"
import { handedBy, resumeHeld, runOperation } from "./operations.js"
import { describeOp, isOperation, type Op } from "./ops.js"
import * as RoomModel from "./roomModel.js"
import {
  type Client,
  errorTag,
  expectFailure,
  expectSuccess,
  fail,
  liveSub,
  makeSub,
  mayBeExpired,
  publish,
  published,
  removeMember,
  type Room,
  type Run,
  type Sub
} from "./run.js"

const roomOf = (run: Run, i: number): Room => run.rooms[i]!

/** The consumer of `sub` acks `d` (S3, S4); a stale or duplicate ack changes nothing in the model (I6). */
export const doAck = (run: Run, c: Client, sub: Sub, d: Delivery.Delivery, what: string) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(d.ack)
    const blocking = d.kind === "queued" && sub.mode === "sync"
    if (!blocking) return expectSuccess(run, what, exit)
    sub.lastAcked = d.id
    // an ack does not wait for the server: while cut it succeeds and is lost in transit; the
    // client repeats it once the connection is back (see Restore)
    expectSuccess(run, what, exit)
    // a closed subscription's ack is not sent (it matters once it is detached, S24: the membership still holds)
    if (c.cut || !sub.live) return
    if (sub.unacked === d.id) sub.unacked = null
    const room = roomOf(run, sub.room)
    const now = yield* run.engine.now
    published(run, room, RoomModel.ack(room, c.index, d.id, now, run.step))
  })

/** Do `op` and apply it to the model (the checks come after, in `driver.ts`). */
export const runOp = (run: Run, op: Op): Effect.Effect<void> =>
  Effect.gen(function*() {
    const now = yield* run.engine.now
    const cutFailures = run.engine.cutFailures ?? ["EngineError"]
    if (Durable.notRunning(run, op)) return
    switch (op._tag) {
      case "Send": {
        const c = run.clients[op.client]!
        const room = roomOf(run, op.room)
        const n = ++run.payloads
        const exit = yield* Effect.exit(c.queue.send(room.name, { n }, { priority: op.priority }))
        if (c.cut) {
          run.trace.push(
            `#${run.step} ${describeOp(op)} -> ${Exit.isFailure(exit) ? errorTag(exit.cause) : "succeeded"}`
          )
          return expectFailure(run, "send", exit, cutFailures)
        }
        if (Exit.isFailure(exit)) return fail(run, `send failed: ${errorTag(exit.cause)}`)
        const msg = RoomModel.queuedMessage(room, exit.value, n, op.priority, run.step)
        if (run.messages.has(msg.id)) return fail(run, `message id ${msg.id} reused (S7)`)
        run.messages.set(msg.id, msg)
        published(run, room, RoomModel.send(room, msg, now, run.step))
        run.trace.push(`#${run.step} ${describeOp(op)} -> ${msg.id} n=${n}`)
        return
      }
      case "SendOutOfBand": {
        const c = run.clients[op.client]!
        const room = roomOf(run, op.room)
        const n = ++run.payloads
        const exit = yield* Effect.exit(c.queue.sendOutOfBand(room.name, { n }))
        if (c.cut) {
          run.trace.push(
            `#${run.step} ${describeOp(op)} -> ${Exit.isFailure(exit) ? errorTag(exit.cause) : "succeeded"}`
          )
          return expectFailure(run, "sendOutOfBand", exit, cutFailures)
        }
        if (Exit.isFailure(exit)) return fail(run, `sendOutOfBand failed: ${errorTag(exit.cause)}`)
        const msg = RoomModel.outOfBandMessage(room, exit.value, n, run.step)
        if (run.messages.has(msg.id)) return fail(run, `message id ${msg.id} reused (S7)`)
        run.messages.set(msg.id, msg)
        const members = [...room.members.values()]
        // S9: delivered at once to current subscribers (the memory engine, like Redis, only
        // publishes to rooms with members)
        if (members.some((m) => !m.uncertain)) publish(run, room, msg, false)
        else if (members.length > 0) publish(run, room, msg, true)
        run.trace.push(`#${run.step} ${describeOp(op)} -> ${msg.id} n=${n}`)
        return
      }
      case "Subscribe": {
        const c = run.clients[op.client]!
        const room = roomOf(run, op.room)
        const existing = liveSub(run, op.client, op.room)
        const scope = yield* Scope.make()
        const exit = yield* Effect.exit(Scope.provide(c.queue.subscribe(room.name, { mode: op.mode }), scope))
        if (Exit.isFailure(exit)) yield* Scope.close(scope, Exit.void)
        if (existing !== null) {
          run.trace.push(`#${run.step} ${describeOp(op)} -> AlreadySubscribed`)
          return expectFailure(run, "subscribe", exit, "AlreadySubscribed")
        }
        if (c.cut) {
          run.trace.push(
            `#${run.step} ${describeOp(op)} -> ${Exit.isFailure(exit) ? errorTag(exit.cause) : "succeeded"}`
          )
          return expectFailure(run, "subscribe", exit, cutFailures)
        }
        if (Exit.isFailure(exit)) return fail(run, `subscribe failed: ${errorTag(exit.cause)}`)
        const lingering = room.members.get(op.client)
        // S22, S25: a durable id's membership that no subscription of this process left is resumed
        // in the same mode (in the other one it is left and joined afresh)
        const resumable = lingering !== undefined && !lingering.sub.live && c.onClose !== null &&
          !(lingering.sub.incarnation === c.incarnation && lingering.sub.leftUnreachable)
        // a membership left behind by an unconfirmed leave is left first (it may hold the in-flight message)
        if (lingering !== undefined && !lingering.sub.live && !(resumable && lingering.mode === op.mode)) {
          removeMember(run, room, op.client, now, now)
        }
        const sub = makeSub(run, c, op.room, op.mode, scope)
        run.subs.push(sub)
        yield* exit.value.pipe(
          Stream.runForEach((d) => Effect.sync(() => sub.log.push(d))),
          Effect.exit,
          Effect.flatMap((e) => Effect.sync(() => sub.exit = e)),
          Effect.forkIn(run.scope)
        )
        if (resumable && lingering.mode === op.mode) {
          // S22: a holder gets the in-flight message again (same id) before anything else, for
          // its next attempt (S27), unless that is past maxDeliveries (S28)
          const handed = handedBy(run, c, op.room)
          const held = RoomModel.resume(room, op.client, sub)
          const what = held === null ? "" : resumeHeld(run, c, room, sub, handed, now)
          run.trace.push(`#${run.step} ${describeOp(op)} -> subscription #${sub.no}, resumes${what}`)
          return
        }
        // S5: a joiner does not hold or receive the in-flight message
        RoomModel.join(room, op.client, op.mode, sub)
        run.trace.push(`#${run.step} ${describeOp(op)} -> subscription #${sub.no}`)
        return
      }
      case "Ack": {
        const c = run.clients[op.client]!
        const mine = run.subs.filter((s) =>
          s.client === op.client && s.room === op.room && s.incarnation === c.incarnation
        )
        const all = mine.flatMap((s) => s.log.filter((d) => d.kind === "queued").map((d) => ({ sub: s, d })))
        const newest = [...mine].reverse().find((s) => s.log.some((d) => d.kind === "queued"))
        const latest = newest === undefined
          ? undefined
          : { sub: newest, d: newest.log.filter((d) => d.kind === "queued").at(-1)! }
        const target = op.which === "stale" ? all[0] : latest
        if (target === undefined) {
          run.trace.push(`#${run.step} ${describeOp(op)} -> nothing to ack`)
          return
        }
        run.trace.push(`#${run.step} ${describeOp(op)} -> ${target.d.id} (subscription #${target.sub.no})`)
        yield* doAck(run, c, target.sub, target.d, "ack")
        if (op.which === "duplicate") yield* doAck(run, c, target.sub, target.d, "duplicate ack")
        return
      }
      case "Leave": {
        const c = run.clients[op.client]!
        const room = roomOf(run, op.room)
        const open = run.subs.filter((s) =>
          s.client === op.client && s.room === op.room && s.incarnation === c.incarnation && !s.scopeClosed
        )
        run.trace.push(`#${run.step} ${describeOp(op)} -> closes ${open.map((s) => `#${s.no}`).join(" ") || "nothing"}`)
        for (const sub of open) {
          yield* Scope.close(sub.scope, Exit.void)
          sub.scopeClosed = true
          if (!sub.live) continue
          sub.live = false
          sub.expected.length = 0
          if (c.cut) sub.leftUnreachable = true
          // S6: the leave reaches the server unless the client is cut
          if (!c.cut && room.members.get(op.client)?.sub === sub) removeMember(run, room, op.client, now, now)
        }
        return
      }
      case "Cut": {
        const c = run.clients[op.client]!
        run.trace.push(`#${run.step} ${describeOp(op)}`)
        RoomModel.cut(c, now, run.timing)
        Durable.cutHolders(run, c) // a cut reaches every process of the id
        return yield* run.engine.cut(c.id)
      }
      case "Restore": {
        const c = run.clients[op.client]!
        run.trace.push(`#${run.step} ${describeOp(op)}`)
        Durable.restoreHolders(c, now)
        // a process that no longer runs stays silent: only its fenced holders are back
        if (!c.cut || !c.alive) return yield* run.engine.restore(c.id)
        if (mayBeExpired(run, c, now)) {
          for (const sub of run.subs) if (sub.client === c.index && sub.live) sub.uncertain = true
        }
        RoomModel.restore(c, now)
        yield* run.engine.restore(c.id)
        // S12: re-deliver the in-flight message to a sync subscription that holds it and never saw it
        for (const sub of run.subs) {
          if (sub.client !== c.index || !sub.live || sub.mode !== "sync") continue
          const room = roomOf(run, sub.room)
          const f = room.inFlight
          if (f !== null && f.holders.has(c.index) && f.msg.id === sub.lastAcked) {
            // the consumer acked it while cut: the client repeats the lost ack
            if (sub.unacked === f.msg.id) sub.unacked = null
            published(run, room, RoomModel.ack(room, c.index, f.msg.id, now, run.step))
          } else if (f !== null && f.holders.has(c.index) && f.msg.id !== sub.lastQueued) {
            const attempt = RoomModel.resyncAttempt(room, c.index)
            sub.expected.push({ id: f.msg.id, optional: sub.uncertain, attempt })
          }
        }
        return
      }
      case "Advance": {
        run.trace.push(`#${run.step} ${describeOp(op)} (t=${now} -> ${now + op.millis})`)
        return yield* run.engine.advance(op.millis)
      }
      default: {
        if (isOperation(op)) return yield* runOperation(run, op)
        yield* Durable.runDurableOp(run, op)
        if (op._tag !== "Restart" || !op.resubscribe) return
        // S22: the new process subscribes to the rooms of its id's memberships, which resumes them
        for (const room of run.rooms) {
          const m = room.members.get(op.client)
          if (m !== undefined) {
            yield* runOp(run, { _tag: "Subscribe", client: op.client, room: room.index, mode: m.mode })
          }
        }
        return
      }
    }
  })

/**
 * The steps of S27–S30 in a model-based run (`AdminOp` and `Reject` in `ops.ts`), and what they do
 * to the model (`roomModel.ts`):
 *
 * - Reject: a consumer rejects a delivery instead of acking it (S28). It is awaited: a cut client's
 *   fails (`Engine.cutFailures`); a connected one's settles the message for the member as a dead
 *   letter if it holds it (the barrier counts it as an ack), else changes nothing.
 * - The operator's actions, through the observer's `RoomAdmin` (the observer is never cut): eject
 *   (S30: the membership ends, its stream fails with "operator", a durable id does not resume it),
 *   pause and resume, skip (a letter per holder, then the room moves on), purge, redrive and drop
 *   dead letters (S29). Each answer must be the model's (I13); the purge's count is the model's
 *   backlog.
 * - A resumed join past `maxDeliveries` (S28) is in `steps.ts` (Subscribe), with `resumeHeld` here.
 */
import type { Delivery } from "@lockstep/core"
import { MessageId } from "@lockstep/core"
import { Effect, Exit, Option } from "effect"
import { type AdminOp, describeOp, type Op } from "./ops.js"
import * as RoomModel from "./roomModel.js"
import {
  type Client,
  errorTag,
  expectFailure,
  fail,
  published,
  removeMember,
  type Room,
  type Run,
  type Sub
} from "./run.js"

/**
 * The process of `c` resumed its membership of `room` with `sub` and holds the in-flight message
 * (S22): it gets it again for the model's attempt (S27), or, past `maxDeliveries`, the message is
 * dead-lettered for it and the room moves on (S28).
 */
export const resumeHeld = (run: Run, c: Client, room: Room, sub: Sub, handed: string | null, now: number): string => {
  const held = room.inFlight!.msg
  const attempt = RoomModel.resumedAttempt(room, c.index, c.incarnation, handed)
  const max = run.scenario.maxDeliveries ?? null
  if (max !== null && attempt > max) {
    const letter = { attempts: attempt - 1, reason: "max-deliveries" }
    published(run, room, RoomModel.deadLetter(room, c.index, held.id, letter, now, run.step)!)
    return `, dead-letters ${held.id} (attempt ${attempt} > maxDeliveries ${max})`
  }
  RoomModel.handedOver(room, c.index, attempt, c.incarnation)
  sub.expected.push({ id: held.id, optional: false, attempt })
  return ` holding ${held.id} (attempt ${attempt})`
}

/**
 * The last queued message a closed subscription of `c`'s current process to room `room` handed
 * to its consumer (S27, `JoinOptions.handed`): the client keeps it for durable ids only.
 */
export const handedBy = (run: Run, c: Client, room: number): string | null => {
  if (c.onClose === null) return null
  const closed = run.subs.filter((s) =>
    s.client === c.index && s.room === room && s.incarnation === c.incarnation && !s.live && s.lastQueued !== null
  )
  return closed.at(-1)?.lastQueued ?? null
}

/** The delivery `which` of `c`'s subscriptions to room `room` (as an Ack picks it). */
const target = (run: Run, c: Client, room: number, which: "latest" | "stale") => {
  const mine = run.subs.filter((s) => s.client === c.index && s.room === room && s.incarnation === c.incarnation)
  const all = mine.flatMap((s) => s.log.filter((d) => d.kind === "queued").map((d) => ({ sub: s, d })))
  return which === "stale" ? all[0] : all.at(-1)
}

/** S28: the consumer of `sub` rejects `d` with `reason` (null: the default). */
const doReject = (run: Run, c: Client, sub: Sub, d: Delivery.Delivery, reason: string | null) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(reason === null ? d.reject() : d.reject(reason))
    const blocking = d.kind === "queued" && sub.mode === "sync"
    if (c.cut && blocking && sub.live) {
      return expectFailure(run, "reject", exit, run.engine.cutFailures ?? ["EngineError"])
    }
    if (Exit.isFailure(exit)) return fail(run, `reject failed: ${errorTag(exit.cause)}`)
    // out-of-band, async, or a closed subscription's: nothing is sent
    if (!blocking || !sub.live) return
    // settled for the subscription as an acked message: no lost ack of it is repeated
    if (sub.lastAcked === d.id) sub.lastAcked = null
    if (sub.unacked === d.id) sub.unacked = null
    const room = run.rooms[sub.room]!
    const now = yield* run.engine.now
    const letter = { attempts: d.attempt, reason: reason ?? "rejected" }
    const released = RoomModel.deadLetter(room, c.index, d.id, letter, now, run.step)
    run.trace.push(`    ${released === null ? "not held: nothing changes" : "dead-lettered"}`)
    if (released !== null) published(run, room, released)
  })

/** The answer of an operator's action, against the model's (I13). */
const answered = <A>(
  run: Run,
  op: Op,
  exit: Exit.Exit<A, unknown>,
  expected: A,
  show: (a: A) => string = String
): A => {
  if (Exit.isFailure(exit)) return fail(run, `${describeOp(op)} failed: ${errorTag(exit.cause)}`)
  run.trace.push(`#${run.step} ${describeOp(op)} -> ${show(exit.value)}`)
  if (exit.value !== expected) {
    fail(run, `${describeOp(op)} answered ${show(exit.value)}, the model ${show(expected)} (I13)`)
  }
  return exit.value
}

const showId = (id: string | null) => id ?? "none"

/**
 * S30: the operator ejects `c`'s id from `room`, a member in the model: its subscription must
 * learn it (now, or, if its client is cut, at its resync; an async one is never told), a fenced
 * process of the id hears the notice too, and what it held is released as for a leave (S6).
 */
const ejected = (run: Run, c: Client, room: Room, now: number) => {
  const sub = room.members.get(c.index)!.sub
  if (sub.live && !c.cut) sub.mustEject = ["operator"]
  else if (sub.live) {
    // the notice is lost; a sync subscription finds at its resync that it is no member (S12)
    sub.uncertain = true
    sub.lateEject = ["operator", "ack-timeout"]
    sub.ejectedUnheard = sub.mode === "async"
  }
  for (const s of run.subs) {
    if (s.client === c.index && s.room === room.index && s.fenced !== null) s.fenced.reasons.add("operator")
  }
  removeMember(run, room, c.index, now, now)
}

/** Do a Reject or an operator's action and apply it to the model (the checks come after, in `driver.ts`). */
export const runOperation = (run: Run, op: AdminOp | Extract<Op, { readonly _tag: "Reject" }>): Effect.Effect<void> =>
  Effect.gen(function*() {
    const now = yield* run.engine.now
    const room = run.rooms[op.room]!
    if (op._tag === "Reject") {
      const c = run.clients[op.client]!
      const t = target(run, c, op.room, op.which)
      if (t === undefined) return run.trace.push(`#${run.step} ${describeOp(op)} -> nothing to reject`)
      run.trace.push(`#${run.step} ${describeOp(op)} -> ${t.d.id} (subscription #${t.sub.no})`)
      return yield* doReject(run, c, t.sub, t.d, op.reason)
    }
    const admin = run.admin
    if (admin === null) return fail(run, `${describeOp(op)}: the engine offers no RoomAdmin (Engine.operator)`)
    switch (op._tag) {
      case "Eject": {
        const c = run.clients[op.client]!
        const m = room.members.get(op.client)
        const exit = yield* Effect.exit(admin.eject(room.name, c.id))
        // a member the server may have expired already (S10) may be gone
        const expected = m !== undefined && !(m.uncertain && Exit.isSuccess(exit) && !exit.value)
        if (answered(run, op, exit, expected)) ejected(run, c, room, now)
        else if (m !== undefined) removeMember(run, room, op.client, now, now)
        return
      }
      case "Pause":
      case "Resume": {
        const exit = yield* Effect.exit(op._tag === "Pause" ? admin.pause(room.name) : admin.resume(room.name))
        const { changed, released } = RoomModel.pause(room, op._tag === "Pause", now, run.step)
        answered(run, op, exit, changed)
        return published(run, room, released)
      }
      case "Skip": {
        const holders = [...(room.inFlight?.holders ?? [])]
        const exit = yield* Effect.exit(Effect.map(admin.skip(room.name), Option.getOrNull))
        const { id, released } = RoomModel.skip(room, now, run.step)
        answered(run, op, exit, id, showId)
        // settled for its holders: their consumers will not ack it
        for (const sub of run.subs) {
          if (sub.room === op.room && holders.includes(sub.client) && sub.unacked === id) sub.unacked = null
        }
        return published(run, room, released)
      }
      case "Purge": {
        const exit = yield* Effect.exit(admin.purge(room.name))
        answered(run, op, exit, RoomModel.purge(room))
        return
      }
      case "DropLetters": {
        const exit = yield* Effect.exit(admin.dropDeadLetters(room.name))
        answered(run, op, exit, RoomModel.dropLetters(room))
        return
      }
      case "Redrive": {
        const letter = op.which === "newest" ? room.letters[0] : room.letters.at(-1)
        // without letters: the room's newest message, which has none
        const msg = letter?.msg ??
          [...run.messages.values()].filter((m) => m.room === op.room && m.kind === "queued").at(-1)
        if (msg === undefined) return run.trace.push(`#${run.step} ${describeOp(op)} -> no message to redrive`)
        const exit = yield* Effect.exit(
          Effect.map(admin.redrive(room.name, MessageId.MessageId(msg.id)), Option.getOrNull)
        )
        if (Exit.isFailure(exit)) return fail(run, `${describeOp(op)} failed: ${errorTag(exit.cause)}`)
        const copyId = exit.value
        run.trace.push(`#${run.step} ${describeOp(op)} of ${msg.id} -> ${showId(copyId)}`)
        if (!RoomModel.hasLetter(room, msg.id) || copyId === null) {
          if (RoomModel.hasLetter(room, msg.id) || copyId !== null) {
            fail(
              run,
              `redrive of ${msg.id} answered ${showId(copyId)}, the model has ${
                RoomModel.hasLetter(room, msg.id) ? "letters of it" : "no letter of it"
              } (I13)`
            )
          }
          return
        }
        const copy = RoomModel.queuedMessage(room, copyId, msg.n, msg.priority, run.step)
        if (run.messages.has(copyId)) return fail(run, `message id ${copyId} reused (S7)`)
        run.messages.set(copyId, copy)
        return published(run, room, RoomModel.redrive(room, msg.id, copy, now, run.step))
      }
    }
  })

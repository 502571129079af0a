/**
 * The state of one run, shared by the driver (`driver.ts`, `steps.ts`) and the checks
 * (`invariants.ts`): the clients, every subscription with what its consumer received and what the
 * model expects it to receive next, the model's rooms and messages, the step trace, and `fail`,
 * which reports a broken check.
 *
 * A client cut long enough to be expired makes its subscriptions "uncertain": what they receive
 * may then be any subsequence of the room's traffic (their expected deliveries become optional).
 *
 * A durable client (S21–S25) is a sequence of processes ("incarnations") of one id: each Restart
 * starts the next one. The current one may be running or not (crashed, shut down); older ones
 * still running after a newer claim are its fenced holders (S21).
 */
import type { Delivery, QueueConfig, QueueError } from "@lockstep/core"
import { Cause, Exit, Option, type Scope } from "effect"
import { type Admin, type Engine, ModelViolation, type Queue } from "./engine.js"
import type { Mode, OnClose, Scenario } from "./ops.js"
import * as RoomModel from "./roomModel.js"

export interface Expected {
  readonly id: string
  readonly optional: boolean
  /** its attempt (S27); absent: 1 */
  readonly attempt?: number | undefined
}

/** A subscription: what its consumer received, and the checker's bookkeeping about it. */
export interface Sub {
  readonly no: number
  readonly client: number
  readonly room: number
  readonly mode: Mode
  readonly scope: Scope.Closeable
  /** filled by the consumer fiber */
  readonly log: Array<Delivery.Delivery>
  /** the step after which each delivery of `log` was observed */
  readonly steps: Array<number>
  exit: Exit.Exit<void, QueueError.ClientEjected> | null
  // ---- checker state
  checked: number
  exitChecked: boolean
  scopeClosed: boolean
  /** the client treats it as open: not closed by us, not ejected */
  live: boolean
  /** the model cannot predict its deliveries any more (its client may have been expired) */
  uncertain: boolean
  /** closed or ejected while its client could not reach the server: the membership may linger */
  leftUnreachable: boolean
  /** deliveries due, in order */
  expected: Array<Expected>
  /** the server ejected it while its client could hear it: its stream must fail with one of these */
  mustEject: ReadonlyArray<RoomModel.EjectReason> | null
  /** the server ejected it while its client was cut (notice lost): it may learn it later, for one of these */
  lateEject: ReadonlyArray<RoomModel.EjectReason>
  /**
   * an operator ejected its membership while its client was cut (S30) and it is async: nothing
   * tells it (a sync one learns it at its resync, S12), so it may stay open without a membership
   */
  ejectedUnheard: boolean
  /** last queued id delivered (mirror of the client's resync guard, S12) */
  lastQueued: string | null
  /** last queued id the consumer acked, successfully or not (the client repeats a lost one, S12) */
  lastAcked: string | null
  /** sync: queued id delivered and not yet acked by this client (I1) */
  unacked: string | null
  readonly seen: Set<string>
  prevQueued: RoomModel.Msg | null
  // ---- durable clients (S21–S25)
  /** the process of its client that opened it (always 0 for an ordinary client) */
  readonly incarnation: number
  /**
   * set when a newer claim fenced its process (S21): its deliveries are no longer predicted (any
   * message of the room, once), and its stream must fail with one of `reasons`
   */
  fenced: { readonly holder: Holder; readonly reasons: Set<RoomModel.EjectReason> } | null
}

/** A fenced holder: an older process of a durable id, still running after a newer claim (S21). */
export interface Holder {
  readonly incarnation: number
  readonly queue: Queue
  /** when the newer claim was made */
  readonly since: number
  /** its connection is cut (a cut reaches every process of an id) */
  cut: boolean
  /** by this time it must have learnt it was fenced (a keepalive, or an operation, failed); null: cut */
  learnBy: number | null
}

/** A room of the model; each membership knows its subscription. */
export type Room = RoomModel.Room<Sub>

/**
 * A client of the run: the engine's client and what the model knows about its connection. A
 * durable client's fields describe its current process (a crashed or shut down one counts as cut:
 * the server hears nothing more from it).
 */
export interface Client extends RoomModel.Connection {
  readonly index: number
  /** the current process's client */
  queue: Queue
  readonly id: string
  /** the configuration each of its processes is built with */
  readonly config: QueueConfig.QueueConfig
  /** the `onClose` of a durable client (S24); null for an ordinary client */
  readonly onClose: OnClose | null
  /** the current process: 0, then one more per Restart */
  incarnation: number
  /** whether the current process runs (not crashed or shut down) */
  alive: boolean
  /** the current process's scope (durable clients only: Crash and Shutdown close it) */
  scope: Scope.Closeable | null
  /** older processes of the id still running, fenced by a newer claim (S21), oldest first */
  readonly fenced: Array<Holder>
}

/** One run in progress. */
export interface Run {
  readonly engine: Engine
  readonly scenario: Scenario
  readonly timing: RoomModel.Timing
  /** the scope of the whole run: the consumer fibers run in it */
  readonly scope: Scope.Scope
  readonly clients: ReadonlyArray<Client>
  readonly byId: ReadonlyMap<string, Client>
  readonly rooms: ReadonlyArray<Room>
  readonly subs: Array<Sub>
  /** every message sent so far, by id */
  readonly messages: Map<string, RoomModel.Msg>
  /** one line per step, for the report of a failed check */
  readonly trace: Array<string>
  /** the current step (0: before the first operation; past `scenario.ops.length`: the liveness phase) */
  step: number
  /** payloads sent so far: each send carries `{ n }`, the next number */
  payloads: number
  /** the observer's `RoomAdmin` (S29, S30), when the engine offers one */
  readonly admin: Admin | null
  /** the rooms paused when the current step began, and the message each had in flight then (S30) */
  readonly pausedAtStart: Map<number, string | null>
}

/** Throw a `ModelViolation`: `what`, where in the run, and the last steps that led there. */
export const fail = (run: Run, what: string): never => {
  const { scenario, step } = run
  const { ackTimeoutMs: A, clientTimeoutMs: T, housekeepingMs: H, keepaliveMs: K } = run.timing
  const recent = run.trace.slice(-40).join("\n    ")
  const where = step > scenario.ops.length ? `end phase step ${step - scenario.ops.length}` : `step ${step}`
  throw new ModelViolation(
    `${what}\n  at ${where} of ${scenario.ops.length} (clients ${scenario.clients}, rooms ${scenario.rooms}, ` +
      `clientTimeout ${T} ms, keepalive ${K} ms, housekeeping ${H} ms, ackTimeout ${
        A ?? "none"
      })\n  steps:\n    ${recent}`
  )
}

// ---------------------------------------------------------------------------------------------
// Model transitions seen by the subscriptions
// ---------------------------------------------------------------------------------------------

/** Deliver (expect) `msg` to every live subscription of the room whose client is connected. */
export const publish = (run: Run, room: Room, msg: RoomModel.Msg, optional: boolean): void => {
  for (const sub of run.subs) {
    if (sub.room !== room.index || !sub.live || run.clients[sub.client]!.cut) continue
    sub.expected.push({ id: msg.id, optional: optional || sub.uncertain })
  }
}

/** Expect the messages the model released (S3, S7), in order. */
export const published = (run: Run, room: Room, released: ReadonlyArray<RoomModel.Msg>): void => {
  for (const msg of released) publish(run, room, msg, false)
}

/** The server removed `client` from `room` (leave or ejection). */
export const removeMember = (run: Run, room: Room, client: number, lo: number, hi: number): void =>
  published(run, room, RoomModel.removeMember(room, client, lo, hi, run.step))

/** May the client have been expired by now (S10)? */
export const mayBeExpired = (run: Run, c: Client, now: number): boolean => RoomModel.mayBeExpired(c, now, run.timing)

/** A new subscription of `client`'s current process to `room`, opened in `scope`. */
export const makeSub = (run: Run, client: Client, room: number, mode: Mode, scope: Scope.Closeable): Sub => ({
  no: run.subs.length,
  client: client.index,
  room,
  mode,
  scope,
  log: [],
  steps: [],
  exit: null,
  checked: 0,
  exitChecked: false,
  scopeClosed: false,
  live: true,
  uncertain: false,
  leftUnreachable: false,
  expected: [],
  mustEject: null,
  lateEject: [],
  ejectedUnheard: false,
  lastQueued: null,
  lastAcked: null,
  unacked: null,
  seen: new Set(),
  prevQueued: null,
  incarnation: client.incarnation,
  fenced: null
})

/** The live subscription of `client` to `room`, if any. */
export const liveSub = (run: Run, client: number, room: number): Sub | null =>
  run.subs.find((s) => s.client === client && s.room === room && s.live) ?? null

/** The operation must have failed with (one of) `tag`. */
export const expectFailure = (
  run: Run,
  what: string,
  exit: Exit.Exit<unknown, unknown>,
  tag: string | ReadonlyArray<string>
): void => {
  const tags = typeof tag === "string" ? [tag] : tag
  if (Exit.isSuccess(exit)) return fail(run, `${what} succeeded, expected ${tags.join(" or ")}`)
  const got = errorTag(exit.cause)
  if (!tags.includes(got)) fail(run, `${what} failed with ${got}, expected ${tags.join(" or ")}`)
}

/** The operation must have succeeded. */
export const expectSuccess = (run: Run, what: string, exit: Exit.Exit<unknown, unknown>): void => {
  if (Exit.isFailure(exit)) fail(run, `${what} failed: ${errorTag(exit.cause)}`)
}

/** The tag of an operation's failure (or the defect). */
export const errorTag = (cause: Cause.Cause<unknown>): string =>
  Option.match(Cause.findErrorOption(cause), {
    onNone: () => `defect: ${Cause.pretty(cause)}`,
    onSome: (e) => (typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e))
  })

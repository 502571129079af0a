/**
 * The operations of a model-based scenario and their generator (DESIGN §5), an `Arbitrary` of
 * `effect/Arbitrary` (run by `it.effect.prop`; see `scenarioSize` for the check's `size`).
 *
 * `scenario(options)` generates operation sequences (send with a priority, sendOutOfBand,
 * subscribe sync/async, ack latest/stale/duplicate, leave, cut, restore, advance time) over a few
 * clients and rooms, plus the clients' `clientTimeout` / `ackTimeout`.
 *
 * With `durable: true` (S21–S25) the first one or two clients are durable (ids `d0`, `d1`, each
 * with its `onClose`), and the sequence also crashes, restarts (claims), shuts down and
 * interrupts them, and drives their fenced predecessors (`DurableOp`).
 *
 * With `operations: true` (S27–S30) the sequence also rejects deliveries and takes an operator's
 * actions on rooms (`AdminOp`: eject, pause, resume, skip, purge, redrive, drop dead letters), and
 * with `maxDeliveries` the clients resume with a bound on attempts (S28).
 */
import { Arbitrary } from "effect"
import * as Gen from "../arbitrary.js"
import { adminOps } from "./adminOps.js"

/** How a subscription receives queued messages. */
export type Mode = "sync" | "async"

/** One step of a scenario. `client` and `room` are indexes below `Scenario.clients` / `Scenario.rooms`. */
export type Op =
  | { readonly _tag: "Send"; readonly client: number; readonly room: number; readonly priority: number }
  | { readonly _tag: "SendOutOfBand"; readonly client: number; readonly room: number }
  | { readonly _tag: "Subscribe"; readonly client: number; readonly room: number; readonly mode: Mode }
  | {
    readonly _tag: "Ack"
    readonly client: number
    readonly room: number
    /** latest: the newest queued delivery; stale: the oldest one; duplicate: the newest, twice */
    readonly which: "latest" | "stale" | "duplicate"
  }
  | { readonly _tag: "Leave"; readonly client: number; readonly room: number }
  | {
    readonly _tag: "Reject"
    readonly client: number
    readonly room: number
    /** latest: the newest queued delivery; stale: the oldest one */
    readonly which: "latest" | "stale"
    /** the reason given to `reject` (null: none, the default "rejected") */
    readonly reason: string | null
  }
  | { readonly _tag: "Cut"; readonly client: number }
  | { readonly _tag: "Restore"; readonly client: number }
  | { readonly _tag: "Advance"; readonly millis: number }
  | DurableOp
  | AdminOp

/**
 * An operator's action on a room (S29, S30), through the `RoomAdmin` of the run's observer (a
 * client that is never cut); generated only with `operations: true`.
 */
export type AdminOp =
  /** end the membership of client `client`'s id in the room (S30) */
  | { readonly _tag: "Eject"; readonly client: number; readonly room: number }
  | { readonly _tag: "Pause"; readonly room: number }
  | { readonly _tag: "Resume"; readonly room: number }
  /** dead-letter the in-flight message for its holders and move on (S30) */
  | { readonly _tag: "Skip"; readonly room: number }
  /** drop the backlog (S30) */
  | { readonly _tag: "Purge"; readonly room: number }
  /**
   * queue a copy of a dead-lettered message (S29): the newest or the oldest letter of the room,
   * or, without letters, the room's newest message (which has none: nothing is queued)
   */
  | { readonly _tag: "Redrive"; readonly room: number; readonly which: "newest" | "oldest" }
  /** drop the room's dead letters (S29) */
  | { readonly _tag: "DropLetters"; readonly room: number }
/** What a fenced holder (an older process of a durable id, still running, S21) tries. */
export type FencedAction = "ack" | "send" | "subscribe" | "leave"

/**
 * The operations of durable clients (S21–S25), generated only with `durable: true`; `client` is
 * a durable client's index.
 */
export type DurableOp =
  /** the client's process dies (SIGKILL): it tells the server nothing more (S22) */
  | { readonly _tag: "Crash"; readonly client: number }
  /**
   * a new process claims the client's id (S21): a successor of a crashed or shut down one, or a
   * second holder while the current one still runs (which is then fenced); with `resubscribe` it
   * then subscribes to every room of the id's memberships, in their mode, as a restarted worker
   * does (S22: resumes); else later Subscribe operations may
   */
  | { readonly _tag: "Restart"; readonly client: number; readonly resubscribe: boolean }
  /** the client shuts down (SIGTERM: its scopes close by interruption): detaches or leaves, per its `onClose` (S24, S20) */
  | { readonly _tag: "Shutdown"; readonly client: number }
  /** the client's subscription to the room is interrupted: detached with `onClose: "detach"` (S24), else left (S6) */
  | { readonly _tag: "Interrupt"; readonly client: number; readonly room: number }
  /** the client's newest fenced holder, if one still runs, tries an operation: it must change nothing (S21) */
  | { readonly _tag: "Fenced"; readonly client: number; readonly room: number; readonly action: FencedAction }

/** A generated run: the clients' configuration and the operations. */
export interface Scenario {
  readonly clients: number
  readonly rooms: number
  readonly clientTimeoutMs: number
  readonly ackTimeoutMs: number | null
  /**
   * the `onClose` of each durable client: client `i` below its length is durable, with id `d<i>`
   * (S21–S25); absent without `durable`
   */
  readonly durable?: ReadonlyArray<OnClose> | undefined
  /**
   * every client's `maxDeliveries` (S28): a resumed membership that would receive a message for
   * one attempt more dead-letters it instead; absent or null: no bound
   */
  readonly maxDeliveries?: number | null | undefined
  readonly ops: ReadonlyArray<Op>
}

/** What a durable client does with its memberships when it closes (S24). */
export type OnClose = "leave" | "detach"

export interface ScenarioOptions {
  /** number of clients (default 2–4) */
  readonly clients?: { readonly min: number; readonly max: number }
  /** number of rooms (default 1–2) */
  readonly rooms?: { readonly min: number; readonly max: number }
  /** send priorities (default -2..2) */
  readonly priorities?: { readonly min: number; readonly max: number }
  /** length of the operation sequence (default 1–40) */
  readonly length?: { readonly min: number; readonly max: number }
  /** generate cut / restore of clients (default false) */
  readonly cuts?: boolean
  /** client timeouts to choose from, ms (default 1 s, 2 s, 3 s) */
  readonly clientTimeoutsMs?: ReadonlyArray<number>
  /** ack timeouts to choose from, ms; `null` = none (default none, 400 ms, 1 s, 1.6 s) */
  readonly ackTimeoutsMs?: ReadonlyArray<number | null>
  /** time advances, ms (default 1–3500) */
  readonly advanceMs?: { readonly min: number; readonly max: number }
  /** relative frequency of each operation (defaults in `defaultWeights`; Cut / Restore only with `cuts`) */
  readonly weights?: Partial<Record<Op["_tag"], number>>
  /**
   * Operations a cut client may still perform (default all of them); the others are dropped from
   * the generated sequence. E.g. `["Leave"]` for an engine whose operations on a cut connection
   * wait for their timeout instead of failing at once.
   */
  readonly whileCut?: ReadonlyArray<ClientOp["_tag"] | "Interrupt" | "Fenced">
  /**
   * durable clients and their operations (S21–S25, default false): one or two clients (at most
   * `maxDurable`, and one less than all) are durable; Crash, Restart, Shutdown, Interrupt and
   * Fenced are generated for them. Without it the generated sequences are exactly those of
   * earlier versions.
   */
  readonly durable?: boolean
  /** most durable clients (default 2) */
  readonly maxDurable?: number
  /** the `onClose` values to choose from (default detach, detach, leave) */
  readonly onClose?: ReadonlyArray<OnClose>
  /**
   * rejects and an operator's actions (S27–S30, default false): Reject, Eject, Pause, Resume,
   * Skip, Purge, Redrive and DropLetters are generated. Without it (and without `maxDeliveries`)
   * the generated sequences are exactly those of earlier versions.
   */
  readonly operations?: boolean
  /** the `maxDeliveries` values to choose from (S28; default: the clients have none) */
  readonly maxDeliveries?: ReadonlyArray<number | null>
}

/** The operations done by one client. */
export type ClientOp = Extract<
  Op,
  { readonly _tag: "Send" | "SendOutOfBand" | "Subscribe" | "Ack" | "Leave" | "Reject" }
>

/**
 * `ops` without the operations of cut clients that `whileCut` does not allow (a durable client's
 * Interrupt and its fenced holder's operations count as its operations; a cut reaches every
 * process of a durable id, a restart starts a connected one).
 */
export const dropWhileCut = (
  ops: ReadonlyArray<Op>,
  whileCut: ReadonlyArray<ClientOp["_tag"] | "Interrupt" | "Fenced">
): Array<Op> => {
  const cut = new Set<number>()
  /** durable clients whose newest fenced holder is cut */
  const fencedCut = new Set<number>()
  const allowed = new Set<Op["_tag"]>(whileCut)
  return ops.filter((op) => {
    switch (op._tag) {
      case "Cut":
        cut.add(op.client)
        fencedCut.add(op.client)
        return true
      case "Restore":
        cut.delete(op.client)
        fencedCut.delete(op.client)
        return true
      case "Restart":
        if (cut.has(op.client)) fencedCut.add(op.client)
        else fencedCut.delete(op.client)
        cut.delete(op.client)
        return true
      case "Crash": // the crash cuts every process of the id
        cut.add(op.client)
        fencedCut.add(op.client)
        return true
      case "Advance":
      case "Shutdown":
      // the operator's (the observer is never cut)
      case "Eject":
      case "Pause":
      case "Resume":
      case "Skip":
      case "Purge":
      case "Redrive":
      case "DropLetters":
        return true
      case "Fenced":
        return !fencedCut.has(op.client) || allowed.has(op._tag)
      default:
        return !cut.has(op.client) || allowed.has(op._tag)
    }
  })
}

/** Whether `op` is a Reject or an operator's action (S27–S30). */
export const isOperation = (op: Op): op is AdminOp | Extract<Op, { readonly _tag: "Reject" }> => {
  switch (op._tag) {
    case "Reject":
    case "Eject":
    case "Pause":
    case "Resume":
    case "Skip":
    case "Purge":
    case "Redrive":
    case "DropLetters":
      return true
    default:
      return false
  }
}

/** The name of room `index` in every run. */
export const roomName = (index: number): string => `room-${index}`

/** Default relative frequencies of the operations. */
export const defaultWeights: Record<Op["_tag"], number> = {
  Send: 6,
  SendOutOfBand: 1,
  Subscribe: 4,
  Ack: 7,
  Leave: 1,
  Advance: 2,
  Cut: 1,
  Restore: 1,
  Crash: 1,
  Restart: 2,
  Shutdown: 1,
  Interrupt: 1,
  Fenced: 1,
  Reject: 2,
  Eject: 1,
  Pause: 1,
  Resume: 1,
  Skip: 1,
  Purge: 1,
  Redrive: 1,
  DropLetters: 1
}

/**
 * Operations over `clients` clients and `rooms` rooms; the first `durable` clients are durable
 * (their operations only with `options.durable`).
 */
export const op = (
  clients: number,
  rooms: number,
  options: ScenarioOptions = {},
  durable = 0
): Arbitrary.Arbitrary<Op> => {
  const client = Gen.integer({ min: 0, max: clients - 1 })
  const room = Gen.integer({ min: 0, max: rooms - 1 })
  const priorities = options.priorities ?? { min: -2, max: 2 }
  const advance = options.advanceMs ?? { min: 1, max: 3500 }
  const w = { ...defaultWeights, ...options.weights }
  const arbs: Array<Gen.Weighted<Op>> = [
    {
      weight: w.Send,
      arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Send"), client, room, priority: Gen.integer(priorities) })
    },
    { weight: w.SendOutOfBand, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("SendOutOfBand"), client, room }) },
    {
      weight: w.Subscribe,
      arbitrary: Arbitrary.all({
        _tag: Arbitrary.Constant("Subscribe"),
        client,
        room,
        mode: Gen.constantFrom<Array<Mode>>("sync", "sync", "async")
      })
    },
    {
      weight: w.Ack,
      arbitrary: Arbitrary.all({
        _tag: Arbitrary.Constant("Ack"),
        client,
        room,
        which: Gen.constantFrom<Array<"latest" | "stale" | "duplicate">>(
          "latest",
          "latest",
          "latest",
          "stale",
          "duplicate"
        )
      })
    },
    { weight: w.Leave, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Leave"), client, room }) },
    {
      weight: w.Advance,
      arbitrary: Arbitrary.all({
        _tag: Arbitrary.Constant("Advance"),
        millis: Gen.oneof(
          { weight: 1, arbitrary: Gen.integer({ min: advance.min, max: Math.min(advance.max, 500) }) },
          { weight: 1, arbitrary: Gen.integer(advance) }
        )
      })
    }
  ]
  if (options.cuts === true) {
    arbs.push(
      { weight: w.Cut, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Cut"), client }) },
      { weight: w.Restore, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Restore"), client }) }
    )
  }
  if (options.durable === true && durable > 0) {
    const d = Gen.integer({ min: 0, max: durable - 1 })
    arbs.push(
      { weight: w.Crash, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Crash"), client: d }) },
      {
        weight: w.Restart,
        arbitrary: Arbitrary.all({
          _tag: Arbitrary.Constant("Restart"),
          client: d,
          resubscribe: Gen.constantFrom(true, true, false)
        })
      },
      { weight: w.Shutdown, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Shutdown"), client: d }) },
      { weight: w.Interrupt, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Interrupt"), client: d, room }) },
      {
        weight: w.Fenced,
        arbitrary: Arbitrary.all({
          _tag: Arbitrary.Constant("Fenced"),
          client: d,
          room,
          action: Gen.constantFrom<Array<FencedAction>>("ack", "send", "subscribe", "leave")
        })
      }
    )
  }
  if (options.operations === true) arbs.push(...adminOps(client, room, w))
  return Gen.oneof(...arbs)
}

/**
 * The `size` to check scenarios with: `it.effect.prop(name, [scenario(..)], f, { arbitrary: { runs,
 * size: scenarioSize } })`. A generated sequence is at most `size` operations long, and the runner
 * grows the size from 0 to this over the runs: at four times the longest sequence (`length.max`,
 * up to 50), all but the first fifth of the runs draw lengths over the whole range, as fast-check's
 * `size: "max"` did for the earlier tests. (The default size, 10, would cut every sequence to 10.)
 */
export const scenarioSize = 200

/** Scenarios: a configuration and a sequence of operations fitting it. */
export const scenario = (options: ScenarioOptions = {}): Arbitrary.Arbitrary<Scenario> => {
  const clients = options.clients ?? { min: 2, max: 4 }
  const rooms = options.rooms ?? { min: 1, max: 2 }
  const length = options.length ?? { min: 1, max: 40 }
  const base = Arbitrary.all({
    clients: Gen.integer(clients),
    rooms: Gen.integer(rooms),
    clientTimeoutMs: Gen.constantFrom(...(options.clientTimeoutsMs ?? [1000, 2000, 3000])),
    ackTimeoutMs: Gen.constantFrom(...(options.ackTimeoutsMs ?? [null, 400, 1000, 1600]))
  })
  // without `durable`, the same draws as before durable clients existed
  const configs: Arbitrary.Arbitrary<Omit<Scenario, "ops">> = options.durable === true
    ? Arbitrary.flatMap(base, (config) =>
      Arbitrary.map(
        Arbitrary.array(Gen.constantFrom<Array<OnClose>>(...(options.onClose ?? ["detach", "detach", "leave"])), {
          minLength: 1,
          // at least one ordinary client stays: somebody keeps housekeeping (expiry, S10, S23)
          maxLength: Math.max(1, Math.min(options.maxDurable ?? 2, config.clients - 1))
        }),
        (durable) => ({ ...config, durable })
      ))
    : base
  // without `maxDeliveries`, the same draws as before
  const choices = options.maxDeliveries
  const bounded: Arbitrary.Arbitrary<Omit<Scenario, "ops">> = choices === undefined
    ? configs
    : Arbitrary.flatMap(
      configs,
      (config) => Arbitrary.map(Gen.constantFrom(...choices), (maxDeliveries) => ({ ...config, maxDeliveries }))
    )
  return Arbitrary.flatMap(bounded, (config) =>
    Arbitrary.map(
      Arbitrary.array(op(config.clients, config.rooms, options, config.durable?.length ?? 0), {
        minLength: length.min,
        maxLength: length.max
      }),
      (ops): Scenario => ({
        ...config,
        ops: options.whileCut === undefined ? ops : dropWhileCut(ops, options.whileCut)
      })
    ))
}

/** Scenarios that open with every client subscribing (sync) to every room. */
export const subscribedFirst = (scenarios: Arbitrary.Arbitrary<Scenario>): Arbitrary.Arbitrary<Scenario> =>
  Arbitrary.map(scenarios, (scenario): Scenario => ({
    ...scenario,
    ops: [
      ...Array.from({ length: scenario.clients * scenario.rooms }, (_, i): Op => ({
        _tag: "Subscribe",
        client: i % scenario.clients,
        room: Math.floor(i / scenario.clients),
        mode: "sync"
      })),
      ...scenario.ops
    ]
  }))

/** The id of durable client `index` (S21). */
export const durableId = (index: number): string => `d${index}`

export { describeOp } from "./describeOp.js"

/**
 * The operations of a model-based scenario and their fast-check generator (DESIGN §5).
 *
 * `scenario(options)` generates operation sequences (send with a priority, sendOutOfBand,
 * subscribe sync/async, ack latest/stale/duplicate, leave, cut, restore, advance time) over a few
 * clients and rooms, plus the clients' `clientTimeout` / `ackTimeout`.
 */
import { FastCheck as fc } from "effect"

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
  | { readonly _tag: "Cut"; readonly client: number }
  | { readonly _tag: "Restore"; readonly client: number }
  | { readonly _tag: "Advance"; readonly millis: number }

/** A generated run: the clients' configuration and the operations. */
export interface Scenario {
  readonly clients: number
  readonly rooms: number
  readonly clientTimeoutMs: number
  readonly ackTimeoutMs: number | null
  readonly ops: ReadonlyArray<Op>
}

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
  readonly whileCut?: ReadonlyArray<ClientOp["_tag"]>
}

/** The operations done by one client. */
export type ClientOp = Extract<Op, { readonly _tag: "Send" | "SendOutOfBand" | "Subscribe" | "Ack" | "Leave" }>

/** `ops` without the operations of cut clients that `whileCut` does not allow. */
export const dropWhileCut = (ops: ReadonlyArray<Op>, whileCut: ReadonlyArray<ClientOp["_tag"]>): Array<Op> => {
  const cut = new Set<number>()
  const allowed = new Set<Op["_tag"]>(whileCut)
  return ops.filter((op) => {
    switch (op._tag) {
      case "Cut":
        cut.add(op.client)
        return true
      case "Restore":
        cut.delete(op.client)
        return true
      case "Advance":
        return true
      default:
        return !cut.has(op.client) || allowed.has(op._tag)
    }
  })
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
  Restore: 1
}

/** Operations over `clients` clients and `rooms` rooms. */
export const op = (clients: number, rooms: number, options: ScenarioOptions = {}): fc.Arbitrary<Op> => {
  const client = fc.integer({ min: 0, max: clients - 1 })
  const room = fc.integer({ min: 0, max: rooms - 1 })
  const priorities = options.priorities ?? { min: -2, max: 2 }
  const advance = options.advanceMs ?? { min: 1, max: 3500 }
  const w = { ...defaultWeights, ...options.weights }
  const arbs: Array<fc.WeightedArbitrary<Op>> = [
    {
      weight: w.Send,
      arbitrary: fc.record({ _tag: fc.constant("Send" as const), client, room, priority: fc.integer(priorities) })
    },
    { weight: w.SendOutOfBand, arbitrary: fc.record({ _tag: fc.constant("SendOutOfBand" as const), client, room }) },
    {
      weight: w.Subscribe,
      arbitrary: fc.record({
        _tag: fc.constant("Subscribe" as const),
        client,
        room,
        mode: fc.constantFrom<Array<Mode>>("sync", "sync", "async")
      })
    },
    {
      weight: w.Ack,
      arbitrary: fc.record({
        _tag: fc.constant("Ack" as const),
        client,
        room,
        which: fc.constantFrom<Array<"latest" | "stale" | "duplicate">>(
          "latest",
          "latest",
          "latest",
          "stale",
          "duplicate"
        )
      })
    },
    { weight: w.Leave, arbitrary: fc.record({ _tag: fc.constant("Leave" as const), client, room }) },
    {
      weight: w.Advance,
      arbitrary: fc.record({
        _tag: fc.constant("Advance" as const),
        millis: fc.oneof(fc.integer({ min: advance.min, max: Math.min(advance.max, 500) }), fc.integer(advance))
      })
    }
  ]
  if (options.cuts === true) {
    arbs.push(
      { weight: w.Cut, arbitrary: fc.record({ _tag: fc.constant("Cut" as const), client }) },
      { weight: w.Restore, arbitrary: fc.record({ _tag: fc.constant("Restore" as const), client }) }
    )
  }
  return fc.oneof(...arbs)
}

/** Scenarios: a configuration and a sequence of operations fitting it. */
export const scenario = (options: ScenarioOptions = {}): fc.Arbitrary<Scenario> => {
  const clients = options.clients ?? { min: 2, max: 4 }
  const rooms = options.rooms ?? { min: 1, max: 2 }
  const length = options.length ?? { min: 1, max: 40 }
  return fc.record({
    clients: fc.integer(clients),
    rooms: fc.integer(rooms),
    clientTimeoutMs: fc.constantFrom(...(options.clientTimeoutsMs ?? [1000, 2000, 3000])),
    ackTimeoutMs: fc.constantFrom(...(options.ackTimeoutsMs ?? [null, 400, 1000, 1600]))
  }).chain((config) =>
    fc.array(op(config.clients, config.rooms, options), { minLength: length.min, maxLength: length.max, size: "max" })
      .map((ops): Scenario => ({
        ...config,
        ops: options.whileCut === undefined ? ops : dropWhileCut(ops, options.whileCut)
      }))
  )
}

/** `op` for the step trace of a failed run. */
export const describeOp = (op: Op): string => {
  switch (op._tag) {
    case "Send":
      return `Send(c${op.client}, r${op.room}, priority ${op.priority})`
    case "SendOutOfBand":
      return `SendOutOfBand(c${op.client}, r${op.room})`
    case "Subscribe":
      return `Subscribe(c${op.client}, r${op.room}, ${op.mode})`
    case "Ack":
      return `Ack(c${op.client}, r${op.room}, ${op.which})`
    case "Leave":
      return `Leave(c${op.client}, r${op.room})`
    case "Cut":
      return `Cut(c${op.client})`
    case "Restore":
      return `Restore(c${op.client})`
    case "Advance":
      return `Advance(${op.millis} ms)`
  }
}

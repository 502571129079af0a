/**
 * Model-based testing of `SyncFanoutQueue` engines (DESIGN §5), reusable across engines.
 *
 * - `scenario(options)`: a fast-check generator of operation sequences (send with a priority,
 *   sendOutOfBand, subscribe sync/async, ack latest/stale/duplicate, leave, cut, restore, advance
 *   time) over a few clients and rooms, plus the clients' `clientTimeout` / `ackTimeout`.
 * - `runScenario(engine, scenario)`: runs one sequence against an `Engine` (a client factory on one
 *   shared server, cut / restore, a way to let time pass and background work settle) through the
 *   public `SyncFanoutQueue` API only, and after EVERY step checks what the engine did against a
 *   small model of each room: queue, members, in-flight message, holders, acked.
 *
 * Every subscription lives in its own `Scope` (closing it = leave) and is drained by a forked
 * fiber into a log. An extra "observer" client (never cut, never subscribed, never housekeeping)
 * reads `roomState` and `peek` after each step.
 *
 * The model is exact for everything the operations determine (S2–S9, S12–S14). What depends on
 * timers (ack deadlines S11, keepalive expiry S10) is read from the engine (a member missing from
 * `roomState`, a stream failing with `ClientEjected`) and accepted only when the model says it may
 * have happened by now; a holder still not ejected one housekeeping period after its deadline is an
 * error. A client cut long enough to be expired makes its subscriptions "uncertain": what they
 * receive may then be any subsequence of the room's traffic, but I1 and I3 still hold for them.
 *
 * Checked after every step:
 * - I1 (S3) a sync subscription never receives a queued message while it has not acked the previous one;
 * - I2 (S3, S5, S7–S9, S12) every live subscription receives exactly what the model releases /
 *   publishes while it is a connected listener, in order, each once: nothing while its client is cut,
 *   the in-flight message again after a restore if it holds it and never saw it, nothing a joiner
 *   finds in flight;
 * - I3 (S2) release order: a queued message never comes after one that was queued with it and has
 *   a larger (priority, send order);
 * - I4 (S9, S13, S14) `peek` is exactly the model queue (never an out-of-band message), `roomState`
 *   matches backlog, sync members, acked members, in-flight id and release time;
 * - I5 (S10, S11) every ejection is explained; an ejected member is gone from `roomState` and its
 *   stream failed with `ClientEjected` and the right reason (a cut client learns it when it is back);
 *   no ack deadline stays overdue;
 * - I6 (S4) stale and duplicate acks change nothing: they are ordinary steps, compared like the rest.
 *
 * At the end every client is restored, time runs past the client timeout and the live sync
 * subscriptions ack until the rooms drain: no member may be left without a live subscription (it
 * would hold the room forever, S6, S10), no live subscription may have silently lost its
 * membership (S10, S11), and no message may be left queued.
 */
import type { ClientEjected, DeliveryType, SyncFanoutQueue } from "@lockstep/core"
import { QueueConfig } from "@lockstep/core"
import { Cause, Duration, Effect, Either, Exit, Option, Scope, Stream } from "effect"
import type { Mode, Op, Scenario } from "./model/ops.js"
import { describeOp, roomName } from "./model/ops.js"
import * as RoomModel from "./model/roomModel.js"

export { ManualClock } from "./model/clock.js"
export {
  type ClientOp,
  defaultWeights,
  dropWhileCut,
  type Op,
  op,
  roomName,
  type Scenario,
  scenario,
  type ScenarioOptions
} from "./model/ops.js"

type EjectReason = RoomModel.EjectReason
type Msg = RoomModel.Msg
type Room = RoomModel.Room<Sub>
type Queue = SyncFanoutQueue.SyncFanoutQueue["Type"]

// ---------------------------------------------------------------------------------------------
// The engine under test
// ---------------------------------------------------------------------------------------------

/** What `runScenario` needs from an engine. Every client of one run shares one engine ("server"). */
export interface Engine {
  /** A new client in the current scope. `config.keyPrefix` may be replaced by a per-run prefix. */
  readonly client: (config: QueueConfig.QueueConfig) => Effect.Effect<Queue, never, Scope.Scope>
  /** Cut the client's connection: its operations fail, frames to it are lost (S10, S12). */
  readonly cut: (clientId: string) => Effect.Effect<void>
  /** Heal the cut (the client resyncs, S12). */
  readonly restore: (clientId: string) => Effect.Effect<void>
  /** Let `millis` of time pass (TestClock.adjust, or a real sleep). */
  readonly advance: (millis: number) => Effect.Effect<void>
  /**
   * Let background work catch up: afterwards every delivery the server made has reached its
   * subscription's consumer, and reconnect resyncs are done. Must be deterministic for TestClock.
   */
  readonly settle: Effect.Effect<void>
  /** The current time in ms, on the clients' clock. */
  readonly now: Effect.Effect<number>
  /** Tolerance of timing checks in ms (0 with TestClock). */
  readonly slackMs: number
  /** Whether `roomState(..).inFlight.releasedAt` is on the clients' clock (memory engine: yes). */
  readonly sameClock: boolean
  /**
   * Optional white-box view: the ids of every member of `room`, sync and async (`roomState` lists
   * only sync members). Lets the model check async membership exactly.
   */
  readonly members?: ((room: string) => Effect.Effect<ReadonlyArray<string>>) | undefined
  /**
   * The errors an operation of a cut client may fail with (default `["RedisError"]`: it fails at
   * once). A real connection may instead wait for its deadline (`OperationTimeout`).
   */
  readonly cutFailures?: ReadonlyArray<string> | undefined
}

/** A failed check: what went wrong, at which step, and the steps that led there. */
export class ModelViolation extends Error {
  override readonly name = "ModelViolation"
}

// ---------------------------------------------------------------------------------------------
// Model state
// ---------------------------------------------------------------------------------------------

interface Expected {
  readonly id: string
  readonly optional: boolean
}

interface Sub {
  readonly no: number
  readonly client: number
  readonly room: number
  readonly mode: Mode
  readonly scope: Scope.CloseableScope
  /** filled by the consumer fiber */
  readonly log: Array<DeliveryType>
  /** the step after which each delivery of `log` was observed */
  readonly steps: Array<number>
  exit: Exit.Exit<void, ClientEjected> | null
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
  mustEject: ReadonlyArray<EjectReason> | null
  /** the server ejected it while its client was cut (notice lost): it may learn it later, for one of these */
  lateEject: ReadonlyArray<EjectReason>
  /** last queued id delivered (mirror of the client's resync guard, S12) */
  lastQueued: string | null
  /** last queued id the consumer acked, successfully or not (the client repeats a lost one, S12) */
  lastAcked: string | null
  /** sync: queued id delivered and not yet acked by this client (I1) */
  unacked: string | null
  readonly seen: Set<string>
  prevQueued: Msg | null
}

interface Client extends RoomModel.Connection {
  readonly index: number
  readonly queue: Queue
  readonly id: string
}

const errorTag = (cause: Cause.Cause<unknown>): string =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => `defect: ${Cause.pretty(cause)}`,
    onSome: (e) => (typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e))
  })

const sameSet = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && [...a].sort().join(",") === [...b].sort().join(",")

// ---------------------------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------------------------

/** Options of one run. */
export interface RunOptions {
  /** key prefix for the clients (default "model") */
  readonly keyPrefix?: string
  /** run the final liveness phase (default true) */
  readonly drain?: boolean
  /**
   * Time the liveness phase lets pass before acking, ms (default clientTimeout + 2 keepalive
   * intervals + one housekeeping interval, so every timer has run out). A real-time engine whose
   * scenarios need no timer (no ack deadline, no client expiry within the run) may pass 0.
   */
  readonly drainAdvanceMs?: number
}

/**
 * One delivery as the consumer saw it, in engine-independent terms (no ids: client ids are random),
 * for comparing engines run on the same scenario.
 */
export interface DeliveryRecord {
  /** the step after which it was observed (steps past `ops.length` are the liveness phase) */
  readonly step: number
  /** the subscription that received it (numbered in the order they were opened) */
  readonly subscription: number
  readonly room: number
  readonly mode: Mode
  readonly kind: "queued" | "out-of-band"
  /** the payload's number (`{ n }`: the n-th send of the run) */
  readonly n: number
  /** index of the producing client (-1: not a client of the scenario) */
  readonly producer: number
  readonly priority: number
}

/** What a run observed, per client, in engine-independent terms. */
export interface ScenarioLog {
  /** per client index: its deliveries, by step, then subscription, then arrival */
  readonly deliveries: ReadonlyArray<ReadonlyArray<DeliveryRecord>>
  /** every subscription and how it ended by the end of the run: open, closed or ejected (reason) */
  readonly subscriptions: ReadonlyArray<{
    readonly no: number
    readonly client: number
    readonly room: number
    readonly mode: Mode
    readonly end: "open" | "closed" | `ejected: ${string}`
  }>
}

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
    const resolved = Either.getOrThrow(QueueConfig.validate({
      keyPrefix,
      clientTimeout: Duration.millis(T),
      ...(A === null ? {} : { ackTimeout: Duration.millis(A) })
    }))
    const K = Duration.toMillis(resolved.keepaliveInterval)
    const H = Duration.toMillis(resolved.housekeepingInterval)
    const slack = engine.slackMs
    const timing: RoomModel.Timing = {
      clientTimeoutMs: T,
      keepaliveMs: K,
      housekeepingMs: H,
      ackTimeoutMs: A,
      slackMs: slack
    }
    const runScope = yield* Effect.scope

    const trace: Array<string> = []
    let step = 0
    const fail = (what: string): never => {
      const recent = trace.slice(-40).join("\n    ")
      const where = step > scenario.ops.length ? `end phase step ${step - scenario.ops.length}` : `step ${step}`
      throw new ModelViolation(
        `${what}\n  at ${where} of ${scenario.ops.length} (clients ${scenario.clients}, rooms ${scenario.rooms}, ` +
          `clientTimeout ${T} ms, keepalive ${K} ms, housekeeping ${H} ms, ackTimeout ${
            A ?? "none"
          })\n  steps:\n    ${recent}`
      )
    }

    // ---- engine setup: the observer never subscribes, is never cut and never housekeeps
    const observer = yield* engine.client({
      keyPrefix,
      clientTimeout: Duration.hours(1),
      housekeepingInterval: Duration.hours(1)
    })
    const clients: Array<Client> = []
    for (let i = 0; i < scenario.clients; i++) {
      const queue = yield* engine.client({
        keyPrefix,
        clientTimeout: Duration.millis(T),
        ...(A === null ? {} : { ackTimeout: Duration.millis(A) })
      })
      const t = yield* engine.now
      clients.push({ index: i, queue, id: queue.clientId, cut: false, uncutSince: t, heardLowerBound: t })
    }
    const byId = new Map(clients.map((c) => [c.id, c]))
    const rooms: Array<Room> = []
    for (let i = 0; i < scenario.rooms; i++) {
      rooms.push({ index: i, name: roomName(i), queue: [], members: new Map(), inFlight: null, arrivals: 0 })
    }
    const subs: Array<Sub> = []
    const messages = new Map<string, Msg>()
    let payloads = 0

    // ---- model transitions

    /** Deliver (expect) `msg` to every live subscription of the room whose client is connected. */
    const publish = (room: Room, msg: Msg, optional: boolean) => {
      for (const sub of subs) {
        if (sub.room !== room.index || !sub.live || clients[sub.client]!.cut) continue
        sub.expected.push({ id: msg.id, optional: optional || sub.uncertain })
      }
    }

    /** Expect the messages the model released. */
    const published = (room: Room, released: ReadonlyArray<Msg>) => {
      for (const msg of released) publish(room, msg, false)
    }

    /** The server removed `client` from `room` (leave or ejection). */
    const removeMember = (room: Room, client: number, lo: number, hi: number) =>
      published(room, RoomModel.removeMember(room, client, lo, hi, step))

    /** May the client have been expired by now (S10)? */
    const mayBeExpired = (c: Client, now: number) => RoomModel.mayBeExpired(c, now, timing)

    const liveSub = (client: number, room: number) =>
      subs.find((s) => s.client === client && s.room === room && s.live) ?? null

    // ---- observation and checks

    /** I2: `d` is the next delivery the model expects (optional ones may be missing). */
    const expectNext = (sub: Sub, d: DeliveryType, msg: Msg, where: string) => {
      let i = 0
      while (i < sub.expected.length && sub.expected[i]!.id !== d.id && sub.expected[i]!.optional) i++
      if (i >= sub.expected.length || sub.expected[i]!.id !== d.id) {
        const next = sub.expected.find((e) => !e.optional)
        return fail(
          `${where} received ${msg.kind} ${d.id} unexpectedly (I2); expected ${
            next === undefined ? "nothing" : next.id
          }; pending: ${JSON.stringify(sub.expected)}`
        )
      }
      sub.expected.splice(0, i + 1)
    }

    const checkDelivery = (sub: Sub, d: DeliveryType) => {
      const room = rooms[sub.room]!
      const where = `subscription #${sub.no} (c${sub.client} ${sub.mode} on ${room.name})`
      const msg = messages.get(d.id)
      if (msg === undefined) return fail(`${where} received unknown message ${d.id}`)
      if (d.room !== room.name || msg.room !== sub.room) return fail(`${where} received ${d.id} of another room`)
      if (d.kind !== msg.kind) return fail(`${where} received ${d.id} as ${d.kind}, sent as ${msg.kind}`)
      if (msg.kind === "queued" && d.priority !== msg.priority) {
        return fail(`${where} received ${d.id} with priority ${d.priority}, sent with ${msg.priority}`)
      }
      const data = d.data as { readonly n?: unknown } | null
      if (data === null || typeof data !== "object" || data.n !== msg.n) {
        return fail(`${where} received ${d.id} with data ${JSON.stringify(d.data)}, sent {"n":${msg.n}}`)
      }
      if (sub.seen.has(d.id)) return fail(`${where} received ${d.id} twice (I2)`)
      sub.seen.add(d.id)
      if (sub.uncertain) {
        // I2 weakened: some message of this room that the model released or published
        if (msg.releaseStep === null) return fail(`${where} received ${d.id} before the model released it (I2)`)
        sub.expected.length = 0
      } else {
        expectNext(sub, d, msg, where)
      }
      if (msg.kind !== "queued") return
      // I3: release order among messages queued together
      const prev = sub.prevQueued
      if (prev !== null && prev.releaseStep !== null && msg.sendStep <= prev.releaseStep) {
        if (msg.priority < prev.priority || (msg.priority === prev.priority && msg.order < prev.order)) {
          fail(
            `${where}: ${msg.id} (priority ${msg.priority}, #${msg.order}) was queued when ${prev.id} (priority ${prev.priority}, #${prev.order}) was released, but came after it (I3)`
          )
        }
      }
      sub.prevQueued = msg
      if (sub.mode === "sync") {
        // I1
        if (sub.unacked !== null) {
          fail(`${where} received ${d.id} while ${sub.unacked} is not acked: it holds two unacked messages (I1, S3)`)
        }
        sub.unacked = d.id
        sub.lastQueued = d.id
      }
    }

    interface Observed {
      readonly backlog: number
      readonly members: ReadonlyArray<string>
      readonly acked: ReadonlyArray<string>
      readonly inFlight: { readonly id: string; readonly releasedAt: number } | null
      readonly peek: ReadonlyArray<string>
      /** every member (sync and async), when the engine offers the white-box view */
      readonly all: ReadonlyArray<string> | null
    }

    const observeRoom = (room: Room) =>
      Effect.gen(function*() {
        const state = yield* observer.roomState(room.name)
        const peek = yield* observer.peek(room.name, { limit: 10_000 })
        const observed: Observed = {
          backlog: state.backlog,
          members: state.members,
          acked: state.acked,
          inFlight: Option.match(state.inFlight, {
            onNone: () => null,
            onSome: (f) => ({ id: f.id as string, releasedAt: f.releasedAt.getTime() })
          }),
          peek: peek.map((m) => m.id as string),
          all: engine.members === undefined ? null : yield* engine.members(room.name)
        }
        return observed
      }).pipe(Effect.orDieWith((e) => new ModelViolation(`observer failed: ${e.message}`)))

    /**
     * After a step: settle, explain ejections, check every delivery and the rooms. `stepStart` is
     * the time the step began (timers may have fired in between).
     */
    const observe = (stepStart: number) =>
      Effect.gen(function*() {
        yield* engine.settle
        const now = yield* engine.now
        // danger: a client that may have been expired makes its subscriptions uncertain
        for (const c of clients) {
          if (!mayBeExpired(c, now)) continue
          for (const sub of subs) if (sub.client === c.index && sub.live) sub.uncertain = true
          for (const room of rooms) {
            const m = room.members.get(c.index)
            if (m !== undefined) m.uncertain = true
          }
        }
        const observed: Array<Observed> = []
        for (const room of rooms) observed.push(yield* observeRoom(room))

        // I5: explain ejections, to a fixpoint (one ejection may release a message whose deadline
        // passes within the same step)
        const ejectedStreams = subs.filter((s) => !s.exitChecked && s.exit !== null && Exit.isFailure(s.exit) && s.live)
        let progress = true
        while (progress) {
          progress = false
          for (const room of rooms) {
            const o = observed[room.index]!
            for (const [c, m] of [...room.members]) {
              const id = clients[c]!.id
              if (o.all !== null ? o.all.includes(id) : (m.mode !== "sync" || o.members.includes(id))) continue
              const reasons = RoomModel.ejectionReasons(room, c, clients[c]!, now, timing)
              // a membership left behind while the client was cut may be cleaned up once it is back
              const deferredLeave = !m.sub.live && m.sub.leftUnreachable && !clients[c]!.cut
              if (reasons.length === 0 && !deferredLeave) continue
              progress = true
              const sub = m.sub
              if (sub.live) {
                if (clients[c]!.cut) {
                  // the ejection notice is lost: the subscription lives on without membership
                  sub.uncertain = true
                  sub.lateEject = reasons
                } else {
                  sub.mustEject = reasons
                }
              }
              removeMember(room, c, stepStart, now)
            }
          }
          for (const sub of ejectedStreams) {
            if (sub.exitChecked || sub.exit === null || !Exit.isFailure(sub.exit)) continue
            const err = Cause.failureOption(sub.exit.cause)
            if (Option.isNone(err)) {
              return fail(`subscription #${sub.no} (c${sub.client}) died: ${Cause.pretty(sub.exit.cause)}`)
            }
            const reason = err.value.reason
            if (sub.mustEject !== null) {
              if (!sub.mustEject.includes(reason)) {
                return fail(`subscription #${sub.no} (c${sub.client}) ejected for ${reason}, expected ${sub.mustEject}`)
              }
            } else if (sub.lateEject.includes(reason)) {
              // the client learnt about an ejection it missed while cut
            } else if (reason === "keepalive-timeout" && (sub.uncertain || mayBeExpired(clients[sub.client]!, now))) {
              // S10: the client lost the server for clientTimeout and failed its own streams; the
              // server may still count it as a member until it expires it
              const m = rooms[sub.room]!.members.get(sub.client)
              if (m !== undefined && m.sub === sub) m.uncertain = true
              sub.leftUnreachable = true
            } else {
              continue // not explained yet: maybe after another removal
            }
            sub.exitChecked = true
            sub.live = false
            progress = true
          }
        }
        for (const sub of ejectedStreams) {
          if (sub.exitChecked || sub.exit === null || Exit.isSuccess(sub.exit)) continue
          const reason = Option.match(Cause.failureOption(sub.exit.cause), {
            onNone: () => "?",
            onSome: (e) => e.reason
          })
          fail(
            `subscription #${sub.no} (c${sub.client} ${sub.mode} on room-${sub.room}) failed with ClientEjected(${reason}) but the model sees no reason for it (I5)`
          )
        }

        // I1, I2, I3: deliveries
        for (const sub of subs) {
          while (sub.checked < sub.log.length) {
            checkDelivery(sub, sub.log[sub.checked]!)
            sub.steps.push(step)
            sub.checked++
          }
          if (sub.mustEject !== null && !sub.exitChecked) {
            return fail(
              `subscription #${sub.no} (c${sub.client} ${sub.mode} on room-${sub.room}) was ejected by the server (${sub.mustEject}) but its stream did not fail with ClientEjected (I5)`
            )
          }
          if (sub.exit !== null && Exit.isSuccess(sub.exit) && !sub.scopeClosed) {
            return fail(`subscription #${sub.no} (c${sub.client}) ended without being closed or ejected`)
          }
          if (!sub.live) sub.expected.length = 0
          else if (!clients[sub.client]!.cut) {
            const missing = sub.expected.find((e) => !e.optional)
            if (missing !== undefined) {
              return fail(
                `subscription #${sub.no} (c${sub.client} ${sub.mode} on room-${sub.room}) did not receive ${missing.id} (I2); log: ${
                  sub.log.map((d) => d.id).join(", ")
                }`
              )
            }
          }
        }

        // I4: rooms
        for (const room of rooms) {
          const o = observed[room.index]!
          const label = `${room.name}:`
          const modelQueue = room.queue.map((m) => m.id)
          if (o.peek.join(",") !== modelQueue.join(",")) {
            return fail(`${label} peek shows [${o.peek}], model queue is [${modelQueue}] (I4, S13)`)
          }
          for (const id of o.peek) {
            if (messages.get(id)?.kind === "out-of-band") fail(`${label} out-of-band ${id} is queued (S9)`)
          }
          if (o.backlog !== room.queue.length) {
            return fail(`${label} backlog ${o.backlog}, model ${room.queue.length} (I4, S14)`)
          }
          const names = (ids: ReadonlyArray<string>) => ids.map((id) => `c${byId.get(id)?.index ?? id}`).join(" ")
          const syncMembers = [...room.members].filter(([, m]) => m.mode === "sync").map(([c]) => clients[c]!.id)
          if (!sameSet(o.members, syncMembers)) {
            return fail(`${label} sync members [${names(o.members)}], model [${names(syncMembers)}] (I4, I5)`)
          }
          if (o.all !== null) {
            const all = [...room.members.keys()].map((c) => clients[c]!.id)
            if (!sameSet(o.all, all)) return fail(`${label} members [${names(o.all)}], model [${names(all)}] (I5)`)
            for (const m of room.members.values()) m.uncertain = false
          }
          const f = room.inFlight
          if ((o.inFlight?.id ?? null) !== (f?.msg.id ?? null)) {
            return fail(`${label} in flight ${o.inFlight?.id ?? "none"}, model ${f?.msg.id ?? "none"} (I4, S3)`)
          }
          if (f !== null && o.inFlight !== null) {
            const acked = [...f.acked].filter((c) => room.members.has(c)).map((c) => clients[c]!.id)
            if (!sameSet(o.acked, acked)) return fail(`${label} acked [${o.acked}], model [${acked}] (I4, S4)`)
            if (engine.sameClock) {
              const at = o.inFlight.releasedAt
              if (at < f.lo - slack || at > f.hi + slack) {
                return fail(`${label} ${f.msg.id} released at ${at}, model says within [${f.lo}, ${f.hi}]`)
              }
              f.lo = at
              f.hi = at
            }
            // I5 (S11): an overdue deadline of a holder, while some client housekeeps all along
            if (A !== null) {
              const housekeeper = clients.some((c) => !c.cut && c.uncutSince <= f.hi)
              if (housekeeper && f.holders.size > 0 && now - f.hi >= A + H + slack) {
                return fail(
                  `${label} ${f.msg.id} released at ${f.hi}, now ${now}: holders ${
                    [...f.holders].map((c) => `c${c}`).join(" ")
                  } still not ejected after ackTimeout (I5, S11)`
                )
              }
            }
          }
          if (room.queue.length > 0 && (f === null || f.holders.size === 0)) {
            return fail(`${label} model inconsistency: queue without a held in-flight message`)
          }
        }
      })

    // ---- operations

    const roomOf = (i: number) => rooms[i]!
    const cutFailures = engine.cutFailures ?? ["RedisError"]
    const expectFailure = (what: string, exit: Exit.Exit<unknown, unknown>, tag: string | ReadonlyArray<string>) => {
      const tags = typeof tag === "string" ? [tag] : tag
      if (Exit.isSuccess(exit)) return fail(`${what} succeeded, expected ${tags.join(" or ")}`)
      const got = errorTag(exit.cause)
      if (!tags.includes(got)) fail(`${what} failed with ${got}, expected ${tags.join(" or ")}`)
    }
    const expectSuccess = (what: string, exit: Exit.Exit<unknown, unknown>) => {
      if (Exit.isFailure(exit)) fail(`${what} failed: ${errorTag(exit.cause)}`)
    }

    const doAck = (c: Client, sub: Sub, d: DeliveryType, what: string) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(d.ack)
        const blocking = d.kind === "queued" && sub.mode === "sync"
        if (!blocking) return expectSuccess(what, exit)
        sub.lastAcked = d.id
        // an ack does not wait for the server: while cut it succeeds and is lost in transit; the
        // client repeats it once the connection is back (see Restore)
        expectSuccess(what, exit)
        if (c.cut) return
        if (sub.unacked === d.id) sub.unacked = null
        const room = roomOf(sub.room)
        const now = yield* engine.now
        published(room, RoomModel.ack(room, c.index, d.id, now, step))
      })

    const run = (op: Op) =>
      Effect.gen(function*() {
        const now = yield* engine.now
        switch (op._tag) {
          case "Send": {
            const c = clients[op.client]!
            const room = roomOf(op.room)
            const n = ++payloads
            const exit = yield* Effect.exit(c.queue.send(room.name, { n }, { priority: op.priority }))
            if (c.cut) {
              trace.push(`#${step} ${describeOp(op)} -> ${Exit.isFailure(exit) ? errorTag(exit.cause) : "succeeded"}`)
              return expectFailure("send", exit, cutFailures)
            }
            if (Exit.isFailure(exit)) return fail(`send failed: ${errorTag(exit.cause)}`)
            const msg = RoomModel.queuedMessage(room, exit.value, n, op.priority, step)
            if (messages.has(msg.id)) return fail(`message id ${msg.id} reused (S7)`)
            messages.set(msg.id, msg)
            published(room, RoomModel.send(room, msg, now, step))
            trace.push(`#${step} ${describeOp(op)} -> ${msg.id} n=${n}`)
            return
          }
          case "SendOutOfBand": {
            const c = clients[op.client]!
            const room = roomOf(op.room)
            const n = ++payloads
            const exit = yield* Effect.exit(c.queue.sendOutOfBand(room.name, { n }))
            if (c.cut) {
              trace.push(`#${step} ${describeOp(op)} -> ${Exit.isFailure(exit) ? errorTag(exit.cause) : "succeeded"}`)
              return expectFailure("sendOutOfBand", exit, cutFailures)
            }
            if (Exit.isFailure(exit)) return fail(`sendOutOfBand failed: ${errorTag(exit.cause)}`)
            const msg = RoomModel.outOfBandMessage(room, exit.value, n, step)
            if (messages.has(msg.id)) return fail(`message id ${msg.id} reused (S7)`)
            messages.set(msg.id, msg)
            const members = [...room.members.values()]
            // S9: delivered at once to current subscribers (the memory engine, like Redis, only
            // publishes to rooms with members)
            if (members.some((m) => !m.uncertain)) publish(room, msg, false)
            else if (members.length > 0) publish(room, msg, true)
            trace.push(`#${step} ${describeOp(op)} -> ${msg.id} n=${n}`)
            return
          }
          case "Subscribe": {
            const c = clients[op.client]!
            const room = roomOf(op.room)
            const existing = liveSub(op.client, op.room)
            const scope = yield* Scope.make()
            const exit = yield* Effect.exit(Scope.extend(c.queue.subscribe(room.name, { mode: op.mode }), scope))
            if (Exit.isFailure(exit)) yield* Scope.close(scope, Exit.void)
            if (existing !== null) {
              trace.push(`#${step} ${describeOp(op)} -> AlreadySubscribed`)
              return expectFailure("subscribe", exit, "AlreadySubscribed")
            }
            if (c.cut) {
              trace.push(`#${step} ${describeOp(op)} -> ${Exit.isFailure(exit) ? errorTag(exit.cause) : "succeeded"}`)
              return expectFailure("subscribe", exit, cutFailures)
            }
            if (Exit.isFailure(exit)) return fail(`subscribe failed: ${errorTag(exit.cause)}`)
            // a membership left behind by an unconfirmed leave is left first (it may hold the in-flight message)
            const lingering = room.members.get(op.client)
            if (lingering !== undefined && !lingering.sub.live) removeMember(room, op.client, now, now)
            const sub: Sub = {
              no: subs.length,
              client: op.client,
              room: op.room,
              mode: op.mode,
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
              lastQueued: null,
              lastAcked: null,
              unacked: null,
              seen: new Set(),
              prevQueued: null
            }
            subs.push(sub)
            yield* exit.value.pipe(
              Stream.runForEach((d) => Effect.sync(() => sub.log.push(d))),
              Effect.exit,
              Effect.flatMap((e) => Effect.sync(() => sub.exit = e)),
              Effect.forkIn(runScope)
            )
            // S5: a joiner does not hold or receive the in-flight message
            RoomModel.join(room, op.client, op.mode, sub)
            trace.push(`#${step} ${describeOp(op)} -> subscription #${sub.no}`)
            return
          }
          case "Ack": {
            const c = clients[op.client]!
            const mine = subs.filter((s) => s.client === op.client && s.room === op.room)
            const all = mine.flatMap((s) => s.log.filter((d) => d.kind === "queued").map((d) => ({ sub: s, d })))
            const newest = [...mine].reverse().find((s) => s.log.some((d) => d.kind === "queued"))
            const latest = newest === undefined
              ? undefined
              : { sub: newest, d: newest.log.filter((d) => d.kind === "queued").at(-1)! }
            const target = op.which === "stale" ? all[0] : latest
            if (target === undefined) {
              trace.push(`#${step} ${describeOp(op)} -> nothing to ack`)
              return
            }
            trace.push(`#${step} ${describeOp(op)} -> ${target.d.id} (subscription #${target.sub.no})`)
            yield* doAck(c, target.sub, target.d, "ack")
            if (op.which === "duplicate") yield* doAck(c, target.sub, target.d, "duplicate ack")
            return
          }
          case "Leave": {
            const c = clients[op.client]!
            const room = roomOf(op.room)
            const open = subs.filter((s) => s.client === op.client && s.room === op.room && !s.scopeClosed)
            trace.push(`#${step} ${describeOp(op)} -> closes ${open.map((s) => `#${s.no}`).join(" ") || "nothing"}`)
            for (const sub of open) {
              yield* Scope.close(sub.scope, Exit.void)
              sub.scopeClosed = true
              if (!sub.live) continue
              sub.live = false
              sub.expected.length = 0
              if (c.cut) sub.leftUnreachable = true
              // S6: the leave reaches the server unless the client is cut
              if (!c.cut && room.members.get(op.client)?.sub === sub) removeMember(room, op.client, now, now)
            }
            return
          }
          case "Cut": {
            const c = clients[op.client]!
            trace.push(`#${step} ${describeOp(op)}`)
            RoomModel.cut(c, now, timing)
            return yield* engine.cut(c.id)
          }
          case "Restore": {
            const c = clients[op.client]!
            trace.push(`#${step} ${describeOp(op)}`)
            if (!c.cut) return yield* engine.restore(c.id)
            if (mayBeExpired(c, now)) {
              for (const sub of subs) if (sub.client === c.index && sub.live) sub.uncertain = true
            }
            RoomModel.restore(c, now)
            yield* engine.restore(c.id)
            // S12: re-deliver the in-flight message to a sync subscription that holds it and never saw it
            for (const sub of subs) {
              if (sub.client !== c.index || !sub.live || sub.mode !== "sync") continue
              const room = roomOf(sub.room)
              const f = room.inFlight
              if (f !== null && f.holders.has(c.index) && f.msg.id === sub.lastAcked) {
                // the consumer acked it while cut: the client repeats the lost ack
                if (sub.unacked === f.msg.id) sub.unacked = null
                published(room, RoomModel.ack(room, c.index, f.msg.id, now, step))
              } else if (f !== null && f.holders.has(c.index) && f.msg.id !== sub.lastQueued) {
                sub.expected.push({ id: f.msg.id, optional: sub.uncertain })
              }
            }
            return
          }
          case "Advance": {
            trace.push(`#${step} ${describeOp(op)} (t=${now} -> ${now + op.millis})`)
            return yield* engine.advance(op.millis)
          }
        }
      })

    const exec = (op: Op) =>
      Effect.gen(function*() {
        const start = yield* engine.now
        yield* run(op)
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
            producer: byId.get(d.producer)?.index ?? -1,
            priority: d.priority
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
            Option.match(Cause.failureOption(sub.exit.cause), { onNone: () => "defect", onSome: (e) => e.reason })
          }` as const
      }))
      return { deliveries, subscriptions }
    }

    yield* observe(yield* engine.now)
    for (const op of scenario.ops) {
      step++
      yield* exec(op)
    }
    if (options.drain === false) return result()

    // ---- liveness: reconnect everybody, let timers run out, ack everything
    for (const c of clients) {
      if (!c.cut) continue
      step++
      yield* exec({ _tag: "Restore", client: c.index })
    }
    step++
    yield* exec({ _tag: "Advance", millis: options.drainAdvanceMs ?? T + 2 * K + H })
    for (let round = 0; round < messages.size + 2; round++) {
      let acked = 0
      for (const sub of subs) {
        if (!sub.live || sub.mode !== "sync" || sub.unacked === null) continue
        const d = sub.log.find((x) => x.id === sub.unacked)!
        step++
        trace.push(`#${step} drain: c${sub.client} acks ${d.id} (subscription #${sub.no})`)
        const start = yield* engine.now
        yield* doAck(clients[sub.client]!, sub, d, "drain ack")
        yield* observe(start)
        acked++
      }
      if (acked === 0) break
    }
    for (const room of rooms) {
      for (const [c, m] of room.members) {
        if ((m.mode === "sync" || engine.members !== undefined) && !m.sub.live) {
          fail(
            `${room.name}: c${c} is still a sync member after its subscription #${m.sub.no} ended (${
              m.sub.scopeClosed ? "closed" : "ejected"
            }): the room ${room.inFlight !== null ? `is stuck on ${room.inFlight.msg.id}` : "will be stuck"} (S6, S10)`
          )
        }
      }
      for (const sub of subs) {
        const knowable = sub.mode === "sync" || engine.members !== undefined
        if (sub.room === room.index && sub.live && knowable && room.members.get(sub.client)?.sub !== sub) {
          fail(
            `${room.name}: subscription #${sub.no} of c${sub.client} is live but no longer a member: it was ejected and never told (S10, S11)`
          )
        }
      }
      if (room.queue.length > 0) fail(`${room.name}: ${room.queue.length} messages left after draining`)
    }
    return result()
  })

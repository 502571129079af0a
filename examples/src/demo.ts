/**
 * `pnpm demo`: lockstep in ten seconds.
 *
 * A producer and three edge workers of different speeds share one room. Every worker is its own
 * client (on Redis: its own connections), receives every message, works on it for a while and
 * acks it; nobody gets message n+1 before all of them acked message n (S3). Midway an
 * out-of-band broadcast skips the queue (S9), then the slowest worker crashes: its network is cut
 * and its fibers are interrupted without leaving the room, so the room waits on it. Every worker
 * is a durable member (its name is its `clientId`, S21): the crashed one comes back under its id
 * before `clientTimeout`, resumes its membership, receives again the message it never acked (same
 * id, S22) and the room carries on with all three. A summary table closes the run: every worker
 * processed the same messages, in the same order.
 *
 * Engine: `LOCKSTEP_REDIS_URL` if set, else a `redis-server` spawned on a free port when one is
 * installed, else the in-memory engine. `DEMO_SECONDS` sets the run time (default 15).
 * Ctrl-C stops it cleanly: every scope closes and a spawned redis-server is stopped.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import type { Delivery, RoomState } from "@lockstep/core"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Engine from "./internal/engine.js"
import { bold, cyan, dim, green, ms, percentile, red, table, truncate, yellow } from "./internal/format.js"
import { runMain } from "./internal/main.js"
import * as MonitorApp from "./internal/monitorApp.js"

const ROOM = "match-1"
/** the producer keeps about this many messages queued, so priorities have something to overtake */
const TARGET_BACKLOG = 10
const CLIENT_TIMEOUT = Duration.seconds(3)
/** how long the crashed worker stays down before it comes back under its id (below CLIENT_TIMEOUT) */
const DOWN_FOR = Duration.millis(1200)
const PRIORITIES = [
  { priority: 0, label: "alert", share: 0.1 },
  { priority: 1, label: "order", share: 0.3 },
  { priority: 2, label: "tick", share: 0.6 }
] as const

interface WorkerSpec {
  readonly name: string
  /** mean simulated work per message */
  readonly workMs: number
  readonly crashes: boolean
}

const specs: ReadonlyArray<WorkerSpec> = [
  { name: "edge-fast", workMs: 4, crashes: false },
  { name: "edge-steady", workMs: 12, crashes: false },
  { name: "edge-slow", workMs: 30, crashes: true }
]

type WorkerStatus = "joining" | "waiting" | "working" | "crashed" | "ejected"

/** What the demo knows about one worker (plain mutable state, touched only from Effect.sync). */
interface Worker {
  readonly spec: WorkerSpec
  clientId: string
  status: WorkerStatus
  /** queued messages received */
  processed: number
  /** queued messages acked (counted just before the ack is sent) */
  acked: number
  current: string
  readonly ids: Array<string>
  readonly latencies: Array<number>
  readonly priorities: Array<number>
  readonly broadcasts: Array<{ readonly id: string; readonly latencyMs: number }>
  joinedAt: number
  crashedAt: number | undefined
  ejectedAt: number | undefined
  /** when it came back under its id after the crash, and the message it got again then (S22) */
  restartedAt: number | undefined
  redelivered: string | undefined
}

interface Broadcast {
  readonly id: string
  readonly at: number
  readonly text: string
}

/** read through a function, so the compiler does not assume the status unchanged across a yield */
const isCrashed = (w: Worker) => w.status === "crashed"

/** A `priority` label for a message. */
const labelOf = (priority: number) => PRIORITIES.find((p) => p.priority === priority)?.label ?? `p${priority}`

const pickPriority = () => {
  let r = Math.random()
  for (const p of PRIORITIES) {
    if (r < p.share) return p.priority
    r -= p.share
  }
  return 2
}

/** Where Effect log lines go: stderr until the live display takes over. */
let logSink = (line: string) => {
  process.stderr.write(line + "\n")
}
const logger = Logger.make(({ logLevel, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map((m) =>
    typeof m === "string" ? m : m instanceof Error ? m.message : JSON.stringify(m)
  ).join(" ")
  logSink(`${logLevel.toLowerCase()}: ${text}`)
})

const main = Effect.gen(function*() {
  const seconds = yield* Config.schema(
    Schema.Finite.check(Schema.isGreaterThanOrEqualTo(4, { message: "DEMO_SECONDS must be at least 4" })),
    "DEMO_SECONDS"
  ).pipe(Config.withDefault(15))
  // the live block on a terminal (or when forced with DEMO_LIVE=1), log lines otherwise
  const tty = (process.stdout.isTTY === true || process.env["DEMO_LIVE"] === "1") &&
    process.env["DEMO_PLAIN"] === undefined
  const t0 = performance.now()
  const elapsed = () => (performance.now() - t0) / 1000
  const stamp = () => dim(`${elapsed().toFixed(1).padStart(5)}s`)

  // ---------------------------------------------------------------------------------------------
  // output: a live status block redrawn in place on a terminal, plain log lines otherwise
  // ---------------------------------------------------------------------------------------------
  /** terminal width; a pty without a size reports 0 */
  const columns = () => Math.max(20, process.stdout.columns || 80)
  let blockLines = 0
  let renderBlock: () => string = () => ""
  const write = (text: string) => process.stdout.write(text)
  const clearBlock = () => {
    if (blockLines > 0) write(`\u001b[${blockLines}F\u001b[J`)
    blockLines = 0
  }
  const drawBlock = () => {
    const block = renderBlock()
    if (block === "") return
    // one terminal row per line, or the cursor-up count would be off
    const lines = block.split("\n").map((line) => truncate(line, columns()))
    write(lines.join("\n") + "\n")
    blockLines = lines.length
  }
  const say = (line: string) =>
    Effect.sync(() => {
      if (tty) clearBlock()
      write(`${stamp()}  ${line}\n`)
      if (tty) drawBlock()
    })
  logSink = (line) => {
    if (tty) clearBlock()
    write(`${stamp()}  ${dim(line)}\n`)
    if (tty) drawBlock()
  }
  const redraw = Effect.sync(() => {
    clearBlock()
    drawBlock()
  })

  // ---------------------------------------------------------------------------------------------
  // engine and clients
  // ---------------------------------------------------------------------------------------------
  const engine = yield* Engine.acquire()
  const keyPrefix = `lockstep-demo-${process.pid}-${Date.now().toString(36)}`
  const config = { keyPrefix, clientTimeout: CLIENT_TIMEOUT }
  write(`${bold("lockstep demo")}: one room, a producer, ${specs.length} edge workers in lock-step\n`)
  write(`engine: ${engine.description}\n`)
  write(
    dim(
      `clientTimeout ${Duration.format(CLIENT_TIMEOUT)} · run ${seconds} s (DEMO_SECONDS) · ` +
        `priorities: ${PRIORITIES.map((p) => `p${p.priority} ${p.label}`).join(", ")} (lower first)`
    ) + "\n"
  )
  if (engine.kind === "memory") {
    write(yellow("running on the in-memory engine: same semantics, one process, no Redis") + "\n")
  }

  const producer = yield* engine.client(config)
  // a live board of the room (@lockstep/monitor) on a free port, read through the producer's client
  const board = yield* MonitorApp.serve(producer.queue, {
    port: yield* Config.Int("DEMO_MONITOR_PORT").pipe(Config.withDefault(0)),
    host: "127.0.0.1",
    monitor: { stalledAfter: "1 second" }
  })
  write(`live board: ${board}/ ${dim("(open it while the demo runs; DEMO_MONITOR_PORT sets the port)")}\n`)
  const workers: Array<Worker> = specs.map((spec) => ({
    spec,
    clientId: "",
    status: "joining",
    processed: 0,
    acked: 0,
    current: "",
    ids: [],
    latencies: [],
    priorities: [],
    broadcasts: [],
    joinedAt: 0,
    crashedAt: undefined,
    ejectedAt: undefined,
    restartedAt: undefined,
    redelivered: undefined
  }))
  const live = () => workers.filter((w) => w.status !== "crashed" && w.status !== "ejected")
  let sent = 0
  const sentByPriority = [0, 0, 0]
  let violations = 0
  let ejections = 0
  let roomState: RoomState.RoomState | undefined
  let stoppedAt: number | undefined
  const broadcasts: Array<Broadcast> = []

  // S3 seen from the outside: when a worker receives its k-th message, every other live worker
  // must have acked its (k-1)-th already.
  const checkLockstep = (w: Worker) => {
    for (const other of live()) {
      if (other !== w && other.acked < w.processed - 1) violations++
    }
  }

  const handle = (w: Worker) => (delivery: Delivery.Delivery) => {
    const latencyMs = Duration.toMillis(delivery.latency)
    if (delivery.kind === "out-of-band") {
      return Effect.sync(() => w.broadcasts.push({ id: delivery.id, latencyMs }))
    }
    return Effect.gen(function*() {
      if (isCrashed(w)) return yield* Effect.never // a dead process does nothing more
      if (w.ids[w.ids.length - 1] === delivery.id) {
        // the message the crashed process received and never acked, delivered again to its
        // successor (S22): the same id, processed once
        w.redelivered = delivery.id
      } else {
        w.processed++
        w.ids.push(delivery.id)
        w.latencies.push(latencyMs)
        w.priorities.push(delivery.priority)
        checkLockstep(w)
      }
      w.status = "working"
      w.current = `#${delivery.sequence} p${delivery.priority} ${labelOf(delivery.priority)}`
      yield* Effect.sleep(Duration.millis(w.spec.workMs * (0.5 + Math.random())))
      if (isCrashed(w)) return yield* Effect.never
      w.acked++
      w.status = "waiting"
      yield* delivery.ack
    })
  }

  interface Running {
    readonly worker: Worker
    readonly client: Engine.Client
    readonly scope: Scope.Closeable
    readonly fiber: Fiber.Fiber<void>
  }

  const parent = yield* Effect.scope
  const start = Effect.fn("start")(function*(w: Worker) {
    // each worker lives in a scope of its own, so it can be killed alone
    const scope = yield* Scope.fork(parent, "sequential")
    // a durable member: its name is its client id (S21), so a restarted process resumes it (S22)
    const crashable = w.spec.crashes && w.crashedAt === undefined
    const client = yield* engine.client({ ...config, clientId: w.spec.name }, { crashable }).pipe(
      Scope.provide(scope)
    )
    const deliveries = yield* client.queue.subscribe(ROOM).pipe(Scope.provide(scope))
    w.clientId = client.queue.clientId
    w.status = "waiting"
    if (w.joinedAt === 0) w.joinedAt = elapsed()
    const fiber = yield* deliveries.pipe(
      Stream.runForEach(handle(w)),
      Effect.catchTags({
        ClientEjected: (e) =>
          Effect.suspend(() => {
            if (w.status === "crashed" || w.status === "ejected") return Effect.void
            w.status = "ejected"
            w.ejectedAt = elapsed()
            ejections++
            return say(red(`⏏ ${w.spec.name} was ejected: ${e.reason}`))
          })
      }),
      Effect.forkIn(scope)
    )
    return { worker: w, client, scope, fiber } satisfies Running
  })

  const running = yield* Effect.forEach(workers, start)
  yield* say(
    `${workers.length} workers joined room ${JSON.stringify(ROOM)} as sync members: ` +
      workers.map((w) => `${w.spec.name} (~${w.spec.workMs} ms/msg)`).join(", ")
  )

  // ---------------------------------------------------------------------------------------------
  // observer: the room as the server sees it (S14); notices the ejection of the crashed worker
  // ---------------------------------------------------------------------------------------------
  const nameOf = (clientId: string) => workers.find((w) => w.clientId === clientId)?.spec.name ?? clientId
  const observe = Effect.gen(function*() {
    const state = yield* producer.queue.roomState(ROOM)
    roomState = state
    for (const w of workers) {
      if (w.status === "crashed" && !state.members.includes(w.clientId)) {
        w.status = "ejected"
        w.ejectedAt = elapsed()
        ejections++
        const after = w.ejectedAt - (w.crashedAt ?? w.ejectedAt)
        yield* say(
          green(`⏏ the server ejected ${w.spec.name} ${after.toFixed(1)} s after its crash`) +
            ` (no heartbeat for clientTimeout ${Duration.format(CLIENT_TIMEOUT)}, S10); the room moves on without it`
        )
      }
    }
  }).pipe(Effect.catch((e) => say(yellow(`roomState failed: ${e.message}`))))

  // ---------------------------------------------------------------------------------------------
  // producer: keeps ~TARGET_BACKLOG messages queued, mixed priorities
  // ---------------------------------------------------------------------------------------------
  const produce = Effect.gen(function*() {
    const state = yield* producer.queue.roomState(ROOM)
    for (let i = state.backlog; i < TARGET_BACKLOG; i++) {
      const priority = pickPriority()
      sent++
      sentByPriority[priority] = (sentByPriority[priority] ?? 0) + 1
      yield* producer.queue.send(ROOM, { kind: labelOf(priority), n: sent }, { priority })
    }
  })
  const producerFiber = yield* produce.pipe(
    Effect.catch((e) => say(yellow(`send failed: ${e.message}`))),
    Effect.repeat(Schedule.spaced("50 millis")),
    Effect.forkScoped
  )

  // ---------------------------------------------------------------------------------------------
  // status block
  // ---------------------------------------------------------------------------------------------
  const roomTotal = () => Math.max(0, ...live().map((w) => w.processed))
  const rate = () => roomTotal() / Math.max(0.001, (stoppedAt ?? elapsed()) - (workers[0]?.joinedAt ?? 0))
  const statusOf = (w: Worker) => {
    switch (w.status) {
      case "joining":
        return dim("joining")
      case "waiting":
        return dim(w.processed === 0 ? "waiting for a message" : "acked, waiting for the room")
      case "working":
        return `working on ${w.current}`
      case "crashed":
        return red(`crashed ${(elapsed() - (w.crashedAt ?? 0)).toFixed(1)} s ago, still a member: the room waits`)
      case "ejected":
        return red("ejected")
    }
  }
  renderBlock = () => {
    const state = roomState
    const inFlight = state === undefined ? "" : Option.match(state.inFlight, {
      onNone: () => "nothing in flight",
      onSome: (f) => {
        const holders = state.members.filter((m) => !state.acked.includes(m)).map(nameOf)
        return `in flight ${f.id.split(":")[1] ? `#${f.id.split(":")[1]}` : f.id} for ${ms(Duration.toMillis(f.age))}${
          holders.length > 0 ? `, waiting on ${holders.join(", ")}` : ""
        }`
      }
    })
    const rows = [
      [dim("worker"), dim("work"), dim("done"), dim("state")],
      ...workers.map((w) => [w.spec.name, `~${w.spec.workMs} ms`, String(w.processed), statusOf(w)])
    ]
    return [
      dim("─".repeat(Math.min(72, columns() - 1))),
      `${bold("producer")}  sent ${sent} (${
        PRIORITIES.map((p) => `p${p.priority} ${sentByPriority[p.priority]}`)
          .join(" · ")
      })   backlog ${state?.backlog ?? "?"}   ${cyan(`${rate().toFixed(1)} msg/s`)}`,
      table(rows, [1, 2]),
      `${bold("room")}      ${state?.members.length ?? "?"} sync members · acked ${state?.acked.length ?? 0}/${
        state?.members.length ?? 0
      } · ${inFlight}`,
      dim(`${elapsed().toFixed(1)} s / ${seconds} s · Ctrl-C stops cleanly`)
    ].join("\n")
  }
  const progressLine = () =>
    `progress: sent ${sent} · done ${workers.map((w) => `${w.spec.name} ${w.processed}`).join(", ")} · backlog ${
      roomState?.backlog ?? "?"
    } · ${rate().toFixed(1)} msg/s`
  // on a terminal the block is redrawn right after each observation, so both agree
  yield* (tty ? Effect.andThen(observe, redraw) : observe).pipe(
    Effect.repeat(Schedule.spaced(tty ? "150 millis" : "100 millis")),
    Effect.forkScoped
  )
  if (!tty) {
    yield* Effect.suspend(() => say(progressLine())).pipe(
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.delay("1 second"),
      Effect.forkScoped
    )
  }
  // on exit, leave the last status on screen as plain lines
  yield* Effect.addFinalizer(() => Effect.sync(() => tty && redrawFinal()))
  const redrawFinal = () => {
    clearBlock()
    renderBlock = () => ""
  }

  // ---------------------------------------------------------------------------------------------
  // the script: broadcast, crash, broadcast while stalled, ejection, drain, summary
  // ---------------------------------------------------------------------------------------------
  const at = (fraction: number) =>
    Effect.suspend(() => Effect.sleep(Duration.seconds(Math.max(0, seconds * fraction - elapsed()))))

  const broadcast = Effect.fn("broadcast")(
    function*(text: string) {
      const targets = live()
      const id = yield* producer.queue.sendOutOfBand(ROOM, { kind: "broadcast", text })
      broadcasts.push({ id, at: elapsed(), text })
      const backlog = roomState?.backlog ?? 0
      const received = () => targets.flatMap((w) => w.broadcasts.filter((x) => x.id === id).map((x) => x.latencyMs))
      // a worker reads it once done with the message in hand; its latency was taken on arrival
      yield* Effect.sleep("20 millis").pipe(
        Effect.repeat({ until: () => received().length === targets.length }),
        Effect.timeout("2 seconds"),
        Effect.ignore
      )
      const got = received()
      yield* say(
        `${cyan("⚡ out-of-band")} ${JSON.stringify(text)} reached ${got.length}/${targets.length} live workers ` +
          `in ≤ ${ms(Math.max(0, ...got))}, skipping a queue of ${backlog} (S9)`
      )
    },
    Effect.catch((e) => say(yellow(`broadcast failed: ${e.message}`)))
  )

  const crash = Effect.fn("crash")(function*(r: Running) {
    r.worker.status = "crashed"
    r.worker.crashedAt = elapsed()
    yield* r.client.cut // the network goes first: no ack, no heartbeat, no goodbye
    yield* Fiber.interrupt(r.fiber)
    yield* Scope.close(r.scope, Exit.void)
    yield* say(
      red(`✖ ${r.worker.spec.name} crashed`) +
        `: network cut, fibers interrupted, client closed without leaving; ${
          r.worker.processed > r.worker.acked
            ? `it will never ack ${r.worker.current}`
            : "the next message released will wait on it"
        }`
    )
  })

  /** the crashed worker's process comes back: a new client with the same id resumes its membership (S22) */
  const restart = Effect.fn("restart")(
    function*(w: Worker) {
      const held = w.processed > w.acked ? w.ids[w.ids.length - 1] : undefined
      w.restartedAt = elapsed()
      w.status = "waiting"
      running.push(yield* start(w))
      yield* say(
        green(`↻ ${w.spec.name} came back under its id after ${(w.restartedAt - (w.crashedAt ?? 0)).toFixed(1)} s`) +
          `: it resumed its membership (S22)${
            held === undefined ? "" : ` and gets again the message it never acked, ${held} (same id)`
          }; the room moves on with all three`
      )
    },
    (effect, w) => Effect.catch(effect, (e) => say(red(`${w.spec.name} could not come back: ${e.message}`)))
  )

  const script = Effect.gen(function*() {
    yield* at(0.2)
    yield* broadcast("maintenance at 03:00 UTC")
    yield* at(0.35)
    const victim = running.find((r) => r.worker.spec.crashes)
    if (victim !== undefined) {
      yield* crash(victim)
      yield* Effect.sleep("600 millis")
      if (victim.worker.status === "crashed") yield* broadcast("the room is stalled, broadcasts are not")
      yield* Effect.sleep(Duration.subtract(DOWN_FOR, Duration.millis(600)))
      if (victim.worker.status === "crashed") yield* restart(victim.worker)
    }
    yield* at(1)
    yield* Fiber.interrupt(producerFiber)
    stoppedAt = elapsed()
    yield* say(`producer stopped after ${sent} messages; draining the backlog…`)
    yield* Effect.sleep("50 millis").pipe(
      Effect.repeat({
        until: () =>
          roomState !== undefined && roomState.backlog === 0 && Option.isNone(roomState.inFlight) &&
          live().every((w) => w.processed === sent)
      }),
      Effect.timeout("5 seconds"),
      Effect.ignore
    )
    stoppedAt = elapsed()
  })

  const summary = (interrupted: boolean) =>
    Effect.sync(() => {
      if (tty) redrawFinal()
      const duration = (stoppedAt ?? elapsed()) - (workers[0]?.joinedAt ?? 0)
      const until = (w: Worker) =>
        (w.restartedAt === undefined ? w.crashedAt ?? stoppedAt ?? elapsed() : stoppedAt ?? elapsed()) - w.joinedAt
      const all = live().flatMap((w) => w.latencies)
      const rows = [
        ["", "work", "messages", "msgs/s", "latency p50", "latency p99", "status"].map(dim),
        ...workers.map((w) => [
          w.spec.name,
          `~${w.spec.workMs} ms`,
          String(w.processed),
          (w.processed / Math.max(0.001, until(w))).toFixed(1),
          ms(percentile(w.latencies, 0.5)),
          ms(percentile(w.latencies, 0.99)),
          w.status === "ejected"
            ? `ejected ${((w.ejectedAt ?? 0) - (w.crashedAt ?? 0)).toFixed(1)} s after its crash`
            : w.status === "crashed"
            ? "crashed, not back yet"
            : w.restartedAt !== undefined
            ? `crashed, back under its id after ${(w.restartedAt - (w.crashedAt ?? 0)).toFixed(1)} s`
            : "alive"
        ]),
        [
          bold("room"),
          "",
          bold(String(roomTotal())),
          (roomTotal() / Math.max(0.001, duration)).toFixed(1),
          ms(percentile(all, 0.5)),
          ms(percentile(all, 0.99)),
          `ejections: ${ejections}`
        ]
      ]
      const survivors = live()
      const reference = survivors[0]?.ids ?? []
      const sameOrder = workers.every((w) => w.ids.every((id, i) => reference[i] === id))
      const oob = broadcasts.map((b) => {
        const got = workers.flatMap((w) => w.broadcasts.filter((x) => x.id === b.id).map((x) => x.latencyMs))
        return `${got.length} deliveries ≤ ${ms(Math.max(0, ...got))}`
      })
      const lines = [
        "",
        bold(`summary${interrupted ? " (interrupted)" : ""}`) +
        dim(` · ${engine.kind} engine · room ${JSON.stringify(ROOM)} · ${duration.toFixed(1)} s`),
        table(rows, [2, 3, 4, 5]),
        "",
        `producer      sent ${sent} queued messages (${
          PRIORITIES.map((p) => `p${p.priority} ${p.label} ${sentByPriority[p.priority]}`).join(", ")
        }) and ${broadcasts.length} out-of-band broadcasts (${oob.join("; ") || "none"})`,
        `priorities    ${priorityLatencies(survivors)}`,
        `lock-step     ${
          violations === 0 && sameOrder
            ? green("✓")
            : red("✗")
        } ${
          sameOrder ? "every worker processed the same messages in the same order" : "workers saw different orders"
        }; ${violations} times a worker got ahead of the others (S3)`,
        ...workers.filter((w) => w.restartedAt !== undefined).map((w) =>
          `durable       ${
            sameOrder && w.status !== "crashed" && w.status !== "ejected" && w.processed === roomTotal()
              ? green("✓")
              : red("✗")
          } ${w.spec.name} crashed and came back under its id: it ${
            w.redelivered === undefined ? "had acked everything it got" : `got ${w.redelivered} again (same id)`
          } and missed nothing (S22)`
        ),
        `delivery      ${
          survivors.every((w) => w.processed === sent)
            ? green(`✓ all ${sent} messages reached every live worker`)
            : yellow(`${survivors.map((w) => `${w.spec.name} ${w.processed}`).join(", ")} of ${sent} sent`)
        }`
      ]
      process.stdout.write(lines.join("\n") + "\n")
    })

  /** send → receive latency by priority, as one surviving worker saw it */
  const priorityLatencies = (survivors: ReadonlyArray<Worker>) => {
    const w = survivors[0]
    if (w === undefined) return "–"
    return PRIORITIES.map((p) => {
      const latencies = w.latencies.filter((_, i) => w.priorities[i] === p.priority)
      return `p${p.priority} ${p.label} p50 ${ms(percentile(latencies, 0.5))}`
    }).join(" · ") + dim(` (send → receive at ${w.spec.name}: lower numbers overtake the backlog, S2)`)
  }

  yield* script.pipe(
    Effect.onExit((exit) =>
      Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
        ? Effect.andThen(say(yellow("interrupted: closing every scope…")), summary(true))
        : summary(false)
    )
  )
}).pipe(
  Effect.scoped,
  Effect.provide(NodeServices.layer),
  Effect.provide(Logger.layer([logger]))
)

runMain(main)

/**
 * `pnpm demo`: lockstep in fifteen seconds.
 *
 * A producer and three edges of different speeds share one room. Each edge is a process of its
 * own running a `RoomWorker` (its own client: on Redis, its own connections): every edge receives
 * every message, works on it for a while and its worker acks it; nobody gets message n+1 before
 * all of them are done with message n (S3). An out-of-band broadcast skips the queue (S9).
 *
 * Then the producer sends a poison message: the slowest edge's handler crashes its process on it.
 * Every edge is a durable member (its name is its `clientId`, S21), so its supervisor starts it
 * again under its id: it resumes its membership and gets the message again (same id, S22, one
 * attempt more, S27), and crashes again, while the room waits on it. With `maxDeliveries: 3` the
 * fourth process does not get it: the server dead-letters it for that edge and the room moves on
 * (S28). The summary lists the dead letter as `RoomAdmin.deadLetters` returns it (S29) and checks
 * that every edge processed the same messages in the same order, less its dead letter.
 *
 * Engine: `LOCKSTEP_REDIS_URL` if set, else a `redis-server` spawned on a free port when one is
 * installed, else the in-memory engine. `DEMO_SECONDS` sets the run time (default 15).
 * Ctrl-C stops it cleanly: every scope closes and a spawned redis-server is stopped.
 *
 * The parts: `demo/model.ts` (the cast), `demo/edges.ts` (an edge's process, its worker and its
 * supervisor), `demo/display.ts` and `demo/status.ts` (the live output), `demo/summary.ts`.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import type { RoomState } from "@lockstep/core"
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
import * as Display from "./demo/display.js"
import * as Edges from "./demo/edges.js"
import {
  CLIENT_TIMEOUT,
  isLive,
  labelOf,
  makeEdge,
  MAX_DELIVERIES,
  pickPriority,
  poisonData,
  PRIORITIES,
  ROOM,
  shortId,
  specs,
  TARGET_BACKLOG
} from "./demo/model.js"
import * as Status from "./demo/status.js"
import * as Summary from "./demo/summary.js"
import * as Engine from "./internal/engine.js"
import { bold, cyan, dim, ms, yellow } from "./internal/format.js"
import { runMain } from "./internal/main.js"
import * as MonitorApp from "./internal/monitorApp.js"

const main = Effect.gen(function*() {
  const seconds = yield* Config.schema(
    Schema.Finite.check(Schema.isGreaterThanOrEqualTo(4, { message: "DEMO_SECONDS must be at least 4" })),
    "DEMO_SECONDS"
  ).pipe(Config.withDefault(15))
  const display = Display.make()
  const { elapsed, say, write } = display

  // ---------------------------------------------------------------------------------------------
  // engine, producer, board, edges
  // ---------------------------------------------------------------------------------------------
  const engine = yield* Engine.acquire()
  const keyPrefix = `lockstep-demo-${process.pid}-${Date.now().toString(36)}`
  const config = { keyPrefix, clientTimeout: CLIENT_TIMEOUT, maxDeliveries: MAX_DELIVERIES }
  write(`${bold("lockstep demo")}: one room, a producer, ${specs.length} edges in lock-step, one poison message\n`)
  write(`engine: ${engine.description}\n`)
  write(
    dim(
      `clientTimeout ${Duration.format(CLIENT_TIMEOUT)} · maxDeliveries ${MAX_DELIVERIES} · run ${seconds} s ` +
        `(DEMO_SECONDS) · priorities: ${PRIORITIES.map((p) => `p${p.priority} ${p.label}`).join(", ")} (lower first)`
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

  const edges = specs.map(makeEdge)
  const env: Edges.Env = { engine, config, admin: producer.admin, display, parent: yield* Effect.scope }
  const processes = yield* Effect.forEach(edges, (edge) => Edges.start(env, edge), { concurrency: "unbounded" })
  yield* Effect.forEach(edges, (edge, i) => Effect.forkScoped(Edges.supervise(env, edge, processes[i]!)), {
    discard: true
  })
  yield* say(
    `${edges.length} edges joined room ${JSON.stringify(ROOM)}, each a RoomWorker on a durable client ` +
      `(its name is its clientId): ${edges.map((e) => `${e.spec.name} (~${e.spec.workMs} ms/msg)`).join(", ")}`
  )

  // ---------------------------------------------------------------------------------------------
  // observer (the room as the server sees it, S14) and producer (~TARGET_BACKLOG queued)
  // ---------------------------------------------------------------------------------------------
  let roomState: RoomState.RoomState | undefined
  let sent = 0
  const sentByPriority = [0, 0, 0]
  let ejections = 0
  let stoppedAt: number | undefined
  const broadcasts: Array<{ readonly id: string }> = []
  let poisonId: string | undefined

  const observe = Effect.gen(function*() {
    const state = yield* producer.queue.roomState(ROOM)
    roomState = state
    for (const edge of edges) {
      if (edge.status === "crashed" && !state.members.includes(edge.clientId)) {
        edge.status = "ejected"
        edge.ejectedAt = elapsed()
        ejections++
        yield* say(
          yellow(`⏏ the server ejected ${edge.spec.name}: it stayed down longer than clientTimeout (S10)`) +
            "; the room moves on without it"
        )
      }
    }
  }).pipe(Effect.catch((e) => say(yellow(`roomState failed: ${e.message}`))))

  const send = (data: unknown, priority: number) =>
    Effect.suspend(() => {
      sent++
      sentByPriority[priority] = (sentByPriority[priority] ?? 0) + 1
      return producer.queue.send(ROOM, data, { priority })
    })
  const producerFiber = yield* Effect.gen(function*() {
    const state = yield* producer.queue.roomState(ROOM)
    for (let i = state.backlog; i < TARGET_BACKLOG; i++) {
      const priority = pickPriority()
      yield* send({ kind: labelOf(priority), n: sent + 1 }, priority)
    }
  }).pipe(
    Effect.catch((e) => say(yellow(`send failed: ${e.message}`))),
    Effect.repeat(Schedule.spaced("50 millis")),
    Effect.forkScoped
  )

  // ---------------------------------------------------------------------------------------------
  // output while it runs
  // ---------------------------------------------------------------------------------------------
  const stats: Status.Stats = {
    edges,
    sent: () => sent,
    sentByPriority,
    roomState: () => roomState,
    stoppedAt: () => stoppedAt,
    seconds
  }
  display.setBlock(() => Status.block(stats, display))
  // on a terminal the block is redrawn right after each observation, so both agree
  yield* (display.tty ? Effect.andThen(observe, display.redraw) : observe).pipe(
    Effect.repeat(Schedule.spaced(display.tty ? "150 millis" : "100 millis")),
    Effect.forkScoped
  )
  if (!display.tty) {
    yield* Effect.suspend(() => say(Status.progressLine(stats, display))).pipe(
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.delay("1 second"),
      Effect.forkScoped
    )
  }
  // on exit, leave the last status on screen as plain lines
  yield* Effect.addFinalizer(() => Effect.sync(() => display.tty && display.clear()))

  // ---------------------------------------------------------------------------------------------
  // the script: broadcast, poison, broadcast while stalled, drain, summary
  // ---------------------------------------------------------------------------------------------
  const at = (fraction: number) =>
    Effect.suspend(() => Effect.sleep(Duration.seconds(Math.max(0, seconds * fraction - elapsed()))))
  const until = (condition: () => boolean, timeout: Duration.Input) =>
    Effect.sleep("20 millis").pipe(Effect.repeat({ until: condition }), Effect.timeout(timeout), Effect.ignore)

  const broadcast = Effect.fn("broadcast")(
    function*(text: string) {
      const targets = edges.filter(isLive)
      const id = yield* producer.queue.sendOutOfBand(ROOM, { kind: "broadcast", text })
      broadcasts.push({ id })
      const backlog = roomState?.backlog ?? 0
      const received = () => targets.flatMap((e) => e.broadcasts.filter((x) => x.id === id).map((x) => x.latencyMs))
      // an edge's worker hands it over once done with the message in hand; latency taken on arrival
      yield* until(() => received().length === targets.length, "2 seconds")
      const got = received()
      yield* say(
        `${cyan("⚡ out-of-band")} ${JSON.stringify(text)} reached ${got.length}/${targets.length} live edges ` +
          `in ≤ ${ms(Math.max(0, ...got))}, skipping a queue of ${backlog} (S9)`
      )
    },
    Effect.catch((e) => say(yellow(`broadcast failed: ${e.message}`)))
  )

  const poison = Effect.gen(function*() {
    const id = yield* send(poisonData, 1)
    poisonId = id
    const victim = edges.find((e) => e.spec.crashesOnPoison)?.spec.name ?? "?"
    yield* say(
      `☠ the producer sent ${shortId(id)} ${JSON.stringify(poisonData)} (p1 order): ${victim}'s handler has a bug ` +
        `that crashes its process on it`
    )
  }).pipe(Effect.catch((e) => say(yellow(`send failed: ${e.message}`))))

  const script = Effect.gen(function*() {
    yield* at(0.2)
    yield* broadcast("maintenance at 03:00 UTC")
    yield* at(0.3)
    yield* poison
    yield* until(() => edges.some((e) => e.status === "crashed"), Duration.seconds(seconds))
    yield* Effect.sleep("300 millis")
    if (edges.some((e) => e.status === "crashed")) yield* broadcast("the room is stalled, broadcasts are not")
    yield* at(1)
    yield* Fiber.interrupt(producerFiber)
    stoppedAt = elapsed()
    yield* say(`producer stopped after ${sent} messages; draining the backlog…`)
    yield* until(
      () =>
        roomState !== undefined && roomState.backlog === 0 && Option.isNone(roomState.inFlight) &&
        edges.filter(isLive).every((e) => e.receivedAt.size === sent),
      "10 seconds"
    )
    stoppedAt = elapsed()
  })

  const summary = (interrupted: boolean) =>
    Effect.gen(function*() {
      const letters = yield* producer.admin.deadLetters(ROOM).pipe(
        Effect.map((page) => page.letters),
        Effect.catch((e) => Effect.succeed(e.message))
      )
      if (display.tty) display.clear()
      const end = stoppedAt ?? elapsed()
      write(Summary.render({
        engine: engine.kind,
        interrupted,
        edges,
        duration: end - (edges[0]?.joinedAt ?? 0),
        until: end,
        sent,
        sentByPriority,
        poison: poisonId,
        broadcasts,
        ejections,
        letters
      }))
    })

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
  Effect.provide(Logger.layer([Display.logger]))
)

runMain(main)

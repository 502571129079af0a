/**
 * Soak test (`pnpm soak`, not part of CI): a spawned redis-server, SOAK_ROOMS rooms (500), SOAK_WORKERS
 * subscriber processes (3, `worker.ts`, every room in sync mode), one producer in this process, for
 * SOAK_MINUTES minutes (10). Every SOAK_CHAOS_MS (15 s, randomised ±50 %) one worker is killed
 * (SIGKILL, 70 %) or stopped (SIGTERM, 30 %) and a fresh one started in its place, so at most one
 * is missing at a time and every message always has members to go to.
 *
 * It reports, every SOAK_REPORT_MS (10 s) and at the end: sends and deliveries, duplicates (the
 * same message twice to one worker: expected only from an S12 resync after a connection blip),
 * out-of-order deliveries, gaps inside one worker's stream of a room (a loss, unless the worker
 * had just joined or rejoined: S5), stalls (a room with queued messages and no progress for more
 * than 2 × clientTimeout), ejections, and memory over time (this process, each worker, Redis).
 * After the run the producer stops and the rooms drain; a message no worker ever received is
 * lost. Exit code 1 on a loss, an unexpected gap, an out-of-order delivery or a stall.
 *
 *   SOAK_MINUTES=1 pnpm soak
 *
 * Other knobs: SOAK_RATE (messages/s, default 300), SOAK_CLIENT_TIMEOUT_MS (3000), SOAK_MAX_BACKLOG
 * (per room, default 20: the producer skips rooms that are that far behind).
 *
 * **Durable mode** (`SOAK_DURABLE=1`, S21–S24): every worker slot is a durable member (client id
 * `soak-w<slot>`, `onClose: "detach"`), and each replacement is started under the id of the worker
 * it replaces, so it resumes that worker's memberships: a slot's stream of a room must then have
 * no gap at all across kills and restarts (not only no loss), the only repeat allowed being the
 * first delivery of a successor (the message its predecessor had not acked, S22), no ejection may
 * happen, and at the end every slot has received the same messages of every room. The client
 * timeout defaults to 10 s there, so a replacement (a new Node process subscribing to every room)
 * is back before it.
 *
 *   SOAK_DURABLE=1 SOAK_MINUTES=3 pnpm soak
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Context, Duration, Effect, Exit, Fiber, Layer, Schedule, Scope } from "effect"
import * as HarnessNet from "../../src/testing/internal/net.js"
import { spawnWorker, type Timed, type Worker } from "./utils/workers.js"

const envNumber = (name: string, fallback: number) => {
  const raw = process.env[name]
  const value = raw === undefined || raw === "" ? fallback : Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`)
  return value
}

const durable = process.env.SOAK_DURABLE === "1"
const minutes = envNumber("SOAK_MINUTES", 10)
const roomCount = Math.floor(envNumber("SOAK_ROOMS", 500))
const workerCount = Math.floor(envNumber("SOAK_WORKERS", 3))
const rate = envNumber("SOAK_RATE", 300)
const clientTimeoutMs = envNumber("SOAK_CLIENT_TIMEOUT_MS", durable ? 10_000 : 3000)
const chaosMs = envNumber("SOAK_CHAOS_MS", 15_000)
const reportMs = envNumber("SOAK_REPORT_MS", 10_000)
const maxBacklog = envNumber("SOAK_MAX_BACKLOG", 20)
const stallMs = 2 * clientTimeoutMs

const rooms = Array.from({ length: roomCount }, (_, r) => `soak:${r}`)
const keyPrefix = `soak${process.pid}`
const startedAt = Date.now()
const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s`
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)}MB`

// ---------------------------------------------------------------------------------------------
// bookkeeping
// ---------------------------------------------------------------------------------------------

interface RoomBook {
  sent: number
  /** n → delivered to at least one worker (n from 1) */
  readonly delivered: Array<boolean>
  deliveredCount: number
  /** sends whose outcome is unknown (OperationTimeout): not counted as lost */
  readonly uncertain: Set<number>
  /** since when the room waits without progress (while it has undelivered messages) */
  since: number
  stalled: boolean
}

const book: Array<RoomBook> = rooms.map(() => ({
  sent: 0,
  delivered: [],
  deliveredCount: 0,
  uncertain: new Set(),
  since: Date.now(),
  stalled: false
}))

const totals = {
  sent: 0,
  sendFailed: 0,
  deliveries: 0,
  duplicates: 0,
  /** durable mode: the first delivery of a successor repeating its predecessor's last (S22), expected */
  redelivered: 0,
  outOfOrder: 0,
  /** gaps right after a (re)join: S5, expected */
  joinGaps: 0,
  unexpectedGaps: 0,
  ejected: new Map<string, number>(),
  subscribeFailed: 0,
  kills: 0,
  terms: 0,
  spawned: 0,
  stallEpisodes: 0,
  maxStallMs: 0,
  maxRecoveryMs: 0
}

const outstanding = (room: RoomBook) => room.sent - room.deliveredCount - room.uncertain.size

interface InstanceBook {
  readonly name: string
  /** room index → last n delivered to this instance (durable mode: to its slot, every generation) */
  readonly last: Map<number, number>
  /** durable mode: the rooms this generation has had no delivery of yet */
  readonly resuming: Set<number>
  /** rooms re-joined after an ejection: the next delivery may skip messages (S5) */
  readonly rejoined: Set<number>
  stats: { rss: number; heapUsed: number } | undefined
  ready: boolean
}

const onEvent = (instance: InstanceBook) => (event: Timed) => {
  switch (event.event) {
    case "delivery": {
      totals.deliveries++
      const { n, r } = event.data as { readonly r: number; readonly n: number }
      const room = book[r]
      if (room === undefined) return
      const last = instance.last.get(r)
      const resuming = instance.resuming.delete(r)
      if (last === undefined) {
        if (n !== 1) totals.joinGaps++
      } else if (n === last) {
        if (resuming) totals.redelivered++
        else totals.duplicates++
      } else if (n < last) {
        totals.outOfOrder++
      } else if (n > last + 1) {
        if (instance.rejoined.delete(r) && !durable) totals.joinGaps++
        else totals.unexpectedGaps++
      }
      if (last === undefined || n > last) instance.last.set(r, n)
      if (!room.delivered[n]) {
        room.delivered[n] = true
        room.deliveredCount++
        const now = Date.now()
        if (room.stalled) {
          room.stalled = false
          totals.maxStallMs = Math.max(totals.maxStallMs, now - room.since)
        }
        totals.maxRecoveryMs = Math.max(totals.maxRecoveryMs, now - room.since)
        room.since = now
      }
      return
    }
    case "ejected": {
      totals.ejected.set(event.reason, (totals.ejected.get(event.reason) ?? 0) + 1)
      const r = rooms.indexOf(event.room)
      if (r >= 0) instance.rejoined.add(r)
      return
    }
    case "subscribe-failed":
      totals.subscribeFailed++
      return
    case "stats":
      instance.stats = { rss: event.rss, heapUsed: event.heapUsed }
      return
    case "ready":
      instance.ready = true
      return
    default:
      return
  }
}

// ---------------------------------------------------------------------------------------------
// the run
// ---------------------------------------------------------------------------------------------

interface Slot {
  readonly index: number
  generation: number
  instance: InstanceBook
  worker: Worker
  scope: Scope.Closeable
}

const program = Effect.gen(function*() {
  const server = yield* RedisTestServer.make()
  console.log(
    `soak${durable ? " (durable workers)" : ""}: ${minutes} min, ${roomCount} rooms, ${workerCount} workers, ` +
      `${rate} msg/s, clientTimeout ${clientTimeoutMs} ms, ` +
      `chaos every ~${chaosMs} ms, redis ${server.url}`
  )

  const spawn = (index: number, generation: number, predecessor?: InstanceBook) =>
    Effect.gen(function*() {
      const instance: InstanceBook = {
        name: `w${index}#${generation}`,
        // durable: the slot's stream goes on across generations, so it is checked as one
        last: durable && predecessor !== undefined ? predecessor.last : new Map(),
        resuming: new Set(durable && predecessor !== undefined ? rooms.map((_, r) => r) : []),
        rejoined: new Set(),
        stats: undefined,
        ready: false
      }
      const scope = yield* Scope.make()
      const worker = yield* spawnWorker({
        name: instance.name,
        redisUrl: server.url,
        keyPrefix,
        rooms,
        clientTimeout: Duration.millis(clientTimeoutMs),
        ...(durable ? { clientId: `soak-w${index}`, onClose: "detach" as const } : {}),
        rejoin: true,
        statsMs: 5000,
        keep: false,
        onEvent: onEvent(instance)
      }).pipe(Scope.provide(scope))
      totals.spawned++
      return { index, generation, instance, worker, scope } satisfies Slot
    })

  const awaitReady = (slot: Slot, timeout: Duration.Input = "90 seconds") =>
    Effect.suspend(() => slot.instance.ready ? Effect.void : Effect.fail("not ready")).pipe(
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: timeout }))),
      Effect.catch(() => Effect.die(new Error(`${slot.instance.name} not ready:\n${slot.worker.stderr()}`)))
    )

  const slots = yield* Effect.forEach(Array.from({ length: workerCount }, (_, i) => i), (i) => spawn(i, 0))
  yield* Effect.addFinalizer(() =>
    Effect.forEach(slots, (slot) => Scope.close(slot.scope, Exit.void), { concurrency: "unbounded", discard: true })
  )
  yield* Effect.forEach(slots, (slot) => awaitReady(slot), { concurrency: "unbounded", discard: true })
  console.log(`soak: ${workerCount} workers subscribed to ${roomCount} rooms in ${elapsed().trim()}`)

  const producerContext = yield* Layer.build(
    ClientLayer.layer({ keyPrefix, clientTimeout: Duration.millis(clientTimeoutMs) }).pipe(
      Layer.provide(ShardLayer.single),
      Layer.provide(RedisLayer.layer(server.url))
    )
  )
  const producer = Context.get(producerContext, SyncFanoutQueue.SyncFanoutQueue)

  // producer: `rate` messages per second to random rooms that are not too far behind
  let producing = true
  const tickMs = 100
  let credit = 0
  let lastTick = Date.now()
  const produceTick = Effect.suspend(() => {
    const now = Date.now()
    credit += (rate * (now - lastTick)) / 1000
    lastTick = now
    if (!producing) return Effect.void
    // one send per room and tick: sends to different rooms run concurrently, a room's stay in order
    const batch = new Map<number, number>()
    for (; credit >= 1; credit -= 1) {
      const r = Math.floor(Math.random() * roomCount)
      const room = book[r]!
      if (batch.has(r) || outstanding(room) >= maxBacklog) continue
      const n = room.sent + 1
      if (outstanding(room) === 0) room.since = Date.now()
      room.sent = n
      totals.sent++
      batch.set(r, n)
    }
    return Effect.forEach(
      batch,
      ([r, n]) =>
        Effect.catch(producer.send(rooms[r]!, { r, n }), () =>
          Effect.sync(() => {
            totals.sendFailed++
            book[r]!.uncertain.add(n)
          })),
      { concurrency: 16, discard: true }
    )
  })
  yield* produceTick.pipe(Effect.repeat(Schedule.spaced(Duration.millis(tickMs))), Effect.forkScoped)

  // stall detector
  const stallCheck = Effect.sync(() => {
    const now = Date.now()
    for (const room of book) {
      if (!room.stalled && outstanding(room) > 0 && now - room.since > stallMs) {
        room.stalled = true
        totals.stallEpisodes++
      }
    }
  })
  yield* stallCheck.pipe(Effect.repeat(Schedule.spaced("500 millis")), Effect.forkScoped)

  // chaos: one worker at a time is killed or stopped, then replaced
  let chaos = true
  let busy = false
  const chaosOnce = Effect.gen(function*() {
    yield* Effect.sleep(Duration.millis(chaosMs * (0.5 + Math.random())))
    if (!chaos) return
    busy = true
    const slot = slots[Math.floor(Math.random() * slots.length)]!
    const signal = Math.random() < 0.7 ? "SIGKILL" : "SIGTERM"
    if (signal === "SIGKILL") totals.kills++
    else totals.terms++
    console.log(`${elapsed()} chaos: ${signal} ${slot.instance.name}`)
    yield* slot.worker.kill(signal)
    yield* Scope.close(slot.scope, Exit.void)
    const next = yield* spawn(slot.index, slot.generation + 1, slot.instance)
    slots[slot.index] = next
    yield* awaitReady(next)
    console.log(`${elapsed()} chaos: ${next.instance.name} ready`)
    busy = false
  })
  const chaosFiber = yield* chaosOnce.pipe(Effect.forever, Effect.forkScoped)

  // periodic report
  let lastSent = 0
  let lastDeliveries = 0
  let lastReportAt = Date.now()
  const report = Effect.gen(function*() {
    const now = Date.now()
    const seconds = (now - lastReportAt) / 1000
    const info = yield* HarnessNet.command(server.port, ["INFO", "memory"]).pipe(Effect.orElseSucceed(() => ""))
    const redisMemory = Number(/used_memory:(\d+)/.exec(info ?? "")?.[1] ?? 0)
    const keys = yield* HarnessNet.command(server.port, ["DBSIZE"]).pipe(Effect.orElseSucceed(() => "?"))
    const stalledNow = book.filter((room) => room.stalled).length
    const self = process.memoryUsage()
    const workers = slots.map((slot) =>
      slot.instance.stats === undefined
        ? `${slot.instance.name} -`
        : `${slot.instance.name} ${mb(slot.instance.stats.rss)}/${mb(slot.instance.stats.heapUsed)}`
    )
    console.log(
      `${elapsed()} sent ${totals.sent} (${((totals.sent - lastSent) / seconds).toFixed(0)}/s) ` +
        `deliveries ${totals.deliveries} (${((totals.deliveries - lastDeliveries) / seconds).toFixed(0)}/s) | ` +
        `kills ${totals.kills} terms ${totals.terms} | dup ${totals.duplicates}${
          durable ? ` redelivered ${totals.redelivered}` : ""
        } ooo ${totals.outOfOrder} ` +
        `gaps ${totals.unexpectedGaps} (join ${totals.joinGaps}) ejected ${
          totals.ejected.size === 0 ? 0 : JSON.stringify(Object.fromEntries(totals.ejected))
        } | ` +
        `stalled ${stalledNow} (episodes ${totals.stallEpisodes}, max recovery ${totals.maxRecoveryMs} ms) | ` +
        `rss/heap soak ${mb(self.rss)}/${mb(self.heapUsed)} ${workers.join(" ")} | redis ${
          mb(redisMemory)
        } keys ${keys}`
    )
    lastSent = totals.sent
    lastDeliveries = totals.deliveries
    lastReportAt = now
  })
  yield* report.pipe(
    Effect.repeat(Schedule.spaced(Duration.millis(reportMs))),
    Effect.delay(Duration.millis(reportMs)),
    Effect.forkScoped
  )

  yield* Effect.sleep(Duration.minutes(minutes))

  // wind down: no more chaos (let a replacement finish), no more sends, let the rooms drain
  chaos = false
  yield* Effect.sync(() => busy).pipe(Effect.repeat({ schedule: Schedule.spaced("100 millis"), while: (b) => b }))
  yield* Fiber.interrupt(chaosFiber)
  producing = false
  console.log(`${elapsed()} producer stopped; draining`)
  const drainBudget = 3 * clientTimeoutMs + 10_000
  const drained = yield* Effect.sync(() => book.every((room) => outstanding(room) <= 0)).pipe(
    Effect.repeat({ schedule: Schedule.spaced("200 millis"), until: (done) => done }),
    Effect.timeout(Duration.millis(drainBudget)),
    Effect.isSuccess
  )
  yield* report

  let lost = 0
  const lostExamples: Array<string> = []
  for (let r = 0; r < roomCount; r++) {
    const room = book[r]!
    for (let n = 1; n <= room.sent; n++) {
      if (!room.delivered[n] && !room.uncertain.has(n)) {
        lost++
        if (lostExamples.length < 10) lostExamples.push(`${rooms[r]}#${n}`)
      }
    }
  }
  // durable mode: every slot received the same messages of every room (no gap: the same lists)
  let divergentRooms = 0
  if (durable) {
    for (let r = 0; r < roomCount; r++) {
      const lasts = new Set(slots.map((slot) => slot.instance.last.get(r) ?? 0))
      if (lasts.size > 1) divergentRooms++
    }
  }
  const ejections = [...totals.ejected.values()].reduce((a, b) => a + b, 0)
  const summary = {
    durable,
    divergentRooms,
    redelivered: totals.redelivered,
    minutes,
    rooms: roomCount,
    workers: workerCount,
    sent: totals.sent,
    sendFailed: totals.sendFailed,
    deliveries: totals.deliveries,
    duplicates: totals.duplicates,
    outOfOrder: totals.outOfOrder,
    unexpectedGaps: totals.unexpectedGaps,
    joinGaps: totals.joinGaps,
    lost,
    lostExamples,
    drained,
    stallEpisodes: totals.stallEpisodes,
    maxStallMs: totals.maxStallMs,
    maxRecoveryMs: totals.maxRecoveryMs,
    stallThresholdMs: stallMs,
    kills: totals.kills,
    terms: totals.terms,
    workersSpawned: totals.spawned,
    ejected: Object.fromEntries(totals.ejected),
    subscribeFailed: totals.subscribeFailed
  }
  console.log(`soak summary: ${JSON.stringify(summary, null, 2)}`)
  const ok = lost === 0 && totals.unexpectedGaps === 0 && totals.outOfOrder === 0 && totals.stallEpisodes === 0 &&
    drained && (!durable || (divergentRooms === 0 && ejections === 0 && totals.duplicates === 0))
  if (!ok) return yield* Effect.fail("soak: FAILED (see the summary)")
  console.log("soak: OK")
})

program.pipe(Effect.scoped, Effect.provide(NodeServices.layer), NodeRuntime.runMain())

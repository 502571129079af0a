/**
 * Differential model-based test (DESIGN §5): the SAME random operation sequences (send with a
 * priority / sendOutOfBand / subscribe sync|async / ack latest|stale|duplicate / leave / small time
 * steps, and in the second property cut / restore) run against the memory engine (the reference,
 * on a manual clock) and the Redis engine (one spawned server, real time, a fresh key prefix per
 * run, every client behind its own TCP proxy). Both runs must pass the model's invariant checks
 * after every step (`@lockstep/engine-suite/model`: I1–I6, S2–S14, then the liveness drain) and every client
 * must observe the same deliveries on both engines: room, payload, kind, producer, priority,
 * subscription, order, and the step after which each arrived.
 *
 * Real time stays out of the semantics: the clients' timeout is long (no expiry within a run) and
 * there is no ack deadline, so what happens depends only on the operations. Redis delivery is
 * asynchronous (Pub/Sub on a second connection), so after every step the Redis engine "settles":
 *   1. every reachable client's subscriber connection is up (after a restore: resubscribed), and
 *      its command connection answers;
 *   2. a barrier: an out-of-band token on a sentinel room every client listens to (async); Redis
 *      delivers Pub/Sub messages to a connection in publish order, so once a client has the token
 *      it has every frame published before it;
 *   3. quiet: the number of deliveries and every room's state (backlog, members, acked, in flight)
 *      stay unchanged for a short period (longer after a restore: the resync, S12, runs then);
 * all within a deadline. A failure prints the shrunk counterexample and a `Replay:` token
 * (`arbitrary: { replay }` in the property's options runs that case again).
 *
 * Durable members (S21–S25, the third property): several processes of one durable id may be
 * running (a fenced one beside its successor) or have stopped; a cut reaches every running process
 * of the id and returns once each noticed it (a crash then tells the server nothing, as on the
 * memory engine), and only the running processes that still listen take part in the settle.
 * Nothing expires within a run, so the drain restarts every durable client and resumes its
 * memberships (`resumeOnDrain`) instead of waiting for them to end.
 *
 * Rejects and operator actions (S27–S30, the last two properties): the observer is a direct client
 * built with its `RoomAdmin` (`ClientLayer.makeClient`); it reads every room's dead letters after
 * each step (I12, on every property) and takes the operator's actions. Both engines must match the
 * model (I9–I13: attempts, nothing dead-lettered delivered again, nothing released while paused,
 * the letters, the answers) and deliver the same, attempts included.
 */
import { layer } from "@effect/vitest"
import { MemoryLayer, type QueueConfig, type SyncFanoutQueue } from "@lockstep/core"
import * as Model from "@lockstep/engine-suite/model"
import { ClientLayer, RedisConnection, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import { Clock, Context, Duration, Effect, Layer, Option, Stream, SubscriptionRef } from "effect"
import { Broker, brokerService } from "../../core/src/internal/memoryBroker.js"

type Queue = SyncFanoutQueue.SyncFanoutQueue["Service"]

/** no client expires within a run (S10 is covered by the timed tests), and no ack deadline (S11) */
const clientTimeoutMs = 60_000
/** the room of the settle barrier; never one of the scenario's rooms */
const sentinel = "settle-barrier"
/** quiet period of the settle, ms: after an ordinary step, and after a restore (reconnect + resync) */
const quietMs = 12
const quietAfterRestoreMs = 120
/** poll period of the settle, ms */
const pollMs = 3
/** a settle that takes longer fails the run */
const settleDeadlineMs = 8_000

let runs = 0

// ---------------------------------------------------------------------------------------------
// Engines
// ---------------------------------------------------------------------------------------------

/** The memory engine on a fresh broker and a manual clock (exact: slack 0, same clock). */
const runMemory = (scenario: Model.Scenario, options: Model.RunOptions) => {
  const clock = new Model.ManualClock()
  const server = new Broker()
  return Effect.succeed(brokerService(server)).pipe(
    Effect.flatMap((broker) =>
      Model.runScenarioLog(
        {
          client: (config) =>
            MemoryLayer.make(config).pipe(Effect.provideService(MemoryLayer.MemoryBroker, broker), Effect.orDie),
          operator: (config) =>
            MemoryLayer.makeClient(config).pipe(Effect.provideService(MemoryLayer.MemoryBroker, broker), Effect.orDie),
          cut: broker.cut,
          restore: broker.restore,
          advance: (millis) => clock.adjust(millis),
          settle: clock.settle,
          now: clock.currentTimeMillis,
          slackMs: 0,
          sameClock: true,
          members: (room) => Effect.sync(() => [...(server.keyspace("model").rooms.get(room)?.members.keys() ?? [])])
        },
        scenario,
        options
      )
    ),
    Effect.scoped,
    Effect.provideService(Clock.Clock, clock)
  )
}

interface RedisClient {
  readonly id: string
  readonly queue: Queue
  readonly proxy: TcpProxy.TcpProxy
  readonly connected: SubscriptionRef.SubscriptionRef<boolean>
  cut: boolean
  /** the last settle token this client received */
  token: number
  /** its process runs (a durable client's process may be crashed or shut down) */
  alive: boolean
  /** its settle subscription is open (a fenced process's ends once it learns it, S21) */
  listening: boolean
}

/**
 * A client of the spawned server through `port` (its own connections) and its `RoomAdmin`, in
 * the current scope.
 */
const redisClient = (port: number, config: QueueConfig.QueueConfig) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Layer.merge(ShardLayer.single, RedisLayer.layer({ host: "127.0.0.1", port }))
    ).pipe(Effect.orDie)
    const { admin, queue } = yield* ClientLayer.makeClient(config).pipe(Effect.provide(context), Effect.orDie)
    return { queue, admin, connection: Context.get(context, RedisConnection.RedisConnection) }
  })

/**
 * The Redis engine for one run: clients of the spawned server under `keyPrefix`, each behind its
 * own TCP proxy (cut / restore), and a settle that waits for Redis to be quiet (see the header).
 */
const redisEngine = (
  server: RedisTestServer.RedisTestServerShape,
  rooms: number,
  keyPrefix: string,
  operationTimeout: Duration.Duration,
  /** a cut returns once every process of the id noticed it (for crashes of durable clients) */
  noticeCuts = false
) =>
  Effect.gen(function*() {
    /** every process of each client id (several for a durable id: S21) */
    const clients = new Map<string, Array<RedisClient>>()
    const all = () => [...clients.values()].flat()
    /** the processes that take part in the settle */
    const listening = () => all().filter((c) => c.alive && c.listening)
    let delivered = 0
    let token = 0
    let restored = false
    const roomNames = Array.from({ length: rooms }, (_, i) => Model.roomName(i))

    // the settler: sends the barrier tokens and reads the room states; direct, never cut
    const settler = (yield* redisClient(server.port, {
      keyPrefix,
      clientTimeout: Duration.hours(1),
      housekeepingInterval: Duration.hours(1)
    })).queue

    const client = (config: QueueConfig.QueueConfig) =>
      Effect.gen(function*() {
        const proxy = yield* TcpProxy.make({ targetPort: server.port })
        const { connection, queue } = yield* redisClient(proxy.port, { ...config, keyPrefix, operationTimeout })
        const handle: RedisClient = {
          id: queue.clientId,
          queue,
          proxy,
          connected: connection.connected,
          cut: false,
          token: 0,
          alive: true,
          listening: true
        }
        clients.set(handle.id, [...(clients.get(handle.id) ?? []), handle])
        yield* Effect.addFinalizer(() => Effect.sync(() => handle.alive = false))
        const barrier = yield* queue.subscribe(sentinel, { mode: "async" }).pipe(Effect.orDie)
        yield* barrier.pipe(
          Stream.runForEach((d) => Effect.sync(() => handle.token = (d.data as { readonly token: number }).token)),
          Effect.ensuring(Effect.sync(() => handle.listening = false)),
          Effect.forkScoped
        )
        const counted: Queue = {
          ...queue,
          subscribe: (room, options) =>
            Effect.map(queue.subscribe(room, options), Stream.tap(() => Effect.sync(() => delivered++)))
        }
        return counted
      })

    const now = Clock.currentTimeMillis
    const waitFor = (
      what: string | (() => string),
      deadline: number,
      condition: Effect.Effect<boolean>
    ): Effect.Effect<void> =>
      Effect.gen(function*() {
        while (!(yield* condition)) {
          if ((yield* now) > deadline) {
            return yield* Effect.die(
              new Error(
                `Redis engine did not settle within ${settleDeadlineMs} ms: ${typeof what === "string" ? what : what()}`
              )
            )
          }
          yield* Effect.sleep(Duration.millis(pollMs))
        }
      })

    /** what must stop changing: deliveries so far, connection states, every room's state (not its age) */
    const snapshot = Effect.gen(function*() {
      const states = yield* Effect.forEach(roomNames, (room) =>
        settler.roomState(room).pipe(
          Effect.map((s) => [s.backlog, s.members, s.acked, Option.map(s.inFlight, (f) => f.id)]),
          Effect.orDie
        ))
      const up = yield* Effect.forEach(all().filter((c) => c.alive), (c) => SubscriptionRef.get(c.connected))
      return JSON.stringify([delivered, up, states])
    })

    const settle = Effect.gen(function*() {
      const deadline = (yield* now) + settleDeadlineMs
      const reachable = listening().filter((c) => !c.cut)
      yield* waitFor(
        "subscriber connections up",
        deadline,
        Effect.map(Effect.forEach(reachable, (c) => SubscriptionRef.get(c.connected)), (up) => up.every(Boolean))
      )
      if (restored) {
        // the command connection answers (it reconnects on its own schedule)
        yield* Effect.forEach(reachable, (c) => Effect.orDie(c.queue.roomState(sentinel)), { discard: true })
      }
      const t = ++token
      yield* Effect.orDie(settler.sendOutOfBand(sentinel, { token: t }))
      yield* waitFor(
        () =>
          `barrier token ${t}; waiting for ${
            reachable.filter((c) => c.token < t).map((c) => `${c.id} (token ${c.token}, listening ${c.listening})`)
              .join(", ")
          }`,
        deadline,
        Effect.sync(() => reachable.every((c) => c.token >= t || !c.listening))
      )
      const quiet = restored ? quietAfterRestoreMs : quietMs
      restored = false
      let last = yield* snapshot
      let since = yield* now
      while ((yield* now) - since < quiet) {
        if ((yield* now) > deadline) return yield* Effect.die(new Error("Redis engine did not settle: still changing"))
        yield* Effect.sleep(Duration.millis(pollMs))
        const next = yield* snapshot
        if (next !== last) {
          last = next
          since = yield* now
        }
      }
    })

    /** the connection of `c` reports down (within a bound) */
    const noticed = (c: RedisClient) =>
      SubscriptionRef.changes(c.connected).pipe(
        Stream.takeUntil((up) => !up),
        Stream.runDrain,
        Effect.timeout("2 seconds"),
        Effect.ignore
      )

    const engine: Model.Engine = {
      client,
      // the observer and operator (S29, S30): direct, never cut, subscribed to nothing
      operator: (config) => redisClient(server.port, { ...config, keyPrefix, operationTimeout }),
      // a cut reaches every running process of the id
      cut: (id) =>
        Effect.forEach(
          (clients.get(id) ?? []).filter((c) => c.alive),
          (c) =>
            Effect.suspend(() => {
              c.cut = true
              return noticeCuts ? Effect.andThen(c.proxy.cut, noticed(c)) : c.proxy.cut
            }),
          { discard: true }
        ),
      restore: (id) =>
        Effect.forEach(
          (clients.get(id) ?? []).filter((c) => c.alive),
          (c) =>
            Effect.suspend(() => {
              if (c.cut) restored = true
              c.cut = false
              return c.proxy.restore
            }),
          { discard: true }
        ),
      advance: (millis) => Effect.sleep(Duration.millis(millis)),
      settle,
      now,
      // only the keepalive bookkeeping of cut clients uses it here (no timer fires within a run)
      slackMs: 500,
      sameClock: false,
      // an operation on a cut connection waits in ioredis' offline queue until its deadline
      // (OperationTimeout), or fails once ioredis gives up reconnecting (EngineError)
      cutFailures: ["OperationTimeout", "EngineError"]
    }
    return engine
  })

/** The Redis run of `scenario` on a fresh key prefix (S19), in its own scope. */
const runRedis = (scenario: Model.Scenario, options: Model.RunOptions, operationTimeout: Duration.Duration) =>
  Effect.gen(function*() {
    const server = yield* RedisTestServer.RedisTestServer
    const keyPrefix = `model${process.pid}-${++runs}`
    const durable = (scenario.durable?.length ?? 0) > 0
    const engine = yield* redisEngine(server, scenario.rooms, keyPrefix, operationTimeout, durable)
    return yield* Model.runScenarioLog(engine, scenario, { ...options, keyPrefix })
  }).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

const show = (d: Model.DeliveryRecord) =>
  `#${d.step} sub${d.subscription} r${d.room} ${d.mode} ${d.kind} n=${d.n} from c${d.producer} p${d.priority} a${d.attempt}`

/** Fails (a defect) with the first divergence between the engines' observations. */
const compare = (scenario: Model.Scenario, memory: Model.ScenarioLog, redis: Model.ScenarioLog) =>
  Effect.suspend(() => {
    const problems: Array<string> = []
    for (let c = 0; c < scenario.clients; c++) {
      const m = memory.deliveries[c]!
      const r = redis.deliveries[c]!
      const first = Array.from({ length: Math.max(m.length, r.length) }, (_, i) => i)
        .find((i) => m[i] === undefined || r[i] === undefined || show(m[i]) !== show(r[i]))
      if (first !== undefined) {
        problems.push(
          `client c${c}: first divergence at delivery ${first}: memory ${m[first] ? show(m[first]) : "nothing"}, ` +
            `redis ${r[first] ? show(r[first]) : "nothing"}\n    memory: ${m.map(show).join(" | ")}\n    redis:  ${
              r.map(show).join(" | ")
            }`
        )
      }
    }
    const ends = (log: Model.ScenarioLog) =>
      log.subscriptions.map((s) => `sub${s.no} c${s.client} r${s.room} ${s.mode}: ${s.end}`).join("; ")
    if (ends(memory) !== ends(redis)) {
      problems.push(`subscriptions differ:\n    memory: ${ends(memory)}\n    redis:  ${ends(redis)}`)
    }
    return problems.length === 0
      ? Effect.void
      : Effect.die(new Error(`memory and Redis engines diverge:\n  ${problems.join("\n  ")}`))
  })

/**
 * Run `scenario` on both engines and compare. No timer matters within a run, so the liveness
 * drain needs no waiting. `operationTimeout` bounds what an operation of a cut Redis client costs.
 */
const differential = (scenario: Model.Scenario, operationTimeout = Duration.seconds(5)) =>
  Effect.gen(function*() {
    // durable memberships do not end within a run (S23): the drain resumes them (S22)
    const options: Model.RunOptions = { drainAdvanceMs: 0, resumeOnDrain: true }
    const memory = yield* runMemory(scenario, options)
    const redis = yield* runRedis(scenario, options, operationTimeout)
    yield* compare(scenario, memory, redis)
  })

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const common = {
  clientTimeoutsMs: [clientTimeoutMs],
  ackTimeoutsMs: [null],
  advanceMs: { min: 1, max: 20 },
  weights: { Advance: 1 }
} satisfies Model.ScenarioOptions

layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
  it.effect.prop(
    "memory and Redis deliver the same to every client (send / out-of-band / subscribe / ack / leave)",
    [Model.scenario({ ...common, length: { min: 1, max: 30 } })],
    ([scenario]) => differential(scenario),
    { timeout: 180_000, arbitrary: { runs: 50, size: Model.scenarioSize } }
  )

  // A cut client only acks (the ack is lost: repeated after the reconnect, S12) and leaves (the
  // leave is deferred to the reconnect, S6). Its sends would diverge: the memory engine fails them
  // at once, while on Redis they time out in ioredis' offline queue and are still sent on reconnect;
  // its subscribes take the connect timeout (10 s), not operationTimeout, to fail.
  // Every client starts as a sync member of every room, so cuts often hit a holder of the in-flight
  // message (resync after the restore in about half of the runs).
  it.effect.prop(
    "with cut / restore: resync, lost acks and deferred leaves (S6, S12), same deliveries",
    [
      Model.subscribedFirst(Model.scenario({
        ...common,
        cuts: true,
        whileCut: ["Ack", "Leave"],
        clients: { min: 2, max: 3 },
        weights: { Send: 6, Subscribe: 4, Ack: 5, Advance: 1, Cut: 3, Restore: 3, SendOutOfBand: 1, Leave: 1 },
        length: { min: 15, max: 30 }
      }))
    ],
    ([scenario]) => differential(scenario, Duration.millis(400)),
    { timeout: 180_000, arbitrary: { runs: 12, size: Model.scenarioSize } }
  )

  // S21–S25: durable clients crash (cut, noticed, then closed), restart under their id (resuming
  // their memberships, or claiming over a running process, which is fenced), shut down (detach or
  // leave per onClose), have a subscription interrupted (detach or leave), and their fenced
  // processes ack, send, subscribe and leave; no Cut / Restore operations (a crash cuts), and a
  // fenced process cut by a crash does nothing until the drain. Every client starts subscribed.
  it.effect.prop(
    "durable members: crash / restart / claim / shutdown / interrupt / fenced, same deliveries (S21–S25)",
    [
      Model.subscribedFirst(Model.scenario({
        ...common,
        durable: true,
        whileCut: ["Ack", "Leave", "Interrupt"],
        clients: { min: 2, max: 3 },
        weights: { Advance: 1, Subscribe: 5, Crash: 2, Restart: 3 },
        length: { min: 10, max: 25 }
      }))
    ],
    ([scenario]) => differential(scenario, Duration.millis(400)),
    { timeout: 180_000, arbitrary: { runs: 20, size: Model.scenarioSize } }
  )

  // S27–S30: on top of the durable members' operations, consumers reject instead of acking and an
  // operator (the observer's RoomAdmin) ejects, pauses and resumes, skips, purges, redrives and
  // drops dead letters; resumed memberships count attempts and dead-letter past maxDeliveries.
  // A cut client's reject is not generated: like its send, it would wait in ioredis' offline
  // queue and might still be made after its timeout.
  it.effect.prop(
    "rejects and operator actions: reject / eject / pause / resume / skip / purge / redrive / drop, attempts and maxDeliveries, same deliveries and dead letters (S27–S30)",
    [
      Model.subscribedFirst(Model.scenario({
        ...common,
        durable: true,
        operations: true,
        maxDeliveries: [null, 1, 2],
        whileCut: ["Ack", "Leave", "Interrupt"],
        clients: { min: 2, max: 3 },
        weights: { Advance: 1, Subscribe: 5, Crash: 2, Restart: 3, Interrupt: 2, Reject: 3 },
        length: { min: 10, max: 25 }
      }))
    ],
    ([scenario]) => differential(scenario, Duration.millis(400)),
    { timeout: 180_000, arbitrary: { runs: 12, size: Model.scenarioSize } }
  )

  it.effect(
    "attempts: one process resumes a held message again and again, up to maxDeliveries, same deliveries (S27, S28)",
    () => differential(Model.examples.resumedByOneProcess),
    { timeout: 60_000 }
  )

  // S27–S30 with cut / restore: an operator's ejection of a cut client is a notice it misses (a
  // sync member learns it at its resync, S12), a skip or purge while a holder is cut, its lost ack
  it.effect.prop(
    "rejects and operator actions with cut / restore: missed ejection notices, skips and purges while cut (S12, S30)",
    [
      Model.subscribedFirst(Model.scenario({
        ...common,
        cuts: true,
        operations: true,
        whileCut: ["Ack", "Leave"],
        clients: { min: 2, max: 3 },
        weights: { Send: 6, Subscribe: 4, Ack: 5, Advance: 1, Cut: 3, Restore: 3, Leave: 1, Reject: 3 },
        length: { min: 15, max: 30 }
      }))
    ],
    ([scenario]) => differential(scenario, Duration.millis(400)),
    { timeout: 180_000, arbitrary: { runs: 8, size: Model.scenarioSize } }
  )
})

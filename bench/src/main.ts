/**
 * `pnpm bench` (DESIGN §6): B1–B8 on servers spawned here, lockstep and the raw-ioredis baseline
 * side by side in the same run. Prints a table and writes bench/results.json.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { ClientLayer, RedisLayer, ShardLayer } from "@lockstep/redis"
import { RedisTestCluster, RedisTestServer } from "@lockstep/redis/testing"
import { Effect, Layer, Runtime } from "effect"
import { Redis } from "ioredis"
import { writeFileSync } from "node:fs"
import * as path from "node:path"
import * as B7 from "./b7/report.js"
import type { B7Row } from "./b7/report.js"
import * as B8 from "./b8/report.js"
import type { B8Result, B8Row } from "./b8/report.js"
import { CpuProbe, type CpuUsed, noteProtocols, protocolsSummary } from "./cpu.js"
import * as Lockstep from "./lockstep.js"
import { rawLockstep, rawPublish, type RawResult } from "./raw.js"

const quick = process.argv.includes("--quick")
const scale = quick ? 0.2 : 1
/** `--only B1,B3`: run just these scenarios (B5 and B4 included only when named) */
const onlyArg = process.argv.find((a) => a.startsWith("--only="))
const only = onlyArg === undefined ? null : new Set(onlyArg.slice("--only=".length).split(","))
const enabled = (scenario: string) => only === null || only.has(scenario)
/** `--repeat=3`: run every row 3 times and keep the median run (this VM's figures vary by ±10–20%) */
const repeatArg = process.argv.find((a) => a.startsWith("--repeat="))
const repeat = repeatArg === undefined ? 1 : Math.max(1, Number(repeatArg.slice("--repeat=".length)) || 1)

interface Row {
  readonly scenario: string
  readonly engine: string
  readonly messages: number
  readonly msgsPerSec: number
  readonly cycleP50Us: number | null
  readonly cycleP99Us: number | null
  readonly ratio: number | null
  /** CPU time per message: this Node process, and the Redis server(s) */
  readonly nodeCpuUs: number | null
  readonly redisCpuUs: number | null
  /** at the end of the timed section: Redis client connections, Redis used_memory, process RSS */
  readonly connections: number | null
  readonly redisMemoryBytes: number | null
  readonly rssMiB: number | null
  readonly note?: string
}

/** A scenario's result with the CPU its timed section cost this process and the Redis server(s). */
interface Measured extends RawResult {
  readonly cpu: CpuUsed | undefined
}

/** `node --expose-gc` (the bench script): a full GC before each scenario, so none pays for the garbage of the one before */
const collectGarbage = (globalThis as { gc?: () => void }).gc

const measureOnce = <E>(ports: ReadonlyArray<number>, scenario: (probe: CpuProbe) => Effect.Effect<RawResult, E>) =>
  Effect.suspend(() => {
    collectGarbage?.()
    const probe = new CpuProbe(ports)
    return Effect.map(scenario(probe), (result): Measured => ({ ...result, cpu: probe.result }))
  })

/** The median of `repeat` runs of a row (by elapsed time). */
const measure = <E>(ports: ReadonlyArray<number>, scenario: (probe: CpuProbe) => Effect.Effect<RawResult, E>) =>
  Effect.map(
    Effect.forEach(Array.from({ length: repeat }), () => measureOnce(ports, scenario)),
    (runs) => [...runs].sort((a, b) => a.elapsedMs - b.elapsedMs)[Math.floor(runs.length / 2)]!
  )

const pct = (xs: Array<number>, q: number) => {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 1000)
}

const row = (scenario: string, engine: string, messages: number, r: Measured, base?: Row): Row => {
  const msgsPerSec = Math.round(messages / (r.elapsedMs / 1000))
  const perMessage = (ms: number | null) => ms === null ? null : Math.round((ms * 1000) / messages)
  noteProtocols(engine, r.cpu?.protocols ?? [])
  return {
    scenario,
    engine,
    messages,
    msgsPerSec,
    cycleP50Us: pct(r.cycles, 0.5),
    cycleP99Us: pct(r.cycles, 0.99),
    ratio: base ? Math.round((msgsPerSec / base.msgsPerSec) * 100) / 100 : null,
    nodeCpuUs: perMessage(r.cpu?.nodeCpuMs ?? null),
    redisCpuUs: perMessage(r.cpu?.redisCpuMs ?? null),
    connections: r.cpu?.redisConnections ?? null,
    redisMemoryBytes: r.cpu?.redisMemoryBytes ?? null,
    rssMiB: r.cpu?.rssMiB ?? null
  }
}

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

/** A scenario that does not finish in 3 minutes fails the bench instead of hanging it. */
const bounded = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.timeoutOrElse(effect, {
    duration: "3 minutes",
    orElse: () => Effect.fail(new Error("a scenario did not finish in 3 minutes"))
  })
const lockstepRooms = (...args: Parameters<typeof Lockstep.lockstepRooms>) => bounded(Lockstep.lockstepRooms(...args))
const lockstepOutOfBand = (...args: Parameters<typeof Lockstep.lockstepOutOfBand>) =>
  bounded(Lockstep.lockstepOutOfBand(...args))
const lockstepProxy = (...args: Parameters<typeof Lockstep.lockstepProxy>) => bounded(Lockstep.lockstepProxy(...args))
const standalone = Lockstep.standalone

/**
 * B7 (production shape): every shape `repeat` times, raw and lockstep interleaved; the median run
 * of each row. The warm-up is long enough for the JIT to settle (3000 deliveries per subscriber
 * process at one room): with 300, both sides spent much of the timed section compiling (raw 112
 * µs of CPU per delivery instead of 67, lockstep 332 instead of 160, measured) and the figures said
 * more about start-up than about a running fleet.
 */
const b7 = async (port: number): Promise<Array<B7Row>> => {
  const shapes: ReadonlyArray<{ readonly name: string; readonly rows: ReadonlyArray<B7.Variant> }> = [
    {
      name: "B7 1 room × 3 sync processes",
      rows: B7.variants({ rooms: 1, warmup: Math.round(3000 * scale), timed: Math.round(3000 * scale), many: false })
    },
    {
      name: "B7 20 rooms × 3 sync processes",
      rows: B7.variants({ rooms: 20, warmup: Math.round(150 * scale), timed: Math.round(150 * scale), many: true })
    },
    {
      name: "B7 100 rooms × 3 sync processes",
      rows: B7.variants({ rooms: 100, warmup: Math.round(30 * scale), timed: Math.round(50 * scale), many: true })
    }
  ]
  // `B7_ROOMS=1,20`: only the shapes with these room counts (e.g. to profile one)
  const roomsWanted = process.env.B7_ROOMS?.split(",").map(Number)
  const out: Array<B7Row> = []
  for (const shape of shapes) {
    if (roomsWanted !== undefined && !roomsWanted.includes(shape.rows[0]!.shape.rooms)) continue
    const runs = shape.rows.map((): Array<B7.B7Result> => [])
    for (let r = 0; r < repeat; r++) {
      for (const [i, variant] of shape.rows.entries()) runs[i]!.push(await B7.run(port, variant.shape))
    }
    const medians = runs.map((list) =>
      [...list].sort((a, b) => a.msgsPerSec - b.msgsPerSec)[Math.floor(list.length / 2)]!
    )
    const raw = medians[0]!
    for (const [i, variant] of shape.rows.entries()) out.push(B7.row(shape.name, variant.label, medians[i]!, raw))
  }
  return out
}

/**
 * B8 (latency at light load): the production shape of B7 at one room, the producer paced at 100
 * and at 500 msgs/s, 300 warm-up messages then 2000 timed (as the issue measured them); at each
 * rate `repeat` rounds, raw and lockstep interleaved, every figure the median of its rounds.
 */
const b8 = async (port: number): Promise<Array<B8Row>> => {
  // `B8_RATES=100`: only these rates
  const rates = process.env.B8_RATES?.split(",").map(Number) ?? [100, 500]
  const out: Array<B8Row> = []
  for (const rate of rates) {
    const [rawShape, lockstepShape] = B8.shapes({
      rate,
      warmup: Math.round(300 * scale),
      timed: Math.round(2000 * scale)
    })
    const raw: Array<B8Result> = []
    const lockstep: Array<B8Result> = []
    for (let r = 0; r < repeat; r++) {
      raw.push(await B8.run(port, rawShape))
      lockstep.push(await B8.run(port, lockstepShape))
    }
    const scenario = `B8 1 room × 3 sync processes, ${rate} msgs/s`
    out.push(
      B8.row(scenario, "raw ioredis", rawShape, raw, raw),
      B8.row(scenario, "lockstep", lockstepShape, lockstep, raw)
    )
  }
  return out
}

const program = Effect.gen(function*() {
  const rows: Array<Row> = []
  const resources: Record<string, number | string> = {}
  const server = yield* RedisTestServer.make()
  const port = server.port
  const conn = standalone(port)
  const onServer = <E>(scenario: (probe: CpuProbe) => Effect.Effect<RawResult, E>) => measure([port], scenario)

  // B1: one room, 3 sync subscribers
  const n1 = Math.round(10_000 * scale)
  // the reference of B1 and B6
  const raw1 = !enabled("B1") && !enabled("B6") ? undefined : row(
    "B1 1 room × 3 sync",
    "raw ioredis",
    n1,
    yield* onServer((probe) =>
      promise(() => rawLockstep(port, { rooms: 1, subscribers: 3, perRoom: n1, tag: "raw1", probe }))
    )
  )
  if (enabled("B1") && raw1 !== undefined) {
    const ls1 = row(
      "B1 1 room × 3 sync",
      "lockstep",
      n1,
      yield* onServer((probe) => lockstepRooms(conn, { rooms: 1, subscribers: 3, perRoom: n1, tag: "ls1", probe })),
      raw1
    )
    const durable1 = row(
      "B1 1 room × 3 sync",
      "lockstep, durable members",
      n1,
      yield* onServer((probe) =>
        lockstepRooms(conn, { rooms: 1, subscribers: 3, perRoom: n1, tag: "lsd1", probe, durable: true })
      ),
      raw1
    )
    const rawStream1 = row(
      "B1 1 room × 3 sync",
      "raw ioredis + an Effect Stream consumer",
      n1,
      yield* onServer((probe) =>
        promise(() =>
          rawLockstep(port, { rooms: 1, subscribers: 3, perRoom: n1, tag: "rawstream1", probe, consumer: "stream" })
        )
      ),
      raw1
    )
    // measured after the rows above, so that their figures stay comparable with earlier runs
    const worker1 = row(
      "B1 1 room × 3 sync",
      "lockstep, RoomWorker",
      n1,
      yield* onServer((probe) =>
        lockstepRooms(conn, { rooms: 1, subscribers: 3, perRoom: n1, tag: "lsw1", probe, worker: true })
      ),
      raw1
    )
    rows.push(
      raw1,
      ls1,
      { ...worker1, note: "each subscriber a RoomWorker (acks when its handler succeeds)" },
      { ...durable1, note: "subscribers with a clientId (S21–S25)" },
      { ...rawStream1, note: "the raw loop, each subscriber reading through a Stream" }
    )
  }

  // B2: 100 rooms × 3 sync subscribers
  const per2 = Math.round(200 * scale)
  let ls2: Row | undefined
  if (enabled("B2") || enabled("B4")) {
    const raw2 = row(
      "B2 100 rooms × 3 sync",
      "raw ioredis",
      100 * per2,
      yield* onServer((probe) =>
        promise(() => rawLockstep(port, { rooms: 100, subscribers: 3, perRoom: per2, tag: "raw2", probe }))
      )
    )
    ls2 = row(
      "B2 100 rooms × 3 sync",
      "lockstep",
      100 * per2,
      yield* onServer((probe) => lockstepRooms(conn, { rooms: 100, subscribers: 3, perRoom: per2, tag: "ls2", probe })),
      raw2
    )
    const ls2each = row(
      "B2 100 rooms × 3 sync",
      "lockstep, a Stream per room",
      100 * per2,
      yield* onServer((probe) =>
        lockstepRooms(conn, { rooms: 100, subscribers: 3, perRoom: per2, tag: "ls2each", probe, streamPerRoom: true })
      ),
      raw2
    )
    const ls2ap = row(
      "B2 100 rooms × 3 sync",
      "lockstep, auto-pipelining",
      100 * per2,
      yield* onServer((probe) =>
        lockstepRooms(standalone(port, true), { rooms: 100, subscribers: 3, perRoom: per2, tag: "ls2ap", probe })
      ),
      raw2
    )
    rows.push(raw2, ls2, ls2each, ls2ap)
  }

  // B3: out-of-band fan-out to 3 subscribers
  if (enabled("B3")) {
    const n3 = Math.round(20_000 * scale)
    const raw3 = row(
      "B3 out-of-band × 3",
      "raw PUBLISH",
      n3,
      yield* onServer((probe) =>
        promise(() => rawPublish(port, { subscribers: 3, count: n3, concurrency: 64, tag: "raw3", probe }))
      )
    )
    const ls3 = row(
      "B3 out-of-band × 3",
      "lockstep",
      n3,
      yield* onServer((probe) =>
        lockstepOutOfBand(conn, { subscribers: 3, count: n3, concurrency: 64, tag: "ls3", probe })
      ),
      raw3
    )
    const rawEffect3 = row(
      "B3 out-of-band × 3",
      "raw PUBLISH, Effect producers and Stream consumers",
      n3,
      yield* onServer((probe) =>
        promise(() =>
          rawPublish(port, { subscribers: 3, count: n3, concurrency: 64, tag: "raweffect3", probe, style: "effect" })
        )
      ),
      raw3
    )
    rows.push(raw3, ls3, { ...rawEffect3, note: "the raw fan-out, producers as fibers, subscribers reading a Stream" })
  }

  // B6: the room proxy, 1 room × 100 local clients over one upstream client (vs B1's 3 direct members)
  if (enabled("B6") && raw1 !== undefined) {
    const n6 = Math.round(2_000 * scale)
    const ls6 = row(
      "B6 proxy 1 room × 100 local",
      "lockstep + RoomProxy",
      n6,
      yield* onServer((probe) => lockstepProxy(conn, { locals: 100, count: n6, tag: "ls6", probe })),
      raw1
    )
    rows.push({ ...ls6, note: "ratio vs B1 raw (3 members)" })
  }

  // B5: resources on the standalone server
  if (enabled("B5")) {
    yield* Effect.scoped(Effect.gen(function*() {
      const admin = new Redis({ port, host: "127.0.0.1" })
      yield* Effect.addFinalizer(() => Effect.promise(() => admin.quit()))
      const clientsBefore = Number(/connected_clients:(\d+)/.exec(yield* promise(() => admin.info("clients")))![1])
      const memBefore = Number(/used_memory:(\d+)/.exec(yield* promise(() => admin.info("memory")))![1])
      const rssBefore = process.memoryUsage().rss
      const rooms = Math.round(10_000 * scale)
      yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(Layer.merge(conn, ShardLayer.single))
        const client = yield* ClientLayer.make({ keyPrefix: "b5", clientTimeout: "60 seconds" }).pipe(
          Effect.provide(context)
        )
        const clientsDuring = Number(
          /connected_clients:(\d+)/.exec(yield* promise(() => admin.info("clients")))![1]
        )
        yield* Effect.forEach(Array.from({ length: rooms }, (_, i) => `idle${i}`), (room) => client.subscribe(room), {
          concurrency: 64,
          discard: true
        })
        const memAfter = Number(/used_memory:(\d+)/.exec(yield* promise(() => admin.info("memory")))![1])
        resources["connections per client process"] = clientsDuring - clientsBefore
        resources["idle rooms"] = rooms
        resources["redis bytes per idle room (1 member)"] = Math.round((memAfter - memBefore) / rooms)
        resources["process RSS growth MiB"] = Math.round(((process.memoryUsage().rss - rssBefore) / 1048576) * 10) /
          10
        resources["keys while subscribed"] = (yield* promise(() => admin.keys("b5:*"))).length
      }))
      resources["keys left after all left"] = (yield* promise(() => admin.keys("b5:*"))).length
      resources["process RSS MiB"] = Math.round(process.memoryUsage().rss / 1048576)
    }))
  }
  // B7: production shape, every subscriber and the producer a process of its own
  const b7Rows: Array<B7Row> = []
  if (enabled("B7")) b7Rows.push(...(yield* promise(() => b7(port))))
  // B8: latency at light load, B7's shape at one room with a paced producer
  const b8Rows: Array<B8Row> = []
  if (enabled("B8")) b8Rows.push(...(yield* promise(() => b8(port))))
  yield* server.stop

  // B4: 3-master cluster, 64 shards, 100 rooms (compared with B2 on the standalone server)
  if (enabled("B4") && ls2 !== undefined) {
    const cluster = yield* RedisTestCluster.make({ masters: 3 })
    const clusterConn = RedisLayer.cluster(cluster.masters)
    const ls4 = row(
      "B4 cluster 64 shards, 100 rooms × 3",
      "lockstep",
      100 * per2,
      yield* measure(
        cluster.masters.map((m) => m.port),
        (probe) =>
          lockstepRooms(clusterConn, {
            rooms: 100,
            subscribers: 3,
            perRoom: per2,
            tag: "ls4",
            sharding: ShardLayer.layer({ shards: 64 }),
            probe
          })
      ),
      ls2
    )
    rows.push({ ...ls4, note: "ratio vs B2 lockstep" })
  }

  const table = rows.map((r) => ({
    scenario: r.scenario,
    engine: r.engine,
    messages: r.messages,
    "msgs/s": r.msgsPerSec,
    "cycle p50 µs": r.cycleP50Us ?? "",
    "cycle p99 µs": r.cycleP99Us ?? "",
    ratio: r.ratio ?? "",
    "node CPU µs/msg": r.nodeCpuUs ?? "",
    "redis CPU µs/msg": r.redisCpuUs ?? "",
    conns: r.connections ?? "",
    "RSS MiB": r.rssMiB ?? "",
    note: r.note ?? ""
  }))
  console.table(table)
  if (b7Rows.length > 0) console.table(b7Rows.map(B7.tableRow))
  if (b8Rows.length > 0) {
    console.table(b8Rows.map(B8.tableRow))
    const spread = Math.max(...b8Rows.map((r) => r.clockSpreadUs))
    console.log(`B8: the processes' clocks agreed within ${spread} µs (in every round)`)
  }
  console.table(resources)
  console.log(protocolsSummary())
  // bench/results.json: this file runs compiled, from bench/build/src
  const out = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "..", "results.json")
  writeFileSync(
    out,
    JSON.stringify(
      { date: new Date().toISOString(), quick, repeat, node: process.version, rows, b7: b7Rows, b8: b8Rows, resources },
      null,
      2
    )
  )
  console.log(`wrote ${out}`)
})

// Ctrl-C (SIGINT) or SIGTERM interrupts the program, so its scope stops the redis-servers (spawned
// in process groups of their own, they do not get the terminal's signal); the bench exits when the
// program ends, whatever handles are left open (0, 1 after a failure, 130 when interrupted)
NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(NodeServices.layer)), {
  teardown: (exit) => Runtime.defaultTeardown(exit, (code) => process.exit(code))
})

/**
 * B8, latency at light load: B7's production shape (3 subscriber processes, 1 producer process,
 * each one client with its own connections, one room) with the producer paced at a fixed rate, so
 * every message finds the room idle; lockstep and the raw-ioredis loop in the same shape and the
 * same run (see `protocol.ts` for the steps and the clock). Measured per timed message: end to
 * end (the producer's time just before the send call → each subscriber's receipt) and the cycle
 * (→ the last of the three receipts); over the timed section: CPU per delivery of each subscriber
 * process, CPU per send of the producer, Redis CPU per message (`INFO`), and the rate achieved.
 * Plain Node: no Effect here.
 */
import { Redis } from "ioredis"
import * as path from "node:path"
import { clientProtocols, noteProtocols, redisCpuMs } from "../cpu.js"
import { nodeArgsFrom, startWorker, type WorkerProcess } from "../workerProcess.js"
import type { Done, Report, WorkerSpec } from "./protocol.js"

const workerPath = path.join(path.dirname(new URL(import.meta.url).pathname), "worker.js")

export interface Shape {
  readonly engine: "raw" | "lockstep"
  /** messages per second the producer is paced at */
  readonly rate: number
  readonly subscribers: number
  readonly warmup: number
  readonly timed: number
}

export interface Percentiles {
  readonly p50: number
  readonly p90: number
  readonly p99: number
}

export interface B8Result {
  readonly messages: number
  /** timed messages − 1 over the time from the first timed send to the last, per second */
  readonly achievedRate: number
  /** send → receipt, µs, over every subscriber's receipts (subscribers × messages) */
  readonly endToEndUs: Percentiles
  /** the smallest send → receipt, µs (negative would mean a receipt matched to the wrong send or the clocks disagree) */
  readonly endToEndMinUs: number
  /** send → the last of the subscribers' receipts, µs, per message */
  readonly cycleUs: Percentiles
  /**
   * messages sent before the one before had reached all the subscribers, %: they found the room
   * busy and waited for it (at light load, few do; many say the room fell behind the rate, and the
   * latencies are mostly queueing)
   */
  readonly queuedPct: number
  /** CPU per delivery of each subscriber process, µs, of which in the kernel */
  readonly subscriberCpuUs: ReadonlyArray<number>
  readonly subscriberSystemUs: ReadonlyArray<number>
  /** per delivery, each subscriber process: wake-ups (it slept) */
  readonly subscriberSleeps: ReadonlyArray<number>
  readonly producerCpuUs: number
  readonly producerSleeps: number
  readonly redisCpuUs: number
  /** how far the processes' clocks disagree (the spread of their `now()` − monotonic offsets), µs */
  readonly clockSpreadUs: number
}

/** Nearest rank, as B1 and B7. */
const percentile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

const percentiles = (sorted: ReadonlyArray<number>): Percentiles => ({
  p50: percentile(sorted, 0.5),
  p90: percentile(sorted, 0.9),
  p99: percentile(sorted, 0.99)
})

const ascending = (a: number, b: number) => a - b

/**
 * A worker process of the run; extra node arguments of the workers of one role and engine, for
 * profiling, e.g. `B8_NODE_ARGS_LOCKSTEP_SUBSCRIBER="--cpu-prof --cpu-prof-dir=/tmp/prof"`.
 */
const start = (spec: WorkerSpec): WorkerProcess<Report> =>
  startWorker<Report>({
    script: workerPath,
    spec,
    label: `B8 ${spec.engine} ${spec.role}`,
    nodeArgs: nodeArgsFrom(`B8_NODE_ARGS_${spec.engine.toUpperCase()}_${spec.role.toUpperCase()}`)
  })

/** `promise`, or a failure after `ms`: a lost message must fail the bench, not hang it. */
const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not finish in ${Math.round(ms / 1000)} s`)), ms)
    promise.then(resolve, reject).finally(() => clearTimeout(timer))
  })

let runs = 0

/** One round of `shape` against the redis-server on `port`. */
export const run = async (port: number, shape: Shape): Promise<B8Result> => {
  const tag = `b8-${shape.engine}-${shape.rate}-${++runs}`
  const subscriberIds = Array.from({ length: shape.subscribers }, (_, i) => `s${i}`)
  const base = {
    engine: shape.engine,
    port,
    tag,
    subscriberIds,
    rate: shape.rate,
    warmup: shape.warmup,
    timed: shape.timed
  } as const
  const subscribers = subscriberIds.map((id) => start({ ...base, role: "subscriber", id }))
  const producer = start({ ...base, role: "producer", id: "producer" })
  const all = [...subscribers, producer]
  const admin = new Redis({ port, host: "127.0.0.1" })
  // twice the paced time, and a minute for the processes to start and connect
  const limit = ((shape.warmup + shape.timed) / shape.rate) * 2000 + 60_000
  try {
    const ready = await within(Promise.all(all.map((p) => p.next("ready"))), limit, `B8 ${tag}: start`)
    const offsets = ready.map((r) => r.clockOffsetUs)
    producer.send("warmup")
    await within(Promise.all(all.map((p) => p.next("warm"))), limit, `B8 ${tag}: warm-up`)
    for (const p of subscribers) p.send("go")
    await Promise.all(subscribers.map((p) => p.next("started")))
    const redisBefore = await redisCpuMs(admin)
    producer.send("go")
    const [sent, ...received] = await within(
      Promise.all([producer.next("done"), ...subscribers.map((p) => p.next("done"))]),
      limit,
      `B8 ${tag}: timed section`
    )
    const redisAfter = await redisCpuMs(admin)
    noteProtocols(shape.engine, await clientProtocols(admin))
    return summary(shape, sent!, received, (redisAfter - redisBefore) * 1000, offsets)
  } finally {
    await Promise.all(all.map((p) => p.end()))
    await admin.quit()
  }
}

const summary = (
  shape: Shape,
  sent: Done,
  received: ReadonlyArray<Done>,
  redisUs: number,
  offsets: ReadonlyArray<number>
): B8Result => {
  const n = shape.timed
  const endToEnd: Array<number> = []
  const cycles: Array<number> = []
  let queued = 0
  let before = -Infinity
  for (let k = 0; k < n; k++) {
    const at = sent.times[k]!
    let last = -Infinity
    for (const r of received) {
      const t = r.times[k]!
      endToEnd.push((t - at) * 1000)
      if (t > last) last = t
    }
    cycles.push((last - at) * 1000)
    if (at < before) queued++
    before = last
  }
  endToEnd.sort(ascending)
  return {
    messages: n,
    achievedRate: (n - 1) / ((sent.times[n - 1]! - sent.times[0]!) / 1000),
    endToEndUs: percentiles(endToEnd),
    endToEndMinUs: endToEnd[0]!,
    cycleUs: percentiles(cycles.sort(ascending)),
    queuedPct: (queued / n) * 100,
    subscriberCpuUs: received.map((r) => r.cpuUs / n),
    subscriberSystemUs: received.map((r) => r.systemUs / n),
    subscriberSleeps: received.map((r) => r.sleeps / n),
    producerCpuUs: sent.cpuUs / n,
    producerSleeps: sent.sleeps / n,
    redisCpuUs: redisUs / n,
    clockSpreadUs: Math.max(...offsets) - Math.min(...offsets)
  }
}

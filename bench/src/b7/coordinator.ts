/**
 * B7, production shape (issue 13): the subscribers and the producer as separate OS processes,
 * each one client with its own connections, lockstep and the raw-ioredis loop in the same shape
 * and the same run (see `protocol.ts` for the steps). Measured over the timed section, after an
 * untimed warm-up: messages per second (the producer's first timed send to the last subscriber's
 * last delivery), cycle p50/p99 (one room), CPU per delivery of each subscriber process, CPU per
 * send of the producer, Redis CPU per message (`INFO` used_cpu_user + used_cpu_sys).
 */
import { Redis } from "ioredis"
import * as path from "node:path"
import { clientProtocols, noteProtocols, redisCpuMs } from "../cpu.js"
import { nodeArgsFrom, startWorker, type WorkerProcess } from "../workerProcess.js"
import type { Report, WorkerSpec } from "./protocol.js"

const workerPath = path.join(path.dirname(new URL(import.meta.url).pathname), "worker.js")

export interface Shape {
  readonly engine: "raw" | "lockstep"
  readonly rooms: number
  readonly subscribers: number
  readonly mode: WorkerSpec["mode"]
  /** raw subscribers: "stream" reads through an Effect `Stream` (the floor of an Effect API) */
  readonly consumer?: "callback" | "stream"
  readonly warmup: number
  readonly timed: number
}

export interface B7Result {
  readonly messages: number
  readonly msgsPerSec: number
  /** release-to-release intervals of one room, µs (all subscribers) */
  readonly cycles: ReadonlyArray<number>
  /** CPU per delivery of each subscriber process, µs, of which in the kernel */
  readonly subscriberCpuUs: ReadonlyArray<number>
  readonly subscriberSystemUs: ReadonlyArray<number>
  /** per delivery, each subscriber process: wake-ups (it slept), preemptions */
  readonly subscriberSleeps: ReadonlyArray<number>
  readonly subscriberPreempted: ReadonlyArray<number>
  readonly producerCpuUs: number
  readonly producerSleeps: number
  readonly redisCpuUs: number
}

/**
 * A worker process of the run; extra node arguments of the workers of one role and engine, for
 * profiling, e.g. `B7_NODE_ARGS_LOCKSTEP_SUBSCRIBER="--cpu-prof --cpu-prof-dir=/tmp/prof"`.
 */
const start = (spec: WorkerSpec): WorkerProcess<Report> =>
  startWorker<Report>({
    script: workerPath,
    spec,
    label: `B7 ${spec.engine} ${spec.role}`,
    nodeArgs: nodeArgsFrom(`B7_NODE_ARGS_${spec.engine.toUpperCase()}_${spec.role.toUpperCase()}`)
  })

let runs = 0

/** One run of `shape` against the redis-server on `port`. */
export const run = async (port: number, shape: Shape): Promise<B7Result> => {
  const tag = `b7-${shape.engine}-${shape.consumer ?? "callback"}-${++runs}`
  const subscriberIds = Array.from({ length: shape.subscribers }, (_, i) => `s${i}`)
  const base = {
    engine: shape.engine,
    port,
    tag,
    rooms: shape.rooms,
    mode: shape.mode,
    consumer: shape.consumer ?? "callback",
    subscriberIds,
    warmup: shape.warmup,
    timed: shape.timed,
    cycles: shape.rooms === 1
  } as const
  const subscribers = subscriberIds.map((id) => start({ ...base, role: "subscriber", id }))
  const producer = start({ ...base, role: "producer", id: "producer" })
  const all = [...subscribers, producer]
  const admin = new Redis({ port, host: "127.0.0.1" })
  try {
    await Promise.all(all.map((p) => p.next("ready")))
    producer.send("warmup")
    await Promise.all(all.map((p) => p.next("warm")))
    const redisBefore = await redisCpuMs(admin)
    if (process.env.B7_COMMANDSTATS) await admin.config("RESETSTAT")
    for (const p of subscribers) p.send("go")
    producer.send("go")
    const [sent, ...done] = await Promise.all([producer.next("done"), ...subscribers.map((p) => p.next("done"))])
    const redisAfter = await redisCpuMs(admin)
    if (process.env.B7_COMMANDSTATS) {
      const stats = await admin.info("commandstats")
      const n = shape.rooms * shape.timed
      for (const m of stats.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) {
        console.error(
          `${tag} ${m[1]}: ${(Number(m[2]) / n).toFixed(2)} calls/msg, ${(Number(m[3]) / n).toFixed(1)} µs/msg`
        )
      }
    }
    noteProtocols(shape.engine, await clientProtocols(admin))
    const messages = shape.rooms * shape.timed
    const report = (r: Report) => r as Extract<Report, { readonly t: "done" }>
    const first = report(sent!).at
    const last = Math.max(...done.map((d) => report(d).at))
    return {
      messages,
      msgsPerSec: Math.round(messages / ((last - first) / 1000)),
      cycles: done.flatMap((d) => report(d).cycles),
      subscriberCpuUs: done.map((d) => report(d).cpuUs / messages),
      subscriberSystemUs: done.map((d) => report(d).systemUs / messages),
      subscriberSleeps: done.map((d) => report(d).sleeps / messages),
      subscriberPreempted: done.map((d) => report(d).preempted / messages),
      producerCpuUs: report(sent!).cpuUs / messages,
      producerSleeps: report(sent!).sleeps / messages,
      redisCpuUs: ((redisAfter - redisBefore) * 1000) / messages
    }
  } finally {
    await Promise.all(all.map((p) => p.end()))
    await admin.quit()
  }
}

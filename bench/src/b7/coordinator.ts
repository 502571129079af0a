/**
 * B7, production shape (issue 13): the subscribers and the producer as separate OS processes,
 * each one client with its own connections, lockstep and the raw-ioredis loop in the same shape
 * and the same run (see `protocol.ts` for the steps). Measured over the timed section, after an
 * untimed warm-up: messages per second (the producer's first timed send to the last subscriber's
 * last delivery), cycle p50/p99 (one room), CPU per delivery of each subscriber process, CPU per
 * send of the producer, Redis CPU per message (`INFO` used_cpu_user + used_cpu_sys).
 */
import { Redis } from "ioredis"
import { spawn } from "node:child_process"
import * as path from "node:path"
import * as readline from "node:readline"
import type { Report, WorkerSpec } from "./protocol.js"

const workerPath = path.join(path.dirname(new URL(import.meta.url).pathname), "worker.js")

export interface Shape {
  readonly engine: "raw" | "lockstep"
  readonly rooms: number
  readonly subscribers: number
  readonly mode: "subscribe" | "many"
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

interface Process {
  readonly next: (t: Report["t"]) => Promise<Report>
  readonly send: (line: string) => void
  readonly end: () => Promise<void>
}

/**
 * Extra node arguments of the workers of one role and engine, for profiling, e.g.
 * `B7_NODE_ARGS_LOCKSTEP_SUBSCRIBER="--cpu-prof --cpu-prof-dir=/tmp/prof"`.
 */
const nodeArgs = (spec: WorkerSpec): Array<string> =>
  (process.env[`B7_NODE_ARGS_${spec.engine.toUpperCase()}_${spec.role.toUpperCase()}`] ?? "").split(" ").filter((a) =>
    a !== ""
  )

const start = (spec: WorkerSpec): Process => {
  const child = spawn(process.execPath, [...nodeArgs(spec), workerPath, JSON.stringify(spec)], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  const received: Array<Report> = []
  const waiting: Array<() => void> = []
  let failure: Error | undefined
  const wake = () => {
    for (const w of waiting.splice(0)) w()
  }
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    received.push(JSON.parse(line) as Report)
    wake()
  })
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  child.on("exit", (code) => {
    if (code !== 0) failure = new Error(`B7 ${spec.engine} ${spec.role} exited with code ${code}`)
    wake()
  })
  const next = (t: Report["t"]): Promise<Report> =>
    new Promise((resolve, reject) => {
      const look = () => {
        const at = received.findIndex((r) => r.t === t)
        if (at >= 0) return resolve(received.splice(at, 1)[0]!)
        if (failure !== undefined) return reject(failure)
        waiting.push(look)
      }
      look()
    })
  return {
    next,
    send: (line) => child.stdin.write(`${line}\n`),
    end: () => {
      child.stdin.end()
      const kill = setTimeout(() => child.kill("SIGKILL"), 10_000)
      return exited.then(() => clearTimeout(kill))
    }
  }
}

const redisCpuMs = async (admin: Redis) => {
  const info = await admin.info("cpu")
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? "0")
  return (field("used_cpu_user") + field("used_cpu_sys")) * 1000
}

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

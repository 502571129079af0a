/**
 * B8, latency at light load: what the bench tells a worker process (its spec, as argv[2], then
 * commands on stdin, one per line) and what the worker reports (JSON lines on stdout). Plain
 * Node: the engines' workers (`rawWorker.ts`, `lockstepWorker.ts`) plug into it.
 *
 * 1. every worker starts, subscribes (subscribers) or connects (producer) and reports `ready`
 *    with its clock offset (below);
 * 2. `warmup`, to the producer: it sends `warmup` messages paced at `rate`; every subscriber
 *    reports `warm` once it received them all (it acks each on receipt), the producer once its
 *    sends completed;
 * 3. `go`, to the subscribers: each takes `process.resourceUsage()` and reports `started`; then
 *    `go` to the producer: it takes its own and sends `timed` messages paced at `rate`, noting the
 *    time just before each send call; each subscriber notes the time of each timed receipt and
 *    reports `done` with them and its CPU once it received them all, the producer with its send
 *    times and CPU once its sends completed;
 * 4. stdin closes: the worker leaves and exits.
 *
 * The clock is `now()` of B7 (`performance.timeOrigin + performance.now()`, ms since the epoch with
 * sub-µs resolution), read in every process of one machine: each process's `performance.now()`
 * runs on the machine's monotonic clock from an origin it took from the wall clock when it started.
 * How far the processes' clocks disagree is measured, not assumed: each worker reports `now()`
 * minus `process.hrtime` (the monotonic clock itself, the same in every process), and the spread of
 * those offsets is the error of any difference of two processes' times.
 */
import { now, section } from "../b7/protocol.js"

export { now, roomName } from "../b7/protocol.js"

export interface WorkerSpec {
  readonly role: "subscriber" | "producer"
  readonly engine: "raw" | "lockstep"
  readonly port: number
  /** key prefix (lockstep) or key namespace (raw) of the run */
  readonly tag: string
  /** raw: this subscriber's id, and every subscriber's (the members each release waits for) */
  readonly id: string
  readonly subscriberIds: ReadonlyArray<string>
  /** messages per second the producer is paced at */
  readonly rate: number
  readonly warmup: number
  readonly timed: number
}

export type Report =
  | {
    readonly t: "ready"
    /** `now()` minus the monotonic clock (`process.hrtime`), µs: differs between processes by their clocks' disagreement */
    readonly clockOffsetUs: number
  }
  | { readonly t: "warm" }
  | { readonly t: "started" }
  | {
    readonly t: "done"
    /** CPU of this process over its timed section, µs (user + system, every thread) */
    readonly cpuUs: number
    /** of which in the kernel, µs */
    readonly systemUs: number
    /** times the process slept (voluntary context switches: a wake-up each) and was preempted */
    readonly sleeps: number
    readonly preempted: number
    /** `now()` of each timed message: the producer's just before its send call, a subscriber's at its receipt (ms) */
    readonly times: ReadonlyArray<number>
  }

export type Done = Extract<Report, { readonly t: "done" }>

/** What the coordinator drives in each process (see the steps above). */
export interface Worker {
  /** the producer's paced warm-up (the subscribers report `warm` by themselves) */
  readonly warmup: () => Promise<void>
  /** opens the timed section at once; resolves with its `done` report */
  readonly go: () => Promise<Done>
  readonly close: () => Promise<void>
}

/**
 * `now()` minus the monotonic clock, µs: `now()` read between two reads of `process.hrtime`, the
 * narrowest of 20 tries (so a preemption between the reads does not count).
 */
export const clockOffsetUs = (): number => {
  let narrowest = Infinity
  let offsetMs = 0
  for (let i = 0; i < 20; i++) {
    const before = process.hrtime.bigint()
    const at = now()
    const after = process.hrtime.bigint()
    if (after - before < narrowest) {
      narrowest = Number(after - before)
      offsetMs = at - Number(before + after) / 2e6
    }
  }
  return offsetMs * 1000
}

/**
 * A subscriber's receipts: reports `warm` after the warm-up, notes `at` for each timed one, and
 * resolves `done` with the last. `start` opens the timed section. `index` is the message's number
 * as the producer gave it: one producer, one room, lock-step, so the k-th delivery must be message
 * k (anything else ends the process: a latency matched to the wrong send would be no measurement).
 */
export const receipts = (spec: WorkerSpec, report: (r: Report) => void) => {
  const times = new Array<number>(spec.timed)
  let received = 0
  let timed: ReturnType<typeof section> | undefined
  let finish: (done: Done) => void = () => {}
  const done = new Promise<Done>((resolve) => {
    finish = resolve
  })
  return {
    start: (): Promise<Done> => {
      timed = section()
      return done
    },
    receive: (at: number, index: number): void => {
      if (index !== received) {
        process.stderr.write(`B8 ${spec.engine} ${spec.id}: delivery ${received} is message ${index}\n`)
        process.exit(1)
      }
      const k = received++ - spec.warmup
      if (k < 0) {
        if (received === spec.warmup) report({ t: "warm" })
        return
      }
      times[k] = at
      if (k === spec.timed - 1) finish({ t: "done", ...timed!.used(), times })
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Calls `send(k)` for k = 0 … count − 1 at the absolute times `start + k × 1000 / rate` ms, not a
 * fixed gap after each send: a send that starts late or takes long does not delay the ones after
 * it (the next is not waited for it, and any that are already due go at once). Returns `now()`
 * noted just before each call, once every send completed.
 */
export const paced = async (
  rate: number,
  count: number,
  send: (k: number) => Promise<unknown>
): Promise<Array<number>> => {
  const times = new Array<number>(count)
  const sends = new Array<Promise<unknown>>(count)
  const gap = 1000 / rate
  const start = now()
  for (let k = 0; k < count; k++) {
    const wait = start + k * gap - now()
    if (wait > 0) await sleep(wait)
    times[k] = now()
    sends[k] = send(k)
  }
  await Promise.all(sends)
  return times
}

/** The producer's side, the same for both engines: `send(k)` sends the k-th message of the run. */
export const producer = (
  spec: WorkerSpec,
  send: (k: number) => Promise<unknown>,
  close: () => Promise<void>
): Worker => ({
  warmup: () => paced(spec.rate, spec.warmup, send).then(() => {}),
  go: async () => {
    const from = section()
    const times = await paced(spec.rate, spec.timed, (k) => send(spec.warmup + k))
    return { t: "done", ...from.used(), times }
  },
  close
})

/**
 * B7, production shape: what the bench tells a worker process (its spec, as argv[2], then
 * commands on stdin, one per line) and what the worker reports (JSON lines on stdout).
 *
 * 1. every worker starts, subscribes (subscribers) or connects (producer) and reports `ready`;
 * 2. `warmup`: the producer sends `warmup` messages per room, untimed; every subscriber reports
 *    `warm` once it received them all (it acks each on receipt);
 * 3. `go`, to the subscribers first, then to the producer: each takes `process.cpuUsage()`; the
 *    producer sends `timed` messages per room (sequentially per room, the rooms concurrently);
 *    each subscriber reports `done` with its CPU once it received them all, the producer once its
 *    sends completed;
 * 4. stdin closes: the worker leaves and exits.
 */

export interface WorkerSpec {
  readonly role: "subscriber" | "producer"
  readonly engine: "raw" | "lockstep"
  readonly port: number
  /** key prefix (lockstep) or key namespace (raw) of the run */
  readonly tag: string
  readonly rooms: number
  /**
   * lockstep subscribers: one `subscribe` stream per room, one `subscribeMany` stream, or a
   * `RoomWorker` over the rooms (which subscribes per room and acks when its handler succeeds)
   */
  readonly mode: "subscribe" | "many" | "worker"
  /** raw subscribers: ack in the message callback, or parse and read through an Effect `Stream` per room */
  readonly consumer: "callback" | "stream"
  /** raw: this subscriber's id, and every subscriber's (the members each release waits for) */
  readonly id: string
  readonly subscriberIds: ReadonlyArray<string>
  readonly warmup: number
  readonly timed: number
  /** record release-to-release intervals (one room) */
  readonly cycles: boolean
}

export type Report =
  | { readonly t: "ready" }
  | { readonly t: "warm" }
  | {
    readonly t: "done"
    /** CPU of this process over its timed section, µs (user + system, every thread) */
    readonly cpuUs: number
    /** of which in the kernel, µs */
    readonly systemUs: number
    /** times the process slept (voluntary context switches: a wake-up each) and was preempted */
    readonly sleeps: number
    readonly preempted: number
    /** producer: when its first timed send started; subscriber: when its last timed delivery arrived (ms, epoch) */
    readonly at: number
    /** subscriber: release-to-release intervals of the timed section, µs */
    readonly cycles: ReadonlyArray<number>
  }

export const roomName = (tag: string, index: number): string => `${tag}-room${index}`

/** Now, in ms since the epoch, comparable across the processes of one machine. */
export const now = (): number => performance.timeOrigin + performance.now()

/**
 * A subscriber's count of deliveries: reports `warm` after the warm-up, records release-to-release
 * intervals if asked, and gives the `done` report with the last timed delivery (else undefined).
 * `start` opens the timed section.
 */
export const deliveryCounter = (spec: WorkerSpec, report: (r: Report) => void) => {
  const total = spec.rooms * (spec.warmup + spec.timed)
  const warmTotal = spec.rooms * spec.warmup
  let received = 0
  let timed: ReturnType<typeof section> | undefined
  let last = 0
  const cycles: Array<number> = []
  return {
    start: () => {
      timed = section()
    },
    count: (): Report | undefined => {
      received++
      if (received === warmTotal) report({ t: "warm" })
      if (received > warmTotal && spec.cycles) {
        const t = performance.now()
        if (last > 0) cycles.push(Math.round((t - last) * 1000))
        last = t
      }
      return received === total ? { t: "done", ...timed!.used(), at: now(), cycles } : undefined
    }
  }
}

/** The resources of this process, to measure a section: `section()` at its start, `used()` at its end. */
export const section = () => {
  const from = process.resourceUsage()
  return {
    used: () => {
      const to = process.resourceUsage()
      return {
        cpuUs: to.userCPUTime - from.userCPUTime + to.systemCPUTime - from.systemCPUTime,
        systemUs: to.systemCPUTime - from.systemCPUTime,
        sleeps: to.voluntaryContextSwitches - from.voluntaryContextSwitches,
        preempted: to.involuntaryContextSwitches - from.involuntaryContextSwitches
      }
    }
  }
}

/**
 * B8's rows: each rate's raw loop and lockstep, every figure the median over the rounds, with the
 * ratio lockstep / raw loop (of the same run) for the p50s and the CPU figures.
 */
import { type B8Result, run, type Shape } from "./coordinator.js"

export { type B8Result, run, type Shape }

/** The raw loop (the reference) and lockstep, at `rate` messages per second. */
export const shapes = (options: {
  readonly rate: number
  readonly warmup: number
  readonly timed: number
}): readonly [raw: Shape, lockstep: Shape] => {
  const common = { rate: options.rate, subscribers: 3, warmup: options.warmup, timed: options.timed }
  return [{ ...common, engine: "raw" }, { ...common, engine: "lockstep" }]
}

export interface B8Row {
  readonly scenario: string
  readonly engine: string
  readonly messages: number
  /** rounds the medians are taken over */
  readonly rounds: number
  readonly targetRate: number
  readonly achievedRate: number
  readonly endToEndP50Us: number
  readonly endToEndP90Us: number
  readonly endToEndP99Us: number
  readonly endToEndP50Ratio: number | null
  readonly cycleP50Us: number
  readonly cycleP90Us: number
  readonly cycleP99Us: number
  readonly cycleP50Ratio: number | null
  /** sent while the message before was still on its way to the subscribers, % */
  readonly queuedPct: number
  /** mean over the subscriber processes, per delivery */
  readonly subscriberCpuUs: number
  readonly subscriberCpuRatio: number | null
  /** of which in the kernel */
  readonly subscriberSystemUs: number
  /** wake-ups per delivery of a subscriber process */
  readonly subscriberSleeps: number
  readonly producerCpuUs: number
  readonly producerCpuRatio: number | null
  readonly redisCpuUs: number
  readonly redisCpuRatio: number | null
  /** the largest disagreement of the processes' clocks in any round, µs */
  readonly clockSpreadUs: number
  /** every round, as measured */
  readonly runs: ReadonlyArray<B8Result>
}

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
const ratio = (x: number, base: number) => Math.round((x / base) * 100) / 100

/** Each figure of `runs`, the median over the rounds. */
const medians = (runs: ReadonlyArray<B8Result>) => {
  const of = (f: (r: B8Result) => number) => median(runs.map(f))
  return {
    achievedRate: of((r) => r.achievedRate),
    endToEndP50Us: of((r) => r.endToEndUs.p50),
    endToEndP90Us: of((r) => r.endToEndUs.p90),
    endToEndP99Us: of((r) => r.endToEndUs.p99),
    cycleP50Us: of((r) => r.cycleUs.p50),
    cycleP90Us: of((r) => r.cycleUs.p90),
    cycleP99Us: of((r) => r.cycleUs.p99),
    queuedPct: of((r) => r.queuedPct),
    subscriberCpuUs: of((r) => mean(r.subscriberCpuUs)),
    subscriberSystemUs: of((r) => mean(r.subscriberSystemUs)),
    subscriberSleeps: of((r) => mean(r.subscriberSleeps)),
    producerCpuUs: of((r) => r.producerCpuUs),
    redisCpuUs: of((r) => r.redisCpuUs)
  }
}

/** A row from the rounds of one engine, and those of the raw loop at the same rate (itself for the raw row). */
export const row = (
  scenario: string,
  engine: string,
  shape: Shape,
  runs: ReadonlyArray<B8Result>,
  rawRuns: ReadonlyArray<B8Result>
): B8Row => {
  const isRaw = runs === rawRuns
  const m = medians(runs)
  const raw = medians(rawRuns)
  const vsRaw = (x: number, base: number) => isRaw ? null : ratio(x, base)
  return {
    scenario,
    engine,
    messages: shape.timed,
    rounds: runs.length,
    targetRate: shape.rate,
    achievedRate: Math.round(m.achievedRate * 10) / 10,
    endToEndP50Us: Math.round(m.endToEndP50Us),
    endToEndP90Us: Math.round(m.endToEndP90Us),
    endToEndP99Us: Math.round(m.endToEndP99Us),
    endToEndP50Ratio: vsRaw(m.endToEndP50Us, raw.endToEndP50Us),
    cycleP50Us: Math.round(m.cycleP50Us),
    cycleP90Us: Math.round(m.cycleP90Us),
    cycleP99Us: Math.round(m.cycleP99Us),
    cycleP50Ratio: vsRaw(m.cycleP50Us, raw.cycleP50Us),
    queuedPct: Math.round(m.queuedPct * 10) / 10,
    subscriberCpuUs: Math.round(m.subscriberCpuUs),
    subscriberCpuRatio: vsRaw(m.subscriberCpuUs, raw.subscriberCpuUs),
    subscriberSystemUs: Math.round(m.subscriberSystemUs),
    subscriberSleeps: Math.round(m.subscriberSleeps * 100) / 100,
    producerCpuUs: Math.round(m.producerCpuUs),
    producerCpuRatio: vsRaw(m.producerCpuUs, raw.producerCpuUs),
    redisCpuUs: Math.round(m.redisCpuUs),
    redisCpuRatio: vsRaw(m.redisCpuUs, raw.redisCpuUs),
    clockSpreadUs: Math.round(Math.max(...runs.map((r) => r.clockSpreadUs))),
    runs
  }
}

const withRatio = (value: number, r: number | null) => r === null ? String(value) : `${value} (${r})`

/** A row of the printed table: the p50s and CPU figures with their ratio to the raw loop in parentheses. */
export const tableRow = (r: B8Row) => ({
  scenario: r.scenario,
  engine: r.engine,
  messages: r.messages,
  "msgs/s": r.achievedRate,
  "e2e p50 µs": withRatio(r.endToEndP50Us, r.endToEndP50Ratio),
  "e2e p90": r.endToEndP90Us,
  "e2e p99": r.endToEndP99Us,
  "cycle p50 µs": withRatio(r.cycleP50Us, r.cycleP50Ratio),
  "cycle p90": r.cycleP90Us,
  "cycle p99": r.cycleP99Us,
  "queued %": r.queuedPct,
  "subscriber CPU µs/delivery": withRatio(r.subscriberCpuUs, r.subscriberCpuRatio),
  "producer CPU µs/send": withRatio(r.producerCpuUs, r.producerCpuRatio),
  "redis CPU µs/msg": withRatio(r.redisCpuUs, r.redisCpuRatio)
})

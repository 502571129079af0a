/**
 * B7's rows: the variants of each shape (the raw loop first: the others' reference) and their
 * figures as ratios to the raw loop of the same run.
 */
import { type B7Result, run, type Shape } from "./coordinator.js"

export { type B7Result, run }

export interface Variant {
  readonly label: string
  readonly shape: Shape
}

/**
 * raw; lockstep with one `subscribe` per room; if `many`, lockstep with one `subscribeMany`; the
 * raw loop read through an Effect `Stream`; lockstep with a `RoomWorker` (last, so that the rows
 * before run as they did before it was added)
 */
export const variants = (options: {
  readonly rooms: number
  readonly warmup: number
  readonly timed: number
  readonly many: boolean
}): ReadonlyArray<Variant> => {
  const common = { rooms: options.rooms, subscribers: 3, warmup: options.warmup, timed: options.timed }
  return [
    { label: "raw ioredis", shape: { ...common, engine: "raw", mode: "subscribe" } },
    {
      label: options.rooms === 1 ? "lockstep" : "lockstep, a subscribe per room",
      shape: { ...common, engine: "lockstep", mode: "subscribe" }
    },
    ...(options.many
      ? [{ label: "lockstep, subscribeMany", shape: { ...common, engine: "lockstep", mode: "many" } } as const]
      : []),
    // the floor of any Effect Stream API in this shape: the raw loop, read through a Stream per room
    {
      label: "raw ioredis + an Effect Stream consumer",
      shape: { ...common, engine: "raw", mode: "subscribe", consumer: "stream" }
    },
    // the worker most applications should consume with: a subscribe per room, the handler per delivery
    { label: "lockstep, RoomWorker", shape: { ...common, engine: "lockstep", mode: "worker" } }
  ]
}

export interface B7Row {
  readonly scenario: string
  readonly engine: string
  readonly messages: number
  readonly msgsPerSec: number
  readonly ratio: number | null
  readonly cycleP50Us: number | null
  readonly cycleP99Us: number | null
  /** mean over the subscriber processes */
  readonly subscriberCpuUs: number
  readonly subscriberCpuRatio: number | null
  /** of which in the kernel */
  readonly subscriberSystemUs: number
  /** wake-ups per delivery of a subscriber process, and preemptions */
  readonly subscriberSleeps: number
  readonly subscriberPreempted: number
  readonly producerCpuUs: number
  /** wake-ups per send of the producer */
  readonly producerSleeps: number
  readonly producerCpuRatio: number | null
  readonly redisCpuUs: number
  readonly redisCpuRatio: number | null
}

const percentile = (xs: ReadonlyArray<number>, q: number) => {
  if (xs.length === 0) return null
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
const ratio = (x: number, base: number) => Math.round((x / base) * 100) / 100

export const row = (scenario: string, engine: string, r: B7Result, raw: B7Result): B7Row => {
  const isRaw = r === raw
  const sub = mean(r.subscriberCpuUs)
  return {
    scenario,
    engine,
    messages: r.messages,
    msgsPerSec: r.msgsPerSec,
    ratio: isRaw ? null : ratio(r.msgsPerSec, raw.msgsPerSec),
    cycleP50Us: percentile(r.cycles, 0.5),
    cycleP99Us: percentile(r.cycles, 0.99),
    subscriberCpuUs: Math.round(sub),
    subscriberCpuRatio: isRaw ? null : ratio(sub, mean(raw.subscriberCpuUs)),
    subscriberSystemUs: Math.round(mean(r.subscriberSystemUs)),
    subscriberSleeps: Math.round(mean(r.subscriberSleeps) * 100) / 100,
    subscriberPreempted: Math.round(mean(r.subscriberPreempted) * 100) / 100,
    producerCpuUs: Math.round(r.producerCpuUs),
    producerSleeps: Math.round(r.producerSleeps * 100) / 100,
    producerCpuRatio: isRaw ? null : ratio(r.producerCpuUs, raw.producerCpuUs),
    redisCpuUs: Math.round(r.redisCpuUs),
    redisCpuRatio: isRaw ? null : ratio(r.redisCpuUs, raw.redisCpuUs)
  }
}

const withRatio = (value: number | null, r: number | null) =>
  value === null ? "" : r === null ? String(value) : `${value} (${r})`

/** A row of the printed table: each figure with its ratio to the raw loop in parentheses. */
export const tableRow = (r: B7Row) => ({
  scenario: r.scenario,
  engine: r.engine,
  messages: r.messages,
  "msgs/s": withRatio(r.msgsPerSec, r.ratio),
  "cycle p50 µs": r.cycleP50Us ?? "",
  "cycle p99 µs": r.cycleP99Us ?? "",
  "subscriber CPU µs/delivery": withRatio(r.subscriberCpuUs, r.subscriberCpuRatio),
  "of which sys": r.subscriberSystemUs,
  "wake-ups/delivery": r.subscriberSleeps,
  "producer CPU µs/send": withRatio(r.producerCpuUs, r.producerCpuRatio),
  "wake-ups/send": r.producerSleeps,
  "redis CPU µs/msg": withRatio(r.redisCpuUs, r.redisCpuRatio)
})

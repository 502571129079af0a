/**
 * The raw-ioredis baseline (DESIGN §6): a minimal lock-step loop with one Lua ack script that
 * releases and publishes the next message, no Effect, no envelopes beyond a small JSON string.
 */
import { Backend, type Delivery } from "@lockstep/core"
import { Effect, Fiber, Stream } from "effect"
import { Redis } from "ioredis"
import type { CpuProbe } from "./cpu.js"
import { ackLua } from "./rawScripts.js"

export interface RawResult {
  readonly elapsedMs: number
  /** release-to-release intervals seen by the first subscriber, ms */
  readonly cycles: Array<number>
}

type AckCaller = { rawAck: (k1: string, k2: string, k3: string, ...args: Array<string>) => Promise<unknown> }

/** A lock-step scenario (B1, B2, B4): the same for the baseline and for lockstep. */
export interface RoomsOptions {
  readonly rooms: number
  readonly subscribers: number
  readonly perRoom: number
  readonly tag: string
  readonly probe: CpuProbe
  /**
   * "stream": each subscriber parses the JSON message and reads it through an Effect `Stream`
   * (lockstep's delivery buffer, `Stream.runForEach`), acking without waiting, instead of
   * handling it in the message callback: what an Effect consumer costs, without lockstep.
   */
  readonly consumer?: "callback" | "stream"
}

/** An out-of-band fan-out scenario (B3). */
export interface FanOutOptions {
  readonly subscribers: number
  readonly count: number
  readonly concurrency: number
  readonly tag: string
  readonly probe: CpuProbe
  /**
   * "effect": the producers are Effect fibers awaiting each PUBLISH (`Effect.callback`) and each
   * subscriber parses the message and reads it through an Effect `Stream` (lockstep's delivery
   * buffer): what an Effect producer and consumer cost, without lockstep.
   */
  readonly style?: "promise" | "effect"
}

/** `rooms` rooms × `subscribers` sync subscribers (one command + one subscriber connection each), `perRoom` messages per room. */
export const rawLockstep = async (port: number, options: RoomsOptions): Promise<RawResult> => {
  const { rooms, subscribers, perRoom, tag } = options
  const subIds = Array.from({ length: subscribers }, (_, i) => `s${i}`)
  const roomNames = Array.from({ length: rooms }, (_, i) => `${tag}:room${i}`)
  const keys = (room: string) => [`${room}:pending`, `${room}:list`, `${room}:chan`] as const
  const producer = new Redis({ port, host: "127.0.0.1", enableReadyCheck: false })
  const subs = subIds.map(() => ({
    cmd: new Redis({ port, host: "127.0.0.1", enableReadyCheck: false }),
    sub: new Redis({ port, host: "127.0.0.1", enableReadyCheck: false })
  }))
  for (const s of subs) s.cmd.defineCommand("rawAck", { numberOfKeys: 3, lua: ackLua })
  // preload
  for (const room of roomNames) {
    const [, list] = keys(room)
    const pipe = producer.pipeline()
    for (let k = 0; k < perRoom; k++) pipe.rpush(list, JSON.stringify({ i: k, p: "producer", d: { n: k } }))
    await pipe.exec()
  }
  const cycles: Array<number> = []
  let last = 0
  const total = rooms * perRoom * subscribers
  let received = 0
  const consumers: Array<Fiber.Fiber<void, unknown>> = []
  const done = new Promise<void>((resolve) => {
    subs.forEach((s, index) => {
      const id = subIds[index]!
      const ack = (room: string) => {
        const [pending, list, chan] = keys(room)
        void (s.cmd as unknown as AckCaller).rawAck(pending, list, chan, id, ...subIds)
      }
      const count = () => {
        if (index === 0 && rooms === 1) {
          const now = performance.now()
          if (last > 0) cycles.push(now - last)
          last = now
        }
        if (++received === total) resolve()
      }
      if (options.consumer === "stream") {
        const buffer = Backend.makeDeliveryBuffer()
        s.sub.on("message", (channel: string, message: string) => {
          const room = channel.slice(0, -5)
          const parsed = JSON.parse(message) as { readonly d: unknown }
          buffer.offer({ room, data: parsed.d, ack: Effect.sync(() => ack(room)) } as unknown as Delivery.Delivery)
        })
        consumers.push(Effect.runFork(
          Backend.deliveryStream(buffer).pipe(
            Stream.runForEach((d) => Effect.andThen(Effect.sync(count), d.ack))
          )
        ))
        return
      }
      s.sub.on("message", (channel: string, _message: string) => {
        count()
        ack(channel.slice(0, -5))
      })
    })
  })
  for (const s of subs) await s.sub.subscribe(...roomNames.map((r) => keys(r)[2]))
  await options.probe.start()
  const start = performance.now()
  // release the first message of every room: everyone pending, then the ack of a phantom member
  for (const room of roomNames) {
    const [pending, list, chan] = keys(room)
    await producer.sadd(pending, "starter")
    await (subs[0]!.cmd as unknown as AckCaller).rawAck(pending, list, chan, "starter", ...subIds)
  }
  await done
  const elapsedMs = performance.now() - start
  await options.probe.stop()
  for (const fiber of consumers) Effect.runFork(Fiber.interrupt(fiber))
  await Promise.all([producer.quit(), ...subs.flatMap((s) => [s.cmd.quit(), s.sub.quit()])])
  return { elapsedMs, cycles }
}

/** Raw PUBLISH fan-out of `count` messages to `subscribers` subscribers, `concurrency` in flight. */
export const rawPublish = async (port: number, options: FanOutOptions): Promise<RawResult> => {
  const producer = new Redis({ port, host: "127.0.0.1", enableReadyCheck: false })
  const subs = Array.from(
    { length: options.subscribers },
    () => new Redis({ port, host: "127.0.0.1", enableReadyCheck: false })
  )
  const channel = `${options.tag}:oob`
  const effect = options.style === "effect"
  let received = 0
  const total = options.count * options.subscribers
  const consumers: Array<Fiber.Fiber<void, unknown>> = []
  const done = new Promise<void>((resolve) => {
    for (const s of subs) {
      if (effect) {
        const buffer = Backend.makeDeliveryBuffer()
        s.on("message", (_channel: string, message: string) => {
          const parsed = JSON.parse(message) as { readonly d: unknown }
          buffer.offer({ room: channel, data: parsed.d, ack: Effect.void } as unknown as Delivery.Delivery)
        })
        consumers.push(Effect.runFork(
          Backend.deliveryStream(buffer).pipe(
            Stream.runForEach(() => Effect.sync(() => ++received === total && resolve()))
          )
        ))
        continue
      }
      s.on("message", () => {
        if (++received === total) resolve()
      })
    }
  })
  for (const s of subs) await s.subscribe(channel)
  await options.probe.start()
  const start = performance.now()
  let next = 0
  const message = (k: number) => JSON.stringify({ i: k, p: "producer", d: { n: k } })
  const worker = async () => {
    while (next < options.count) {
      await producer.publish(channel, message(next++))
    }
  }
  const publish = (k: number) =>
    Effect.callback<void>((resume) => {
      producer.publish(channel, message(k)).then(() => resume(Effect.void), () => resume(Effect.void))
    })
  const effectWorker = Effect.whileLoop({
    while: () => next < options.count,
    body: () => publish(next++),
    step: () => {}
  })
  if (effect) {
    await Effect.runPromise(Effect.all(Array.from({ length: options.concurrency }, () => effectWorker), {
      concurrency: "unbounded",
      discard: true
    }))
  } else {
    await Promise.all(Array.from({ length: options.concurrency }, worker))
  }
  await done
  const elapsedMs = performance.now() - start
  await options.probe.stop()
  for (const fiber of consumers) Effect.runFork(Fiber.interrupt(fiber))
  await Promise.all([producer.quit(), ...subs.map((s) => s.quit())])
  return { elapsedMs, cycles: [] }
}

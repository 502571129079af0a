/**
 * The raw-ioredis lock-step loop as separate processes: a send script that queues and releases
 * when nothing is in flight, and the ack script of the in-process baseline, which releases and
 * PUBLISHes the next message when the last member acked. Subscribers ack inside the message
 * callback; the producer awaits each send, room by room.
 */
import { Backend, type Delivery } from "@lockstep/core"
import { Effect, Stream } from "effect"
import { Redis } from "ioredis"
import { ackLua, rawKeys as keys, type RawScript, sendLua } from "../rawScripts.js"
import type { Report, WorkerSpec } from "./protocol.js"
import { deliveryCounter, now, roomName, section } from "./protocol.js"

export interface Worker {
  readonly warmup: () => Promise<void>
  readonly go: () => Promise<Report>
  readonly close: () => Promise<void>
}

export const subscriber = async (spec: WorkerSpec, report: (r: Report) => void): Promise<Worker> => {
  const cmd = new Redis({ port: spec.port, host: "127.0.0.1", enableReadyCheck: false })
  const sub = new Redis({ port: spec.port, host: "127.0.0.1", enableReadyCheck: false })
  cmd.defineCommand("rawAck", { numberOfKeys: 3, lua: ackLua })
  const ack = (cmd as unknown as Record<string, RawScript>).rawAck!
  const rooms = Array.from({ length: spec.rooms }, (_, i) => roomName(spec.tag, i))
  const byChannel = new Map<string, ReturnType<typeof keys>>(rooms.map((room) => [keys(room)[2], keys(room)]))
  const counter = deliveryCounter(spec, report)
  let finish: (report: Report) => void = () => {}
  const finished = new Promise<Report>((resolve) => {
    finish = resolve
  })
  const handle = (channel: string) => {
    const [pending, list, chan] = byChannel.get(channel)!
    void ack.call(cmd, pending, list, chan, spec.id, ...spec.subscriberIds)
    const done = counter.count()
    if (done !== undefined) finish(done)
  }
  if (spec.consumer === "stream") {
    // what an Effect consumer costs without lockstep: each message parsed and read through a
    // Stream per room (lockstep's delivery buffer, `Stream.runForEach`), acked from there
    const buffers = new Map<string, Backend.DeliveryBuffer>(
      rooms.map((room) => [keys(room)[2], Backend.makeDeliveryBuffer()])
    )
    sub.on("message", (channel: string, message: string) => {
      const parsed = JSON.parse(message) as { readonly d: unknown }
      buffers.get(channel)!.offer(
        { room: channel, data: parsed.d, ack: Effect.sync(() => handle(channel)) } as unknown as Delivery.Delivery
      )
    })
    for (const buffer of buffers.values()) {
      Effect.runFork(Stream.runForEach(Backend.deliveryStream(buffer), (d) => d.ack))
    }
  } else {
    sub.on("message", (channel: string, _message: string) => handle(channel))
  }
  await sub.subscribe(...rooms.map((room) => keys(room)[2]))
  await cmd.ping()
  return {
    warmup: async () => {},
    go: async () => {
      counter.start()
      return finished
    },
    close: async () => {
      await Promise.all([cmd.quit(), sub.quit()])
    }
  }
}

export const producer = async (spec: WorkerSpec): Promise<Worker> => {
  const cmd = new Redis({ port: spec.port, host: "127.0.0.1", enableReadyCheck: false })
  cmd.defineCommand("rawSend", { numberOfKeys: 3, lua: sendLua })
  const send = (cmd as unknown as Record<string, RawScript>).rawSend!
  const rooms = Array.from({ length: spec.rooms }, (_, i) => roomName(spec.tag, i))
  await cmd.ping()
  let sent = 0
  const sendAll = (count: number) =>
    Promise.all(rooms.map(async (room) => {
      const [pending, list, chan] = keys(room)
      for (let k = 0; k < count; k++) {
        await send.call(cmd, pending, list, chan, JSON.stringify({ i: sent++, d: { n: k } }), ...spec.subscriberIds)
      }
    }))
  return {
    warmup: () => sendAll(spec.warmup).then(() => {}),
    go: async () => {
      const from = section()
      const at = now()
      await sendAll(spec.timed)
      return { t: "done", ...from.used(), at, cycles: [] }
    },
    close: async () => {
      await cmd.quit()
    }
  }
}

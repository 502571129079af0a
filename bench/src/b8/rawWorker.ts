/**
 * B8's raw-ioredis lock-step loop, B7's in the same shape: a send script that queues and releases
 * when nothing is in flight, the ack script that releases and PUBLISHes the next message when the
 * last member acked; each subscriber notes the time and acks inside the message callback (and
 * parses the message, for its number: B7's raw subscribers do not parse, any real one would). Plain
 * Node and ioredis: this module loads no Effect.
 */
import { Redis } from "ioredis"
import { ackLua, rawKeys, type RawScript, sendLua } from "../rawScripts.js"
import type { Report, Worker, WorkerSpec } from "./protocol.js"
import { now, producer as pacedProducer, receipts, roomName } from "./protocol.js"

const connect = (spec: WorkerSpec) => new Redis({ port: spec.port, host: "127.0.0.1", enableReadyCheck: false })

export const subscriber = async (spec: WorkerSpec, report: (r: Report) => void): Promise<Worker> => {
  const cmd = connect(spec)
  const sub = connect(spec)
  cmd.defineCommand("rawAck", { numberOfKeys: 3, lua: ackLua })
  const ack = (cmd as unknown as Record<string, RawScript>).rawAck!
  const [pending, list, chan] = rawKeys(roomName(spec.tag, 0))
  const received = receipts(spec, report)
  sub.on("message", (_channel: string, message: string) => {
    const at = now()
    void ack.call(cmd, pending, list, chan, spec.id, ...spec.subscriberIds)
    received.receive(at, (JSON.parse(message) as { readonly i: number }).i)
  })
  await sub.subscribe(chan)
  await cmd.ping()
  return {
    warmup: async () => {},
    go: () => received.start(),
    close: async () => {
      await Promise.all([cmd.quit(), sub.quit()])
    }
  }
}

export const producer = async (spec: WorkerSpec): Promise<Worker> => {
  const cmd = connect(spec)
  cmd.defineCommand("rawSend", { numberOfKeys: 3, lua: sendLua })
  const send = (cmd as unknown as Record<string, RawScript>).rawSend!
  const [pending, list, chan] = rawKeys(roomName(spec.tag, 0))
  await cmd.ping()
  return pacedProducer(
    spec,
    (k) => send.call(cmd, pending, list, chan, JSON.stringify({ i: k, d: { n: k } }), ...spec.subscriberIds),
    async () => {
      await cmd.quit()
    }
  )
}

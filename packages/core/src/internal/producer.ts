/**
 * The producing side of a client: `send` (S2) and `sendOutOfBand` (S9). Each is one synchronous
 * step that validates (S1, S2), takes the next sequence number (S7: message ids are the client id
 * and a sequence, never reused), encodes the envelope, checks its size (S16) and hands it to the
 * engine, with a span only under a real tracer (see `tracing.ts`): concurrent sends never share
 * or skip a number. `RoomAdmin.redrive` takes its numbers from the same `Sequence` (S7, S29).
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { BackendClient, BackendError } from "../Backend.js"
import * as Envelope from "../Envelope.js"
import * as MessageId from "../MessageId.js"
import { InvalidArgument, PayloadTooLarge, type QueueError } from "../QueueError.js"
import type { SyncFanoutQueue } from "../SyncFanoutQueue.js"
import type { ClientStats } from "./clientStats.js"
import { isTraced } from "./tracing.js"
import { priorityOrError, roomError, utf8Length } from "./validation.js"

type Service = SyncFanoutQueue["Service"]

/** What precedes the data in an encoded envelope: `d` is its last key (`Envelope.encodeMessage`). */
const dataKey = ",\"d\":"

/** UTF-8 bytes of one UTF-16 code unit at most: below it, a payload is within the limit uncounted. */
const maxUtf8BytesPerUnit = 3

/**
 * The last message sequence number this client took (S7): the next message is `last + 1`. One per
 * client, shared by every operation that makes a message id of this client.
 */
export class Sequence {
  /** the sequence of the first message is `last + 1` (a durable client's claim sets it) */
  constructor(public last: number) {}

  /** Take the next number. */
  next(): number {
    return ++this.last
  }
}

export const make = (options: {
  readonly backend: BackendClient
  readonly clientId: string
  readonly sequence: Sequence
  readonly maxPayloadBytes: number
  readonly now: () => number
  readonly stats: ClientStats
}): Pick<Service, "send" | "sendOutOfBand"> => {
  const { backend, clientId, maxPayloadBytes, now, sequence, stats } = options

  /** The envelope's JSON, or why it cannot be sent. */
  const encode = (envelope: Envelope.MessageEnvelope): string | InvalidArgument | PayloadTooLarge => {
    const json = Envelope.encodeMessage(envelope)
    if (Result.isFailure(json)) return new InvalidArgument({ message: json.failure })
    const text = json.success
    // S16: the limit applies to the data's JSON (the payload), not to the envelope around it.
    // `d` is the envelope's last key and `,"d":` cannot occur inside the JSON strings before it.
    const start = text.indexOf(dataKey) + dataKey.length
    if ((text.length - start - 1) * maxUtf8BytesPerUnit > maxPayloadBytes) {
      const size = utf8Length(text.slice(start, -1))
      if (size > maxPayloadBytes) return new PayloadTooLarge({ size, limit: maxPayloadBytes })
    }
    return text
  }

  const produce = (
    span: string,
    kind: "q" | "o",
    room: string,
    priority: unknown,
    data: unknown,
    write: (json: string, id: MessageId.MessageId, priority: number) => Effect.Effect<void, BackendError>
  ): Effect.Effect<MessageId.MessageId, QueueError> =>
    Effect.withFiber((fiber): Effect.Effect<MessageId.MessageId, QueueError> => {
      const invalid = roomError(room)
      if (invalid !== undefined) return Effect.fail(invalid)
      const pr = priorityOrError(priority)
      if (typeof pr !== "number") return Effect.fail(pr)
      const s = sequence.last + 1
      const json = encode({ k: kind, p: clientId, s, pr, t: now(), d: data })
      if (typeof json !== "string") return Effect.fail(json)
      sequence.last = s
      const id = MessageId.make(clientId, s)
      const sent = Effect.map(write(json, id, pr), () => {
        stats.sent()
        return id
      })
      return isTraced(fiber) ? Effect.withSpan(sent, span, { attributes: { room }, captureStackTrace: false }) : sent
    })

  return {
    send: (room, data, options) =>
      produce(
        "SyncFanoutQueue.send",
        "q",
        room,
        options?.priority,
        data,
        (json, id, priority) => backend.send(room, json, priority, id)
      ),
    sendOutOfBand: (room, data) =>
      produce("SyncFanoutQueue.sendOutOfBand", "o", room, 0, data, (json) => backend.sendOutOfBand(room, json))
  }
}

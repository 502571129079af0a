/**
 * The wire format shared by every engine. A message travels as one JSON envelope string, stored
 * as-is by the server and published with a frame number in front: `<event>|<envelope JSON>`.
 * Frame numbers grow for good within a room (they are numbered per engine or per shard, so they
 * keep growing when a room is dropped and made again); a joiner drops the frames up to the number
 * its join returned (S5). Engines and tools that talk to lockstep rooms use this module.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { EjectReason } from "./QueueError.js"

/**
 * A message: `k` is "q" (queued) or "o" (out-of-band); `p` producer id; `s` producer sequence;
 * `pr` priority; `t` send time (ms since epoch, producer clock); `d` the JSON data.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MessageEnvelope = Schema.Struct({
  k: Schema.Literals(["q", "o"]),
  p: Schema.String,
  s: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  pr: Schema.Int,
  t: Schema.Number,
  d: Schema.Unknown
})

/**
 * The type of a message envelope.
 *
 * @since 0.1.0
 * @category models
 */
export type MessageEnvelope = typeof MessageEnvelope.Type

/**
 * An ejection notice published on the room channel: client `c` was removed for `why`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EjectEnvelope = Schema.Struct({
  k: Schema.Literal("e"),
  c: Schema.String,
  why: EjectReason
})

/**
 * The type of an ejection notice.
 *
 * @since 0.1.0
 * @category models
 */
export type EjectEnvelope = typeof EjectEnvelope.Type

/**
 * Any envelope on a room channel: a message or an ejection notice.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Envelope = Schema.Union([MessageEnvelope, EjectEnvelope])

/**
 * The type of an envelope.
 *
 * @since 0.1.0
 * @category models
 */
export type Envelope = typeof Envelope.Type

/**
 * A published frame: its number (S5) and the envelope.
 *
 * @since 0.1.0
 * @category models
 */
export interface Frame {
  readonly event: number
  readonly envelope: Envelope
}

const decodeEnvelope = Schema.decodeUnknownResult(Envelope)

const reasons: ReadonlySet<unknown> = new Set(EjectReason.literals)

/** The same acceptance as `Envelope` (the schema), without its allocation cost. */
const isEnvelope = (u: unknown): u is Envelope => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const o = u as Record<string, unknown>
  if (o.k === "q" || o.k === "o") {
    return typeof o.p === "string" && Number.isInteger(o.s) && (o.s as number) >= 0 && Number.isInteger(o.pr) &&
      typeof o.t === "number" && "d" in o
  }
  return o.k === "e" && typeof o.c === "string" && reasons.has(o.why)
}

/**
 * Decode an envelope JSON string. Never throws: garbage gives a `Failure` with the reason.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (json: string): Result.Result<Envelope, string> => {
  const result = decodeOrReason(json)
  return typeof result === "string" ? Result.fail(result) : Result.succeed(result)
}

/**
 * `decode` without the `Result`: the envelope, or why it is not one (a string). For the hot path
 * of engines, where every delivery is decoded.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeOrReason = (json: string): Envelope | string => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return "not JSON"
  }
  // hot path: a hand-written check of exactly what the schemas above accept; the schema only
  // runs to explain a rejection
  if (isEnvelope(parsed)) return parsed
  try {
    return Result.match(decodeEnvelope(parsed), {
      onFailure: (e): Envelope | string => e.message,
      onSuccess: (envelope) => envelope
    })
  } catch {
    // a hostile value may make the schema's explanation throw (e.g. String() of {"toString":0})
    return "not an envelope"
  }
}

/**
 * Decode a published frame `<event>|<envelope JSON>`. Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeFrame = (frame: string): Result.Result<Frame, string> => {
  const result = decodeFrameOrReason(frame)
  return typeof result === "string" ? Result.fail(result) : Result.succeed(result)
}

/** Digits of a frame number at most: every 15-digit decimal is below 2⁵³, a safe integer. */
const maxEventDigits = 15

/** The char code of "0": a digit's value is its code minus this. */
const zeroCode = 48

/** The char code of "|", which ends a frame's number. */
const barCode = 124

/**
 * `decodeFrame` without the `Result`: the frame, or why it is not one (a string).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeFrameOrReason = (frame: string): Frame | string => {
  // the event number: up to `maxEventDigits` decimal digits before the first "|", read in place
  let event = 0
  let bar = 0
  for (; bar < frame.length; bar++) {
    const digit = frame.charCodeAt(bar) - zeroCode
    if (digit < 0 || digit > 9) break
    if (bar === maxEventDigits) return "bad event number"
    event = event * 10 + digit
  }
  if (bar === 0 || frame.charCodeAt(bar) !== barCode) return "not a frame"
  const envelope = decodeOrReason(frame.slice(bar + 1))
  return typeof envelope === "string" ? envelope : { event, envelope }
}

/**
 * Encode a message envelope. Fails (a `Failure`) when `data` is not JSON-serialisable.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeMessage = (envelope: MessageEnvelope): Result.Result<string, string> => {
  const t = typeof envelope.d
  if (t === "undefined" || t === "function" || t === "symbol") {
    return Result.fail(`data is not JSON-serialisable (${t})`)
  }
  try {
    return Result.succeed(JSON.stringify(envelope))
  } catch (e) {
    return Result.fail(`data is not JSON-serialisable: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/**
 * Encode an ejection notice.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeEject = (clientId: string, why: EjectReason): string => JSON.stringify({ k: "e", c: clientId, why })

/**
 * A dead letter's envelope queued again (S29): a queued message (`k: "q"`) of producer
 * `producer` with sequence `sequence` sent at `sentAt` (ms), with the priority of `envelope` and
 * its data text unchanged (byte for byte: `d` is an envelope's last key, `encodeMessage`). Engines
 * that cannot run this function (a Redis script) must produce the same string. A failure when
 * `envelope` is not a message envelope.
 *
 * @since 1.1.0
 * @category encoding
 */
export const redriven = (
  envelope: string,
  template: { readonly producer: string; readonly sequence: number; readonly sentAt: number }
): Result.Result<string, string> => {
  const decoded = decodeOrReason(envelope)
  if (typeof decoded === "string") return Result.fail(decoded)
  if (decoded.k !== "q" && decoded.k !== "o") return Result.fail("not a message envelope")
  const start = envelope.indexOf(dataKey)
  if (start < 0) return Result.fail("no data key")
  const head = JSON.stringify({
    k: "q",
    p: template.producer,
    s: template.sequence,
    pr: decoded.pr,
    t: template.sentAt
  })
  return Result.succeed(head.slice(0, -1) + envelope.slice(start))
}

/** What precedes the data in an encoded envelope: `d` is its last key. */
const dataKey = ",\"d\":"

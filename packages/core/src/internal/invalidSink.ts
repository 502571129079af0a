/**
 * How `TypedQueue` (S16) counts a delivery its schema cannot decode in the `metrics().invalid` of
 * the client it reads from, without a member on the public `SyncFanoutQueue` type for it: every
 * client made by `makeQueue` carries its counter under a symbol key of the service object. An
 * own enumerable property, so a wrapper made by spreading the service (`{ ...queue, send }`)
 * keeps it; the type does not name it.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as QueueMetrics from "../QueueMetrics.js"

type Record = (room: string, reason: string) => void

const key: unique symbol = Symbol.for("@lockstep/core/internal/invalidSink")

/** Count the undecodable deliveries reported for `service` with `record`. */
export const register = (service: object, record: Record): void => {
  Object.defineProperty(service, key, { value: record, enumerable: true })
}

const recordOf = (service: object): Record | undefined => {
  const record = (service as { readonly [key]?: unknown })[key]
  return typeof record === "function" ? record as Record : undefined
}

/** Kinds of invalid message logged at most, so that a hostile publisher cannot flood the log. */
export const maxLoggedKinds = 32

/** Characters of a decode failure kept to tell its kind: enough for the schema's first line. */
const maxKindLength = 200

/** Characters of a decode failure logged at most: it quotes the value, which a publisher controls. */
export const maxLoggedReason = 1000

/** The kind of a decode failure (S16): the first line of its beginning, one log line per kind. */
export const kindOf = (reason: string): string => reason.slice(0, maxKindLength).split("\n", 1)[0]!

/** The kinds the fallback logged (a client logs its own, `ClientStats`). */
const loggedKinds = new Set<string>()

/**
 * Count an undecodable delivery of `room` for the client `service`. A service made elsewhere (a
 * test double) has no counter of its own: the delivery is counted in the process-wide
 * `lockstep_messages_invalid_total` metric and logged once per kind of failure.
 */
export const recordInvalid = (service: object, room: string, reason: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    const record = recordOf(service)
    if (record !== undefined) return Effect.sync(() => record(room, reason))
    const kind = kindOf(reason)
    const counted = Metric.update(QueueMetrics.invalidTotal, 1)
    if (loggedKinds.has(kind) || loggedKinds.size >= maxLoggedKinds) return counted
    loggedKinds.add(kind)
    return Effect.andThen(
      counted,
      Effect.logWarning(
        `lockstep: invalid message on room ${JSON.stringify(room)}: ${reason.slice(0, maxLoggedReason)}`
      )
    )
  })

/**
 * How `TypedQueue` (S16) counts a delivery its schema cannot decode in the `metrics().invalid` of
 * the client it reads from, without a public member on `SyncFanoutQueue` for it: every client made
 * by `makeQueue` registers its counter here, keyed by its service object.
 */
import * as Effect from "effect/Effect"
import type * as MetricLabel from "effect/MetricLabel"
import * as QueueMetrics from "../QueueMetrics.js"

type Record = (room: string, reason: string) => void

const sinks = new WeakMap<object, Record>()

/** Count the undecodable deliveries reported for `service` with `record`. */
export const register = (service: object, record: Record): void => {
  sinks.set(service, record)
}

const noTags: ReadonlyArray<MetricLabel.MetricLabel> = []

/**
 * Count an undecodable delivery of `room` for the client `service`. A service made elsewhere (a
 * wrapper, a test double) has no counter of its own: the delivery is counted in the process-wide
 * `lockstep_messages_invalid_total` metric and logged.
 */
export const recordInvalid = (service: object, room: string, reason: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    const record = sinks.get(service)
    if (record !== undefined) return Effect.sync(() => record(room, reason))
    QueueMetrics.invalidTotal.unsafeUpdate(1, noTags)
    return Effect.logWarning(`lockstep: invalid message on room ${JSON.stringify(room)}: ${reason.slice(0, 1000)}`)
  })

/**
 * Queue metrics (S15): the snapshot returned by `SyncFanoutQueue.metrics` and the same figures as
 * Effect `Metric`s, so any metrics exporter (Prometheus, OpenTelemetry) picks them up.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Metric from "effect/Metric"
import type { MessageId } from "./MessageId.js"

/**
 * Delivery latency over a recent window: min, average, max and percentiles.
 *
 * @since 0.1.0
 * @category models
 */
export interface LatencySummary {
  readonly min: Duration.Duration
  readonly avg: Duration.Duration
  readonly max: Duration.Duration
  readonly p50: Duration.Duration
  readonly p99: Duration.Duration
}

/**
 * The snapshot returned by `SyncFanoutQueue.metrics` (S15).
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueMetrics {
  /** rooms with a backlog */
  readonly knownRooms: number
  /** by backlog, descending */
  readonly topRooms: ReadonlyArray<{ readonly room: string; readonly backlog: number }>
  /** live clients registered on the server */
  readonly knownClients: number
  /** rooms this client is subscribed to */
  readonly subscribedRooms: number
  /** deliveries that reached this client's subscriptions (a TypedQueue that cannot decode one also counts it in `invalid`) */
  readonly received: number
  /** messages this client could not decode */
  readonly invalid: number
  /** delivery latency over this client's recent window */
  readonly latency: LatencySummary
  /**
   * The rooms whose in-flight message is oldest, oldest first (S26): what each waits for. At most
   * `stalledRooms` (an option of `metrics`, default 10).
   */
  readonly stalled: ReadonlyArray<StalledRoom>
}

/**
 * A room waiting for the acks of its in-flight message (S26).
 *
 * @since 0.2.0
 * @category models
 */
export interface StalledRoom {
  readonly room: string
  /** the in-flight message */
  readonly inFlight: MessageId
  readonly releasedAt: Date
  readonly age: Duration.Duration
  /** the sync members that have not acked it yet, sorted */
  readonly waitingFor: ReadonlyArray<string>
}

/**
 * Messages received by subscriptions of this process.
 *
 * @since 0.1.0
 * @category metrics
 */
export const receivedTotal = Metric.counter("lockstep_messages_received_total", {
  description: "messages delivered to subscriptions of this process",
  incremental: true
})

/**
 * Messages this process could not decode (garbage on a room channel, schema mismatches).
 *
 * @since 0.1.0
 * @category metrics
 */
export const invalidTotal = Metric.counter("lockstep_messages_invalid_total", {
  description: "undecodable messages received by this process",
  incremental: true
})

/**
 * Messages sent by this process (queued and out-of-band).
 *
 * @since 0.1.0
 * @category metrics
 */
export const sentTotal = Metric.counter("lockstep_messages_sent_total", {
  description: "messages sent by this process",
  incremental: true
})

/**
 * Ejections of this process's subscriptions.
 *
 * @since 0.1.0
 * @category metrics
 */
export const ejectedTotal = Metric.counter("lockstep_ejections_total", {
  description: "subscriptions of this process ended by ejection",
  incremental: true
})

/**
 * Delivery latency in milliseconds (receive time − producer's send time).
 *
 * @since 0.1.0
 * @category metrics
 */
export const latencyMs = Metric.histogram("lockstep_delivery_latency_ms", {
  boundaries: Metric.exponentialBoundaries({ start: 0.05, factor: 2, count: 20 }),
  description: "delivery latency in milliseconds"
})

/**
 * Operator actions (S30) taken by this process through `RoomAdmin`, with the attribute `action`:
 * `eject`, `pause`, `resume`, `skip`, `purge`, `redrive`, `dropDeadLetters`.
 *
 * @since 1.1.0
 * @category metrics
 */
export const adminActionsTotal = Metric.counter("lockstep_admin_actions_total", {
  description: "operator actions (RoomAdmin) taken by this process",
  incremental: true
})

/**
 * Rooms that `RoomWorker`s of this process joined again after an ejection, by the ejection's
 * `reason` (`keepalive-timeout`, `ack-timeout`, `slow-consumer`, `operator`). The room is not an
 * attribute: room names are unbounded, and a metric series per room would be too.
 *
 * @since 1.1.0
 * @category metrics
 */
export const workerRejoinsTotal = Metric.counter("lockstep_worker_rejoins_total", {
  description: "rooms a RoomWorker of this process joined again after an ejection, by reason",
  incremental: true
})

/**
 * Deliveries whose `RoomWorker` handler still failed after its retries, by what the worker then
 * did (`outcome`: `reject`, `ack` or `fail`).
 *
 * @since 1.1.0
 * @category metrics
 */
export const workerFailuresTotal = Metric.counter("lockstep_worker_failures_total", {
  description: "deliveries whose RoomWorker handler failed after its retries, by outcome",
  incremental: true
})

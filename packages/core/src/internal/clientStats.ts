/**
 * What one client counts about itself (S15): deliveries received, undecodable messages, recent
 * delivery latency, and the same figures as the process-wide Effect `Metric`s.
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as QueueMetrics from "../QueueMetrics.js"
import { kindOf, maxLoggedKinds, maxLoggedReason } from "./invalidSink.js"
import { LatencyWindow } from "./latencyWindow.js"

export class ClientStats {
  received = 0
  invalid = 0
  readonly latency = new LatencyWindow()
  private readonly loggedInvalid = new Set<string>()

  constructor(
    private readonly clientId: string,
    /**
     * the context the client was built in: its metric registry and metric attributes (updates
     * are made in place, without an Effect per delivery)
     */
    private readonly context: Context.Context<never>,
    /** runs a log line in the client's scope */
    private readonly runFork: (effect: Effect.Effect<void>) => void
  ) {}

  /** A delivery reached a subscription `latencyMs` after it was sent. */
  delivered(latencyMs: number): void {
    this.received++
    this.latency.record(latencyMs)
    QueueMetrics.receivedTotal.updateUnsafe(1, this.context)
    QueueMetrics.latencyMs.updateUnsafe(latencyMs, this.context)
  }

  /** A message was sent. */
  sent(): void {
    QueueMetrics.sentTotal.updateUnsafe(1, this.context)
  }

  /** A subscription was ejected. */
  ejected(): void {
    QueueMetrics.ejectedTotal.updateUnsafe(1, this.context)
  }

  /**
   * A message of `room` could not be decoded (S16): counted, and logged once per kind of failure.
   * A decode failure quotes the offending value, which a hostile publisher controls: the kind is
   * the reason's first line, a bounded number of kinds is logged, and never a huge line.
   */
  readonly invalidMessage = (room: string, reason: string): void => {
    this.invalid++
    QueueMetrics.invalidTotal.updateUnsafe(1, this.context)
    const kind = kindOf(reason)
    if (this.loggedInvalid.has(kind) || this.loggedInvalid.size >= maxLoggedKinds) return
    this.loggedInvalid.add(kind)
    const text = reason.length > maxLoggedReason ? `${reason.slice(0, maxLoggedReason)}…` : reason
    this.runFork(
      Effect.logWarning(`lockstep: invalid message on room ${JSON.stringify(room)}: ${text}`).pipe(
        Effect.annotateLogs({ clientId: this.clientId, room })
      )
    )
  }
}

import * as Duration from "effect/Duration"
import type { LatencySummary } from "../QueueMetrics.js"

/** Latencies kept (the most recent): about ten of them lie above the p99, in 8 KiB of samples. */
const defaultCapacity = 1024

/** A fixed-size ring of recent latencies (ms) summarised on demand; O(1) per record. */
export class LatencyWindow {
  private readonly samples: Float64Array
  private size = 0
  private next = 0

  constructor(capacity = defaultCapacity) {
    this.samples = new Float64Array(capacity)
  }

  record(ms: number): void {
    this.samples[this.next] = ms
    this.next = (this.next + 1) % this.samples.length
    if (this.size < this.samples.length) this.size++
  }

  summary(): LatencySummary {
    if (this.size === 0) {
      return { min: Duration.zero, avg: Duration.zero, max: Duration.zero, p50: Duration.zero, p99: Duration.zero }
    }
    const sorted = Array.from(this.samples.subarray(0, this.size)).sort((a, b) => a - b)
    const at = (q: number) => Duration.millis(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!)
    const sum = sorted.reduce((a, b) => a + b, 0)
    return {
      min: Duration.millis(sorted[0]!),
      avg: Duration.millis(sum / sorted.length),
      max: Duration.millis(sorted[sorted.length - 1]!),
      p50: at(0.5),
      p99: at(0.99)
    }
  }
}

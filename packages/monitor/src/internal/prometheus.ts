/**
 * `/metrics`: Effect's metric registry in the Prometheus text format, written by
 * `effect/observability/PrometheusMetrics` (counters, gauges, histograms with their cumulative
 * buckets, summaries; label values escaped for `\`, `"` and line feeds, HELP text for `\` and line
 * feeds), preceded by a `target_info` series naming the service, as the OpenTelemetry exporter
 * wrote it before.
 */
import * as Effect from "effect/Effect"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"

/** The content type of the Prometheus text format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** Scrape the registry: the Prometheus text of every Effect metric. */
export type Scrape = Effect.Effect<string>

/** A label value in the text format: backslash, double quote and line feed escaped. */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const targetInfo = (serviceName: string): string =>
  `# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info{service_name="${
    escapeLabelValue(serviceName)
  }"} 1\n`

/**
 * A scrape of the metric registry of the current context (the `Metric.MetricRegistry` reference:
 * the process-wide registry unless the program provides its own), read when the monitor is built.
 */
export const make = (serviceName: string): Effect.Effect<Scrape> =>
  Effect.map(Effect.context<never>(), (context) => {
    const info = targetInfo(serviceName)
    return Effect.sync(() => {
      const text = PrometheusMetrics.formatUnsafe(context)
      // a program that records a target_info series of its own keeps it alone
      return /^# TYPE target_info /m.test(text) ? text : info + text
    }).pipe(Effect.withSpan("Monitor.metrics"))
  })

/**
 * `/metrics`: Effect's metric registry read by `@effect/opentelemetry`'s metric producer through
 * an OpenTelemetry `MetricReader` that only collects on demand, and written in the Prometheus
 * text format by `@opentelemetry/exporter-prometheus`'s `PrometheusSerializer` (the exporter's own
 * HTTP server is not used: the router serves the text).
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as OtelResource from "@effect/opentelemetry/Resource"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { MetricReader } from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** The content type of the Prometheus text format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** A reader that collects when asked (a pull exporter without a server of its own). */
class PullReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/** Scrape the registry: the Prometheus text of every Effect metric. */
export type Scrape = Effect.Effect<string>

/** Register a reader on Effect's metrics (unregistered when the scope closes) and return a scrape. */
export const make = (serviceName: string): Effect.Effect<Scrape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const producer = yield* OtelMetrics.makeProducer
    const reader = new PullReader()
    yield* OtelMetrics.registerProducer(producer, () => reader)
    const serializer = new PrometheusSerializer()
    return Effect.promise(() => reader.collect()).pipe(
      Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics)),
      Effect.withSpan("Monitor.metrics")
    )
  }).pipe(Effect.provide(OtelResource.layer({ serviceName })))

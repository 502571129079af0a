/**
 * Spans for the per-message operations (send, ack), made only when somebody can see them.
 *
 * A span costs about as much as the rest of an ack on the client (measured with `pnpm bench`,
 * B1). Effect's built-in tracer keeps spans in memory only, and nothing below these operations
 * opens child spans, so under it the span would be invisible: it is skipped. Under any other
 * tracer (e.g. `@effect/opentelemetry`, or `effect/observability`'s OTLP tracer) the span is made,
 * and is the parent of what runs inside (the room proxy's local ack runs the upstream ack).
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Tracer from "effect/Tracer"

/** Whether spans made in `fiber` can be seen: it runs under a tracer other than the built-in one. */
export const isTraced = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer

export const hotSpan = <A, E, R>(
  name: string,
  attributes: Record<string, unknown>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) =>
    isTraced(fiber) ? Effect.withSpan(effect, name, { attributes, captureStackTrace: false }) : effect
  )

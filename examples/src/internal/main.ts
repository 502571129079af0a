/**
 * `runMain` for the examples: `NodeRuntime.runMain` (Ctrl-C / SIGTERM interrupt the main fiber,
 * so every scope closes: clients leave their rooms, connections close, a spawned redis-server
 * is stopped), with readable failures and robust to repeated signals.
 *
 * Under `pnpm run` and `tsx`, one Ctrl-C reaches the program more than once: the terminal signals
 * the whole foreground process group and the wrappers forward the signal again. `runMain` stops
 * listening after the first one, so the second would kill the process with Node's default action
 * halfway through its clean-up (leaving e.g. a spawned redis-server behind). Repeats within a
 * second are ignored here; a Ctrl-C pressed later still forces the exit.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

/** An expected failure as one readable line; defects keep their stack. */
const describe = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some" && Cause.isFailType(cause)) {
    const error = failure.value
    if (typeof error === "object" && error !== null && "message" in error) {
      const tag = "_tag" in error ? `${String(error._tag)}: ` : ""
      return `${tag}${String(error.message)}`
    }
  }
  return Cause.pretty(cause)
}

export const runMain = <A, E>(effect: Effect.Effect<A, E>, options?: { readonly disablePrettyLogger?: boolean }) => {
  let first: number | undefined
  const guard = (signal: NodeJS.Signals) => {
    const now = Date.now()
    if (first === undefined) {
      first = now
    } else if (now - first > 1000) {
      process.stderr.write(`\n${signal} again: exiting without waiting for the clean-up\n`)
      process.exit(130)
    }
  }
  process.on("SIGINT", guard)
  process.on("SIGTERM", guard)
  const program = effect.pipe(
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.void
        : Effect.sync(() => process.stderr.write(`error: ${describe(cause)}\n`))
    )
  )
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    disablePrettyLogger: options?.disablePrettyLogger === true
  })
}

/**
 * `runMain` for the examples: `NodeRuntime.runMain` (Ctrl-C / SIGTERM interrupt the main fiber,
 * so every scope closes: clients leave their rooms, connections close, a spawned redis-server
 * is stopped), with readable failures and a way out of a clean-up that hangs.
 *
 * Under `pnpm run` and `tsx`, one Ctrl-C reaches the program more than once: the terminal signals
 * the whole foreground process group and the wrappers forward the signal again. `runMain` keeps
 * listening until the main fiber is done, so a repeat only interrupts it again (nothing happens).
 * Repeats within a second are taken for such copies; a Ctrl-C pressed later exits at once, without
 * waiting for the clean-up.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

/** An expected failure as one readable line; defects keep their stack. */
const describe = (cause: Cause.Cause<unknown>): string => {
  const [reason] = cause.reasons
  if (cause.reasons.length === 1 && reason !== undefined && Cause.isFailReason(reason)) {
    const error = reason.error
    if (typeof error === "object" && error !== null && "message" in error) {
      const tag = "_tag" in error ? `${String(error._tag)}: ` : ""
      return `${tag}${String(error.message)}`
    }
  }
  return Cause.pretty(cause)
}

export const runMain = <A, E>(effect: Effect.Effect<A, E>): void => {
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
    Effect.tapCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.void
        : Effect.sync(() => process.stderr.write(`error: ${describe(cause)}\n`))
    )
  )
  NodeRuntime.runMain(program, { disableErrorReporting: true })
}

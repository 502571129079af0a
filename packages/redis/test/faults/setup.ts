/**
 * Setup of the "faults" project (vitest `setupFiles`, run once per test file): any unhandled
 * promise rejection or uncaught exception while the file runs fails the file in `afterAll`,
 * with the reasons, even if vitest's own reporter would only print a warning.
 */
import { afterAll, expect } from "@effect/vitest"

const problems: Array<string> = []

const describeReason = (reason: unknown): string =>
  reason instanceof Error ? `${reason.name}: ${reason.message}\n${reason.stack ?? ""}` : String(reason)

const onRejection = (reason: unknown) => {
  problems.push(`unhandledRejection: ${describeReason(reason)}`)
}
const onException = (error: Error) => {
  problems.push(`uncaughtException: ${describeReason(error)}`)
}

process.on("unhandledRejection", onRejection)
process.on("uncaughtException", onException)

afterAll(() => {
  process.off("unhandledRejection", onRejection)
  process.off("uncaughtException", onException)
  expect(problems, "no unhandled rejection or uncaught exception during the file").toEqual([])
})

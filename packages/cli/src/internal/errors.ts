/**
 * How a failure ends the command: one readable line on stderr and an exit code that tells a
 * usage mistake (2: fix the command line or the environment) from a failure of the engine (1:
 * Redis unreachable, an operation that timed out). Typed errors keep their own message.
 */
import * as Cause from "effect/Cause"
import * as CliError from "effect/cli/CliError"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/**
 * The exit codes of `lockstep`: 0 done (also when there was nothing to do, e.g. `pause` of a paused
 * room), 1 the engine failed, 2 the command line or the environment is wrong.
 */
export const ExitCode = {
  Ok: 0,
  EngineFailure: 1,
  Usage: 2
} as const

/** A command line that cannot be run as given (e.g. both `--url` and `--cluster-nodes`). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** What the user is told: the message on one line, and the exit code. */
export interface Report {
  readonly line: string
  readonly code: number
}

/** Failures of the input, whichever layer found them: exit code 2. */
const usageTags: ReadonlySet<string> = new Set(["UsageError", "InvalidRoom", "InvalidArgument", "PayloadTooLarge"])

/**
 * A message on one line: lines joined, blanks collapsed; the effect CLI's "Did you mean this?"
 * block becomes a short suggestion.
 */
export const oneLine = (message: string): string => {
  const [head = "", suggestions] = message.split(/\s*Did you mean this\?\s*/)
  const flat = (text: string) => text.split(/\r?\n|\r/).map((line) => line.trim()).filter((l) => l !== "")
  const line = flat(head).join(" ")
  return suggestions === undefined ? line : `${line} (did you mean ${flat(suggestions).join(", ")}?)`
}

/**
 * The option a `ConfigError` names, as the user gave it: the flags for the options the command
 * line sets (a variable of the environment is named as it is, e.g. `LOCKSTEP_REDIS_URL`).
 */
const optionNames: Readonly<Record<string, string>> = {
  url: "--url",
  nodes: "--cluster-nodes",
  password: "LOCKSTEP_REDIS_PASSWORD",
  keyPrefix: "--prefix",
  shards: "--shards",
  operationTimeout: "--timeout"
}

/**
 * A `ConfigError` as `<option>: <what is wrong>`: Effect renders a schema issue as its message
 * followed by a line `at ["path"]` (`at ["EU"]["NAME"]` under `Config.nested`); the message of a
 * variable's error starts with its name already (`NAME: expected …, got … — what it is for`).
 */
export const configMessage = (error: Config.ConfigError): string => {
  const text = error.cause.message
  const match = /^([\s\S]*?)\s*at \[(.*)\]\s*$/.exec(text)
  if (match === null) return `configuration: ${oneLine(text)}`
  const path = match[2]!.split(/[,\]\[]+/).map((part) => part.trim().replace(/^"|"$/g, "")).filter((p) => p !== "")
    .join(".")
  const name = optionNames[path] ?? path
  const body = oneLine(match[1]!)
  // a variable's own message already starts with its name (QueueConfig.variable, invalidVariable)
  return body.startsWith(`${name}: `) ? body : `${name}: ${body}`
}

/** The message of a CLI parse failure (the first one, when several were found). */
const cliMessage = (error: CliError.CliError): { readonly message: string; readonly path?: string } =>
  error._tag === "ShowHelp"
    ? {
      message: error.errors.length === 0 ? "a command is required" : error.errors.map((e) => e.message).join("; "),
      path: error.commandPath.join(" ")
    }
    : { message: error.message }

/** The line and exit code for a failure of the command (`error`), or a defect. */
export const report = (cause: Cause.Cause<unknown>): Report => {
  const error = Cause.squash(cause)
  if (CliError.isCliError(error)) {
    const { message, path } = cliMessage(error)
    return {
      line: `lockstep: ${oneLine(message)}${path === undefined ? "" : ` (see '${path} --help')`}`,
      code: ExitCode.Usage
    }
  }
  if (error instanceof Config.ConfigError) {
    return { line: `lockstep: ${configMessage(error)}`, code: ExitCode.Usage }
  }
  const tag = Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : undefined
  const message = error instanceof Error ? error.message : String(error)
  if (tag !== undefined && Cause.hasFails(cause)) {
    return {
      line: `lockstep: ${oneLine(message)}`,
      code: usageTags.has(tag) ? ExitCode.Usage : ExitCode.EngineFailure
    }
  }
  return { line: `lockstep: unexpected failure: ${oneLine(message)}`, code: ExitCode.EngineFailure }
}

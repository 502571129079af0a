/**
 * The monitor's options, validated when the monitor is built: a value that is given but wrong
 * is a `ConfigError` naming the option (`QueueConfig.invalidData`, as the engines report theirs),
 * never a route that fails on every request later.
 */
import { QueueConfig } from "@lockstep/core"
import type * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { MonitorActions, MonitorOptions } from "../Monitor.js"

/** Resolved options. */
export interface Settings {
  readonly pollInterval: Duration.Duration
  readonly stalledAfter: Duration.Duration
  readonly maxRooms: number
  readonly stalledRooms: number
  readonly peekLimit: number
  readonly title: string
  /** origins that may act besides the server's own (board actions), lowercase */
  readonly trustedOrigins: ReadonlySet<string>
}

const invalid = (path: string, message: string) => Result.fail(QueueConfig.invalidData(path, message))

/** A finite duration, non-negative (positive when `positive`). */
const duration = (path: string, input: Duration.Input | undefined, fallback: Duration.Duration, positive: boolean) => {
  if (input === undefined) return Result.succeed(fallback)
  return Option.match(Duration.fromInput(input), {
    onNone: () => invalid(path, `${path} is not a duration: ${JSON.stringify(input)}`),
    onSome: (d) =>
      !Duration.isFinite(d) || Duration.isNegative(d) || (positive && Duration.isZero(d))
        ? invalid(
          path,
          `${path} must be a finite ${positive ? "positive" : "non-negative"} duration, got ${Duration.format(d)}`
        )
        : Result.succeed(d)
  })
}

/** An integer between `min` and `max`. */
const integer = (path: string, value: number | undefined, fallback: number, min: number, max: number) => {
  if (value === undefined) return Result.succeed(fallback)
  return Number.isSafeInteger(value) && value >= min && value <= max
    ? Result.succeed(value)
    : invalid(path, `${path} must be an integer between ${min} and ${max}, got ${value}`)
}

/**
 * Validate the options and fill in the defaults. The bounds are the engine's where it has one:
 * `peek` takes 1–10000 messages (S13), `metrics` reports at most 1000 stalled rooms (S26).
 */
/** The origins of `actions.trustedOrigins`, each `scheme://host[:port]` exactly as browsers send it. */
const origins = (list: ReadonlyArray<string> | undefined) => {
  const path = "actions.trustedOrigins"
  if (list === undefined) return Result.succeed(new Set<string>())
  if (!Array.isArray(list)) return invalid(path, `${path} must be an array of origins`)
  for (const origin of list) {
    let parsed: URL | undefined
    try {
      parsed = typeof origin === "string" ? new URL(origin) : undefined
    } catch {
      parsed = undefined
    }
    if (parsed === undefined || parsed.origin !== origin.toLowerCase() || !/^https?:$/.test(parsed.protocol)) {
      return invalid(
        path,
        `${path} must list origins such as "https://ops.example.com" (no path, no trailing slash), got ${
          JSON.stringify(origin)
        }`
      )
    }
  }
  return Result.succeed(new Set(list.map((o) => o.toLowerCase())))
}

export const validate = <R>(
  options: MonitorOptions & { readonly actions?: MonitorActions<R> | undefined }
): Result.Result<Settings, Config.ConfigError> =>
  Result.gen(function*() {
    const { prefix } = options
    if (prefix !== undefined && (typeof prefix !== "string" || !prefix.startsWith("/"))) {
      // without the slash the router would never match a request: a board that is silently nowhere
      return yield* invalid("prefix", `prefix must be a path starting with "/", got ${JSON.stringify(prefix)}`)
    }
    if (options.actions !== undefined && typeof options.actions.authorize !== "function") {
      // actions without a hook would be open to anyone who can reach the board
      return yield* invalid("actions.authorize", "actions.authorize must be a function of the request")
    }
    return {
      pollInterval: yield* duration("pollInterval", options.pollInterval, Duration.millis(500), true),
      stalledAfter: yield* duration("stalledAfter", options.stalledAfter, Duration.seconds(5), false),
      maxRooms: yield* integer("maxRooms", options.maxRooms, 1000, 1, 1_000_000),
      stalledRooms: yield* integer("stalledRooms", options.stalledRooms, 10, 0, 1000),
      peekLimit: yield* integer("peekLimit", options.peekLimit, 10, 1, 10_000),
      title: options.title ?? "lockstep rooms",
      trustedOrigins: yield* origins(options.actions?.trustedOrigins)
    }
  })

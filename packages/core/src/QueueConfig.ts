/**
 * Client configuration: a plain options object (`QueueConfig`) validated into a
 * `ResolvedQueueConfig` with every default filled in, or the same read from the environment
 * (`QueueConfig.config`).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { table, variables } from "./internal/queueConfigVariables.js"
import { wellFormedError } from "./internal/validation.js"
import * as Variables from "./internal/variables.js"

/**
 * "sync" members hold a room until they ack (S3); "async" ones never block it (S8).
 *
 * @since 0.1.0
 * @category models
 */
export type SubscriptionMode = "sync" | "async"

/**
 * Options of one queue client (DESIGN §3).
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueConfig {
  /**
   * Prefix of every key and channel (S19). Non-empty, no `{` or `}`, at most 64 characters, well-formed
   * UTF-16 (no lone surrogate).
   */
  readonly keyPrefix: string
  /** A client not heard from for this long is ejected (S10). Default 15 s, at least 1 s. */
  readonly clientTimeout?: Duration.Input | undefined
  /** Heartbeat period. Default clientTimeout / 3; must be below clientTimeout. */
  readonly keepaliveInterval?: Duration.Input | undefined
  /** Optional ack deadline for sync members (S11). At least 100 ms. */
  readonly ackTimeout?: Duration.Input | undefined
  /** Default subscription mode. Default "sync". */
  readonly mode?: SubscriptionMode | undefined
  /** Largest JSON payload in bytes (S16). Default 1 MiB. */
  readonly maxPayloadBytes?: number | undefined
  /** Deliveries buffered per subscription before it counts as a slow consumer. Default 1024. */
  readonly subscriberBuffer?: number | undefined
  /** Deadline of each server operation. Default 5 s. */
  readonly operationTimeout?: Duration.Input | undefined
  /** Period of the housekeeping run (expired clients, ack deadlines). Default min(keepaliveInterval, ackTimeout / 2). */
  readonly housekeepingInterval?: Duration.Input | undefined
  /**
   * A stable identity chosen by the application, e.g. `"edge-eu-1"`: 1–64 characters of
   * `[A-Za-z0-9._-]`. Without it a client gets a random id and its memberships end with it (S10,
   * S20); with it the client is **durable** (S21–S25): it claims the id when it is built (a newer
   * claim fences an older holder), and a successor with the same id resumes its memberships.
   */
  readonly clientId?: string | undefined
  /**
   * What closing a durable client's scope does: `"leave"` every room (S20, the default) or
   * `"detach"`: keep the memberships for a successor with the same `clientId` (S24), e.g. for a
   * rolling deploy. Only for a client with a `clientId`.
   */
  readonly onClose?: "leave" | "detach" | undefined
  /**
   * S28: a resumed membership (S22) that would receive a message for attempt `maxDeliveries + 1`
   * dead-letters it instead (`reason: "max-deliveries"`) and goes on with the next one. An
   * integer of at least 1; default none (no bound).
   *
   * @since 1.1.0
   */
  readonly maxDeliveries?: number | undefined
  /**
   * S29: the dead letters a room keeps at most when this client writes one (the oldest are
   * dropped). 1 to 100 000; default 1000.
   *
   * @since 1.1.0
   */
  readonly deadLetterLimit?: number | undefined
  /**
   * S29: how long a room keeps a dead letter this client writes; at least 1 second, default 7 days.
   *
   * @since 1.1.0
   */
  readonly deadLetterRetention?: Duration.Input | undefined
}

/**
 * A validated configuration with every default applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResolvedQueueConfig {
  readonly keyPrefix: string
  readonly clientTimeout: Duration.Duration
  readonly keepaliveInterval: Duration.Duration
  readonly ackTimeout: Option.Option<Duration.Duration>
  readonly mode: SubscriptionMode
  readonly maxPayloadBytes: number
  readonly subscriberBuffer: number
  readonly operationTimeout: Duration.Duration
  readonly housekeepingInterval: Duration.Duration
  /** the durable id, if any (S21) */
  readonly clientId: Option.Option<string>
  readonly onClose: "leave" | "detach"
  /** S28: none for no bound */
  readonly maxDeliveries: Option.Option<number>
  /** S29 */
  readonly deadLetterLimit: number
  /** S29 */
  readonly deadLetterRetention: Duration.Duration
}

/**
 * A `ConfigError` for a value that was given but is wrong: `message` says why, `path` names the
 * option (or variable). Engines use it for their own options too.
 *
 * @since 1.0.0
 * @category errors
 */
export const invalidData = (path: string, message: string, value?: unknown): Config.ConfigError =>
  new Config.ConfigError(
    new Schema.SchemaError(new SchemaIssue.Pointer([path], new SchemaIssue.InvalidValue({ message }, value)))
  )

const invalid = (path: string, message: string) => Result.fail(invalidData(path, message))

const decodeDuration = (
  path: string,
  input: Duration.Input | undefined
): Result.Result<Option.Option<Duration.Duration>, Config.ConfigError> => {
  if (input === undefined) return Result.succeed(Option.none())
  const decoded = Duration.fromInput(input)
  return Option.match(decoded, {
    onNone: () => invalid(path, `${path} is not a duration: ${JSON.stringify(input)}`),
    onSome: (d) => Duration.isFinite(d) ? Result.succeed(Option.some(d)) : invalid(path, `${path} must be finite`)
  })
}

/** A duration option of at least one second, or `fallback` when absent. */
const atLeastOneSecond = (path: string, input: Duration.Input | undefined, fallback: Duration.Duration) =>
  Result.flatMap(decodeDuration(path, input), (given) => {
    const d = Option.getOrElse(given, () => fallback)
    return Duration.isLessThan(d, Duration.seconds(1))
      ? invalid(path, `${path} must be at least 1 second, got ${Duration.format(d)}`)
      : Result.succeed(d)
  })

const positiveInt = (path: string, value: number | undefined, fallback: number, max: number) => {
  if (value === undefined) return Result.succeed(fallback)
  return Number.isSafeInteger(value) && value >= 1 && value <= max
    ? Result.succeed(value)
    : invalid(path, `${path} must be an integer between 1 and ${max}, got ${value}`)
}

/**
 * Validate options and fill in defaults. Pure: the same input gives the same answer.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (options: QueueConfig): Result.Result<ResolvedQueueConfig, Config.ConfigError> =>
  Result.gen(function*() {
    const prefix = options.keyPrefix
    if (typeof prefix !== "string" || prefix.length === 0) {
      return yield* invalid("keyPrefix", "keyPrefix must be a non-empty string")
    }
    if (prefix.length > 64) return yield* invalid("keyPrefix", "keyPrefix must be at most 64 characters")
    if (/[{}]/.test(prefix)) {
      return yield* invalid(
        "keyPrefix",
        `keyPrefix must not contain '{' or '}' (lockstep adds the hash tags itself), got ${JSON.stringify(prefix)}`
      )
    }
    // S19: two distinct prefixes must never meet on the server
    const malformed = wellFormedError("keyPrefix", prefix)
    if (malformed !== undefined) return yield* invalid("keyPrefix", `${malformed}, got ${JSON.stringify(prefix)}`)
    const clientTimeout = yield* atLeastOneSecond("clientTimeout", options.clientTimeout, Duration.seconds(15))
    const keepaliveInterval = Option.getOrElse(
      yield* decodeDuration("keepaliveInterval", options.keepaliveInterval),
      () => Duration.millis(Math.floor(Duration.toMillis(clientTimeout) / 3))
    )
    if (Duration.isLessThanOrEqualTo(keepaliveInterval, Duration.zero)) {
      return yield* invalid("keepaliveInterval", "keepaliveInterval must be positive")
    }
    if (Duration.isGreaterThanOrEqualTo(keepaliveInterval, clientTimeout)) {
      return yield* invalid(
        "keepaliveInterval",
        `keepaliveInterval (${Duration.format(keepaliveInterval)}) must be below clientTimeout (${
          Duration.format(clientTimeout)
        })`
      )
    }
    const ackTimeout = yield* decodeDuration("ackTimeout", options.ackTimeout)
    if (Option.isSome(ackTimeout) && Duration.isLessThan(ackTimeout.value, Duration.millis(100))) {
      return yield* invalid("ackTimeout", "ackTimeout must be at least 100 milliseconds")
    }
    const mode = options.mode ?? "sync"
    if (mode !== "sync" && mode !== "async") {
      return yield* invalid("mode", `mode must be "sync" or "async", got ${JSON.stringify(mode)}`)
    }
    const maxPayloadBytes = yield* positiveInt(
      "maxPayloadBytes",
      options.maxPayloadBytes,
      1024 * 1024,
      512 * 1024 * 1024
    )
    const subscriberBuffer = yield* positiveInt("subscriberBuffer", options.subscriberBuffer, 1024, 1_000_000)
    const operationTimeout = Option.getOrElse(
      yield* decodeDuration("operationTimeout", options.operationTimeout),
      () => Duration.seconds(5)
    )
    if (Duration.isLessThanOrEqualTo(operationTimeout, Duration.zero)) {
      return yield* invalid("operationTimeout", "operationTimeout must be positive")
    }
    const housekeepingInterval = Option.getOrElse(
      yield* decodeDuration("housekeepingInterval", options.housekeepingInterval),
      () =>
        Option.match(ackTimeout, {
          onNone: () => keepaliveInterval,
          onSome: (ack) => Duration.min(keepaliveInterval, Duration.millis(Math.max(50, Duration.toMillis(ack) / 2)))
        })
    )
    if (Duration.isLessThanOrEqualTo(housekeepingInterval, Duration.zero)) {
      return yield* invalid("housekeepingInterval", "housekeepingInterval must be positive")
    }
    const clientId = options.clientId
    if (clientId !== undefined && (typeof clientId !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(clientId))) {
      return yield* invalid(
        "clientId",
        `clientId must be 1–64 characters of A-Z, a-z, 0-9, '.', '_' or '-', got ${JSON.stringify(clientId)}`
      )
    }
    const onClose = options.onClose ?? "leave"
    if (onClose !== "leave" && onClose !== "detach") {
      return yield* invalid("onClose", `onClose must be "leave" or "detach", got ${JSON.stringify(onClose)}`)
    }
    if (onClose === "detach" && clientId === undefined) {
      return yield* invalid(
        "onClose",
        `onClose: "detach" needs a clientId: only a durable client has a successor to keep its memberships for`
      )
    }
    const maxDeliveries = options.maxDeliveries
    if (maxDeliveries !== undefined && !(Number.isSafeInteger(maxDeliveries) && maxDeliveries >= 1)) {
      return yield* invalid("maxDeliveries", `maxDeliveries must be an integer of at least 1, got ${maxDeliveries}`)
    }
    const deadLetterLimit = yield* positiveInt("deadLetterLimit", options.deadLetterLimit, 1000, 100_000)
    const deadLetterRetention = yield* atLeastOneSecond(
      "deadLetterRetention",
      options.deadLetterRetention,
      Duration.days(7)
    )
    return {
      keyPrefix: prefix,
      clientTimeout,
      keepaliveInterval,
      ackTimeout,
      mode,
      maxPayloadBytes,
      subscriberBuffer,
      operationTimeout,
      housekeepingInterval,
      clientId: Option.fromUndefinedOr(clientId),
      onClose,
      maxDeliveries: Option.fromUndefinedOr(maxDeliveries),
      deadLetterLimit,
      deadLetterRetention
    }
  })

/**
 * Validate options as an Effect failing with `ConfigError`.
 *
 * @since 0.1.0
 * @category validation
 */
export const resolve = (options: QueueConfig): Effect.Effect<ResolvedQueueConfig, Config.ConfigError> =>
  Effect.fromResult(validate(options))

/**
 * What an environment variable read by a lockstep layer is: its `schema` (of the variable's
 * text), the value `expected` as a phrase (`a duration such as "15 seconds"`) and its
 * `description` (what it is for, its default and bounds). See `variable`.
 *
 * @since 1.1.0
 * @category config
 */
export interface VariableOptions<A> {
  readonly schema: Schema.Decoder<A>
  readonly expected: string
  readonly description: string
}

/**
 * One environment variable (or key of any `ConfigProvider`), read the way `config` reads
 * lockstep's: its text decoded by `options.schema`, annotated with `options.description`. A value
 * that is set but wrong fails with a `ConfigError` at the variable's path whose message names the
 * variable, what was expected, the value found and what the variable is for:
 * `LOCKSTEP_CLIENT_TIMEOUT: expected a duration such as "15 seconds", got "soon" — a client not
 * heard from …` (so not for secrets). A variable that is not set reads as absent, as with
 * `Config.schema`: `Config.option` / `Config.withDefault` recover it, else it fails with
 * `<name>: expected …, but it is not set — …`. For engines and adapters reading variables of
 * their own (`ShardLayer.config` reads `LOCKSTEP_SHARDS` with it).
 *
 * @since 1.1.0
 * @category config
 */
export const variable: <A>(name: string, options: VariableOptions<A>) => Config.Config<A> = Variables.variable

/**
 * A `ConfigError` for variable `name` whose value is wrong, at the path `[name]`, with the
 * message `<name>: <problem> — <description>` (as `variable` reports a value it cannot decode).
 * For a check made after reading, e.g. a bound or two variables that do not fit together.
 *
 * @since 1.1.0
 * @category config
 */
export const invalidVariable: (name: string, problem: string, description: string) => Config.ConfigError =
  Variables.invalidVariable

/**
 * A failure found after reading, at the path of an option (`invalidData`, as `validate` makes
 * them), moved to the variable the option was read from: `variables[option]` names it and gives
 * its description, which the message then carries (`<name>: <message> — <description>`, as
 * `invalidVariable` makes them). Another error, or one of an option not in `variables`, is
 * returned as it is.
 *
 * @since 1.1.0
 * @category config
 */
export const toVariableError: (
  error: Config.ConfigError,
  variables: { readonly [option: string]: { readonly name: string; readonly description: string } | undefined }
) => Config.ConfigError = Variables.forVariable

/**
 * The configuration read from the environment (or any `ConfigProvider`), validated, with every
 * default filled in: `LOCKSTEP_KEY_PREFIX` (required), `LOCKSTEP_CLIENT_TIMEOUT`,
 * `LOCKSTEP_KEEPALIVE_INTERVAL`, `LOCKSTEP_ACK_TIMEOUT`, `LOCKSTEP_MODE`,
 * `LOCKSTEP_MAX_PAYLOAD_BYTES`, `LOCKSTEP_SUBSCRIBER_BUFFER`, `LOCKSTEP_OPERATION_TIMEOUT`,
 * `LOCKSTEP_HOUSEKEEPING_INTERVAL`, `LOCKSTEP_CLIENT_ID`, `LOCKSTEP_ON_CLOSE`, `LOCKSTEP_MAX_DELIVERIES`,
 * `LOCKSTEP_DEAD_LETTER_LIMIT`, `LOCKSTEP_DEAD_LETTER_RETENTION` (durations as "15 seconds", "500 millis").
 * A missing or wrong variable fails with a `ConfigError` at its path whose message names it,
 * says what is wrong and what the variable is for, e.g. `LOCKSTEP_CLIENT_TIMEOUT: clientTimeout
 * must be at least 1 second, got 500ms — a client not heard from for this long is ejected (S10);
 * …` (a failure found by `validate`, after reading, is at the path of the variable's own name,
 * also under `Config.nested`).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<QueueConfig> = Config.all(variables).pipe(
  Config.mapEffect((options) =>
    Effect.mapError(Effect.fromResult(validate(options)), (error) => toVariableError(error, table))
  ),
  Config.map((resolved): QueueConfig => ({
    ...resolved,
    ackTimeout: Option.getOrUndefined(resolved.ackTimeout),
    clientId: Option.getOrUndefined(resolved.clientId),
    maxDeliveries: Option.getOrUndefined(resolved.maxDeliveries)
  }))
)

/**
 * Client configuration: a plain options object (`QueueConfig`) validated into a
 * `ResolvedQueueConfig` with every default filled in, or the same read from the environment
 * (`QueueConfig.config`).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

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
  /** Prefix of every key and channel (S19). Non-empty, no `{` or `}`, at most 64 characters. */
  readonly keyPrefix: string
  /** A client not heard from for this long is ejected (S10). Default 15 s, at least 1 s. */
  readonly clientTimeout?: Duration.DurationInput | undefined
  /** Heartbeat period. Default clientTimeout / 3; must be below clientTimeout. */
  readonly keepaliveInterval?: Duration.DurationInput | undefined
  /** Optional ack deadline for sync members (S11). At least 100 ms. */
  readonly ackTimeout?: Duration.DurationInput | undefined
  /** Default subscription mode. Default "sync". */
  readonly mode?: SubscriptionMode | undefined
  /** Largest JSON payload in bytes (S16). Default 1 MiB. */
  readonly maxPayloadBytes?: number | undefined
  /** Deliveries buffered per subscription before it counts as a slow consumer. Default 1024. */
  readonly subscriberBuffer?: number | undefined
  /** Deadline of each server operation. Default 5 s. */
  readonly operationTimeout?: Duration.DurationInput | undefined
  /** Period of the housekeeping run (expired clients, ack deadlines). Default min(keepaliveInterval, ackTimeout / 2). */
  readonly housekeepingInterval?: Duration.DurationInput | undefined
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
}

const invalid = (path: string, message: string) => Either.left(ConfigError.InvalidData([path], message))

const decodeDuration = (
  path: string,
  input: Duration.DurationInput | undefined
): Either.Either<Option.Option<Duration.Duration>, ConfigError.ConfigError> => {
  if (input === undefined) return Either.right(Option.none())
  const decoded = Duration.decodeUnknown(input)
  return Option.match(decoded, {
    onNone: () => invalid(path, `${path} is not a duration: ${JSON.stringify(input)}`),
    onSome: (d) => Duration.isFinite(d) ? Either.right(Option.some(d)) : invalid(path, `${path} must be finite`)
  })
}

const positiveInt = (path: string, value: number | undefined, fallback: number, max: number) => {
  if (value === undefined) return Either.right(fallback)
  return Number.isSafeInteger(value) && value >= 1 && value <= max
    ? Either.right(value)
    : invalid(path, `${path} must be an integer between 1 and ${max}, got ${value}`)
}

/**
 * Validate options and fill in defaults. Pure: the same input gives the same answer.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (options: QueueConfig): Either.Either<ResolvedQueueConfig, ConfigError.ConfigError> =>
  Either.gen(function*() {
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
    const clientTimeout = Option.getOrElse(
      yield* decodeDuration("clientTimeout", options.clientTimeout),
      () => Duration.seconds(15)
    )
    if (Duration.lessThan(clientTimeout, Duration.seconds(1))) {
      return yield* invalid(
        "clientTimeout",
        `clientTimeout must be at least 1 second, got ${Duration.format(clientTimeout)}`
      )
    }
    const keepaliveInterval = Option.getOrElse(
      yield* decodeDuration("keepaliveInterval", options.keepaliveInterval),
      () => Duration.millis(Math.floor(Duration.toMillis(clientTimeout) / 3))
    )
    if (Duration.lessThanOrEqualTo(keepaliveInterval, Duration.zero)) {
      return yield* invalid("keepaliveInterval", "keepaliveInterval must be positive")
    }
    if (Duration.greaterThanOrEqualTo(keepaliveInterval, clientTimeout)) {
      return yield* invalid(
        "keepaliveInterval",
        `keepaliveInterval (${Duration.format(keepaliveInterval)}) must be below clientTimeout (${
          Duration.format(clientTimeout)
        })`
      )
    }
    const ackTimeout = yield* decodeDuration("ackTimeout", options.ackTimeout)
    if (Option.isSome(ackTimeout) && Duration.lessThan(ackTimeout.value, Duration.millis(100))) {
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
    if (Duration.lessThanOrEqualTo(operationTimeout, Duration.zero)) {
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
    if (Duration.lessThanOrEqualTo(housekeepingInterval, Duration.zero)) {
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
      clientId: Option.fromNullable(clientId),
      onClose
    }
  })

/**
 * Validate options as an Effect failing with `ConfigError`.
 *
 * @since 0.1.0
 * @category validation
 */
export const resolve = (options: QueueConfig): Effect.Effect<ResolvedQueueConfig, ConfigError.ConfigError> =>
  validate(options)

/** An optional variable: `undefined` when it is not set. */
const optional = <A>(config: Config.Config<A>, description: string): Config.Config<A | undefined> =>
  Config.map(Config.option(Config.withDescription(config, description)), Option.getOrUndefined)

/** One variable per option: a new option without a variable does not compile. */
const variables: { readonly [K in keyof QueueConfig]-?: Config.Config<QueueConfig[K]> } = {
  keyPrefix: Config.withDescription(
    Config.string("LOCKSTEP_KEY_PREFIX"),
    "prefix of every key and channel (S19): 1–64 characters, no '{' or '}'"
  ),
  clientTimeout: optional(
    Config.duration("LOCKSTEP_CLIENT_TIMEOUT"),
    "a client not heard from for this long is ejected (S10); default 15 seconds, at least 1 second"
  ),
  keepaliveInterval: optional(
    Config.duration("LOCKSTEP_KEEPALIVE_INTERVAL"),
    "heartbeat period, below the client timeout; default a third of it"
  ),
  ackTimeout: optional(
    Config.duration("LOCKSTEP_ACK_TIMEOUT"),
    "a sync member that does not ack within this is ejected from the room (S11); default none, at least 100 millis"
  ),
  mode: optional(
    Config.literal("sync", "async")("LOCKSTEP_MODE"),
    "default subscription mode: sync members hold the room until they ack (S3), async ones never block it (S8)"
  ),
  maxPayloadBytes: optional(
    Config.integer("LOCKSTEP_MAX_PAYLOAD_BYTES"),
    "largest JSON payload in bytes (S16); default 1048576"
  ),
  subscriberBuffer: optional(
    Config.integer("LOCKSTEP_SUBSCRIBER_BUFFER"),
    "deliveries buffered per subscription before it counts as a slow consumer; default 1024"
  ),
  operationTimeout: optional(
    Config.duration("LOCKSTEP_OPERATION_TIMEOUT"),
    "deadline of each server operation; default 5 seconds"
  ),
  housekeepingInterval: optional(
    Config.duration("LOCKSTEP_HOUSEKEEPING_INTERVAL"),
    "period of the housekeeping run (expired clients, ack deadlines); default the smaller of the keepalive interval and half the ack timeout"
  ),
  clientId: optional(
    Config.string("LOCKSTEP_CLIENT_ID"),
    "a stable identity of this process, e.g. edge-eu-1 (1–64 characters of A-Z a-z 0-9 . _ -): the client is durable (S21–S25); default a random id"
  ),
  onClose: optional(
    Config.literal("leave", "detach")("LOCKSTEP_ON_CLOSE"),
    "what closing a durable client does: leave every room (default) or detach, keeping its memberships for a successor (S24)"
  )
}

/**
 * The configuration read from the environment (or any `ConfigProvider`), validated, with every
 * default filled in: `LOCKSTEP_KEY_PREFIX` (required), `LOCKSTEP_CLIENT_TIMEOUT`,
 * `LOCKSTEP_KEEPALIVE_INTERVAL`, `LOCKSTEP_ACK_TIMEOUT`, `LOCKSTEP_MODE`,
 * `LOCKSTEP_MAX_PAYLOAD_BYTES`, `LOCKSTEP_SUBSCRIBER_BUFFER`, `LOCKSTEP_OPERATION_TIMEOUT`,
 * `LOCKSTEP_HOUSEKEEPING_INTERVAL`, `LOCKSTEP_CLIENT_ID`, `LOCKSTEP_ON_CLOSE` (durations as "15 seconds", "500 millis"). Every variable
 * carries a description, shown in the `ConfigError` when it is missing or invalid.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<QueueConfig> = Config.all(variables).pipe(
  Config.mapOrFail(validate),
  Config.map((resolved): QueueConfig => ({
    ...resolved,
    ackTimeout: Option.getOrUndefined(resolved.ackTimeout),
    clientId: Option.getOrUndefined(resolved.clientId)
  }))
)

import { describe, expect, it } from "@effect/vitest"
import { MemoryLayer, QueueConfig } from "@lockstep/core"
import * as Gen from "@lockstep/engine-suite/arbitrary"
import { type Config, ConfigProvider, Duration, Effect, Option, Result, Schema } from "effect"

const ms = (d: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(d))

/**
 * The option and the message of a `ConfigError` for a value that was given but is wrong (what
 * `QueueConfig.invalidData` makes: the invalid value at a path; Effect 3's `ConfigError.InvalidData`).
 */
const invalidData = (error: Config.ConfigError) => {
  const cause = error.cause
  if (!Schema.isSchemaError(cause) || cause.issue._tag !== "Pointer" || cause.issue.issue._tag !== "InvalidValue") {
    throw new Error(`expected an invalid value, got ${String(error)}`)
  }
  return { path: cause.issue.path, message: cause.issue.issue.annotations?.message }
}

/** The error of a rejected config: its path and message. */
const rejection = (options: QueueConfig.QueueConfig) => {
  const result = QueueConfig.validate(options)
  if (Result.isSuccess(result)) throw new Error(`expected ${JSON.stringify(options)} to be rejected`)
  return invalidData(result.failure)
}

const accepted = (options: QueueConfig.QueueConfig) => Result.getOrThrow(QueueConfig.validate(options))

describe("QueueConfig", () => {
  describe("validate", () => {
    it("fills in the defaults", () => {
      const c = accepted({ keyPrefix: "app" })
      expect(c.keyPrefix).toBe("app")
      expect(ms(c.clientTimeout)).toBe(15_000)
      expect(ms(c.keepaliveInterval)).toBe(5_000)
      expect(Option.isNone(c.ackTimeout)).toBe(true)
      expect(c.mode).toBe("sync")
      expect(c.maxPayloadBytes).toBe(1024 * 1024)
      expect(c.subscriberBuffer).toBe(1024)
      expect(ms(c.operationTimeout)).toBe(5_000)
      expect(ms(c.housekeepingInterval)).toBe(5_000)
    })

    it("derives keepalive and housekeeping from clientTimeout and ackTimeout", () => {
      const c = accepted({ keyPrefix: "app", clientTimeout: "1 second", ackTimeout: "400 millis" })
      expect(ms(c.clientTimeout)).toBe(1_000)
      expect(ms(c.keepaliveInterval)).toBe(333)
      expect(Option.map(c.ackTimeout, Duration.toMillis)).toEqual(Option.some(400))
      expect(ms(c.housekeepingInterval)).toBe(200)
      const explicit = accepted({
        keyPrefix: "app",
        clientTimeout: Duration.seconds(30),
        keepaliveInterval: 2_000,
        housekeepingInterval: "750 millis",
        mode: "async",
        maxPayloadBytes: 10,
        subscriberBuffer: 1,
        operationTimeout: "1 second"
      })
      expect(ms(explicit.keepaliveInterval)).toBe(2_000)
      expect(ms(explicit.housekeepingInterval)).toBe(750)
      expect(explicit).toMatchObject({ mode: "async", maxPayloadBytes: 10, subscriberBuffer: 1 })
    })

    it("S21: a clientId is 1–64 characters of [A-Za-z0-9._-]; detach needs one", () => {
      for (const id of ["edge-eu-1", "a", "A.b_c-9", "x".repeat(64)]) {
        expect(accepted({ keyPrefix: "app", clientId: id }).clientId).toEqual(Option.some(id))
      }
      expect(accepted({ keyPrefix: "app" }).clientId).toEqual(Option.none())
      expect(accepted({ keyPrefix: "app" }).onClose).toBe("leave")
      expect(accepted({ keyPrefix: "app", clientId: "e", onClose: "detach" }).onClose).toBe("detach")
      for (const id of ["", "x".repeat(65), "edge:1", "edge 1", "edge|1", "é", "{e}", 42]) {
        const r = rejection({ keyPrefix: "app", clientId: id as string })
        expect(r.path).toEqual(["clientId"])
        expect(r.message).toContain("clientId must be 1–64 characters")
      }
      expect(rejection({ keyPrefix: "app", onClose: "detach" })).toEqual({
        path: ["onClose"],
        message: `onClose: "detach" needs a clientId: only a durable client has a successor to keep its memberships for`
      })
      expect(rejection({ keyPrefix: "app", clientId: "e", onClose: "stay" as "leave" }).path).toEqual(["onClose"])
    })

    it("rejects an empty keyPrefix", () => {
      expect(rejection({ keyPrefix: "" })).toEqual({
        path: ["keyPrefix"],
        message: "keyPrefix must be a non-empty string"
      })
      expect(rejection({ keyPrefix: undefined as unknown as string }).path).toEqual(["keyPrefix"])
    })

    it("rejects a keyPrefix with a brace, which would break the hash tags", () => {
      for (const keyPrefix of ["{app", "app}", "a{b}c", "{}"]) {
        const { message, path } = rejection({ keyPrefix })
        expect(path).toEqual(["keyPrefix"])
        expect(message).toContain("must not contain '{' or '}'")
        expect(message).toContain(JSON.stringify(keyPrefix))
      }
    })

    it("rejects a keyPrefix with a lone surrogate, which Redis would store as U+FFFD: another prefix (S19)", () => {
      for (const keyPrefix of ["app\uD800", "\uDC00app", "a\uDC00\uD800b"]) {
        const { message, path } = rejection({ keyPrefix })
        expect(path).toEqual(["keyPrefix"])
        expect(message).toContain("well-formed UTF-16")
        expect(message).toContain("lone surrogate")
        expect(message).toContain(JSON.stringify(keyPrefix))
      }
      // a well-formed pair (U+1F389) and U+FFFD itself are fine
      expect(accepted({ keyPrefix: "app-\uD83C\uDF89" }).keyPrefix).toBe("app-🎉")
      expect(accepted({ keyPrefix: "app-\uFFFD" }).keyPrefix).toBe("app-\uFFFD")
    })

    it("rejects a keyPrefix longer than 64 characters", () => {
      expect(accepted({ keyPrefix: "p".repeat(64) }).keyPrefix).toHaveLength(64)
      expect(rejection({ keyPrefix: "p".repeat(65) }).message).toContain("at most 64")
    })

    it("rejects a clientTimeout below 1 second", () => {
      expect(ms(accepted({ keyPrefix: "p", clientTimeout: "1 second" }).clientTimeout)).toBe(1_000)
      for (const clientTimeout of ["999 millis", 0, "0 seconds"] as const) {
        const { message, path } = rejection({ keyPrefix: "p", clientTimeout })
        expect(path).toEqual(["clientTimeout"])
        expect(message).toContain("clientTimeout must be at least 1 second")
      }
    })

    it("rejects a keepaliveInterval at or above clientTimeout, or not positive", () => {
      for (const keepaliveInterval of ["10 seconds", "11 seconds"] as const) {
        const { message, path } = rejection({ keyPrefix: "p", clientTimeout: "10 seconds", keepaliveInterval })
        expect(path).toEqual(["keepaliveInterval"])
        expect(message).toContain("must be below clientTimeout")
      }
      expect(rejection({ keyPrefix: "p", keepaliveInterval: 0 }).message).toContain("positive")
      expect(ms(
        accepted({ keyPrefix: "p", clientTimeout: "10 seconds", keepaliveInterval: "9999 millis" })
          .keepaliveInterval
      )).toBe(9_999)
    })

    it("rejects durations that are not durations or infinite", () => {
      expect(rejection({ keyPrefix: "p", clientTimeout: "soon" as Duration.Input }).message).toContain(
        "not a duration"
      )
      expect(rejection({ keyPrefix: "p", operationTimeout: Duration.infinity }).message).toContain("finite")
    })

    it("rejects a too short ackTimeout, a bad mode, and bad sizes", () => {
      expect(rejection({ keyPrefix: "p", ackTimeout: "50 millis" }).message).toContain("at least 100 milliseconds")
      expect(rejection({ keyPrefix: "p", mode: "fast" as "sync" }).path).toEqual(["mode"])
      for (const maxPayloadBytes of [0, -1, 1.5, Number.NaN]) {
        expect(rejection({ keyPrefix: "p", maxPayloadBytes }).path).toEqual(["maxPayloadBytes"])
      }
      expect(rejection({ keyPrefix: "p", subscriberBuffer: 0 }).path).toEqual(["subscriberBuffer"])
      expect(rejection({ keyPrefix: "p", operationTimeout: 0 }).path).toEqual(["operationTimeout"])
      expect(rejection({ keyPrefix: "p", housekeepingInterval: 0 }).path).toEqual(["housekeepingInterval"])
    })

    it("S28, S29: maxDeliveries (none, or at least 1), deadLetterLimit (1–100 000, 1000), deadLetterRetention (≥ 1 s, 7 days)", () => {
      const defaults = accepted({ keyPrefix: "p" })
      expect(defaults.maxDeliveries).toEqual(Option.none())
      expect(defaults.deadLetterLimit).toBe(1000)
      expect(ms(defaults.deadLetterRetention)).toBe(7 * 24 * 3600 * 1000)
      const given = accepted({
        keyPrefix: "p",
        maxDeliveries: 1,
        deadLetterLimit: 100_000,
        deadLetterRetention: "1 second"
      })
      expect(given.maxDeliveries).toEqual(Option.some(1))
      expect(given.deadLetterLimit).toBe(100_000)
      expect(ms(given.deadLetterRetention)).toBe(1_000)
      for (const maxDeliveries of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "3" as unknown as number]) {
        const r = rejection({ keyPrefix: "p", maxDeliveries })
        expect(r.path).toEqual(["maxDeliveries"])
        expect(r.message).toContain("maxDeliveries must be an integer of at least 1")
      }
      for (const deadLetterLimit of [0, 100_001, 2.5]) {
        const r = rejection({ keyPrefix: "p", deadLetterLimit })
        expect(r.path).toEqual(["deadLetterLimit"])
        expect(r.message).toContain("deadLetterLimit must be an integer between 1 and 100000")
      }
      for (const deadLetterRetention of ["999 millis", 0] as const) {
        const r = rejection({ keyPrefix: "p", deadLetterRetention })
        expect(r.path).toEqual(["deadLetterRetention"])
        expect(r.message).toContain("deadLetterRetention must be at least 1 second")
      }
      expect(rejection({ keyPrefix: "p", deadLetterRetention: Duration.infinity }).message).toContain("finite")
    })

    it.prop(
      "accepts exactly the prefixes of 1–64 characters without braces",
      [Gen.stringOf(Gen.constantFrom("a", ":", "{", "}", "-", "é"), { maxLength: 80 })],
      ([keyPrefix]) => {
        const valid = keyPrefix.length >= 1 && keyPrefix.length <= 64 && !/[{}]/.test(keyPrefix)
        expect(Result.isSuccess(QueueConfig.validate({ keyPrefix }))).toBe(valid)
      }
    )
  })

  describe("resolve and layers", () => {
    it.effect("resolve fails with a ConfigError", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(QueueConfig.resolve({ keyPrefix: "{x}" }))
        expect(invalidData(error).path).toEqual(["keyPrefix"])
        const ok = yield* QueueConfig.resolve({ keyPrefix: "x" })
        expect(ok.keyPrefix).toBe("x")
      }))

    it.effect("a memory client with an invalid config fails with the ConfigError", () =>
      Effect.gen(function*() {
        const broker = yield* MemoryLayer.makeBroker
        const error = yield* MemoryLayer.make({ keyPrefix: "p", clientTimeout: "10 millis" }).pipe(
          Effect.provideService(MemoryLayer.MemoryBroker, broker),
          Effect.flip
        )
        expect(error._tag).toBe("ConfigError")
        expect(error._tag === "ConfigError" && invalidData(error).path).toEqual(["clientTimeout"])
        expect(String(error)).toContain("clientTimeout must be at least 1 second")
      }))
  })

  describe("config (environment)", () => {
    const read = (entries: ReadonlyArray<readonly [string, string]>) =>
      QueueConfig.config.parse(ConfigProvider.fromEnv({ env: Object.fromEntries(entries) }))

    it.effect("reads every LOCKSTEP_ variable", () =>
      Effect.gen(function*() {
        const c = yield* read([
          ["LOCKSTEP_KEY_PREFIX", "edge"],
          ["LOCKSTEP_CLIENT_TIMEOUT", "6 seconds"],
          ["LOCKSTEP_KEEPALIVE_INTERVAL", "1500 millis"],
          ["LOCKSTEP_ACK_TIMEOUT", "2 seconds"],
          ["LOCKSTEP_MODE", "async"],
          ["LOCKSTEP_MAX_PAYLOAD_BYTES", "2048"],
          ["LOCKSTEP_SUBSCRIBER_BUFFER", "16"],
          ["LOCKSTEP_OPERATION_TIMEOUT", "750 millis"],
          ["LOCKSTEP_HOUSEKEEPING_INTERVAL", "300 millis"],
          ["LOCKSTEP_CLIENT_ID", "edge-eu-1"],
          ["LOCKSTEP_ON_CLOSE", "detach"],
          ["LOCKSTEP_MAX_DELIVERIES", "5"],
          ["LOCKSTEP_DEAD_LETTER_LIMIT", "50"],
          ["LOCKSTEP_DEAD_LETTER_RETENTION", "2 hours"]
        ])
        expect(c.keyPrefix).toBe("edge")
        expect(ms(c.clientTimeout!)).toBe(6_000)
        expect(ms(c.keepaliveInterval!)).toBe(1_500)
        expect(ms(c.ackTimeout!)).toBe(2_000)
        expect(c.mode).toBe("async")
        expect(c.maxPayloadBytes).toBe(2048)
        expect(c.subscriberBuffer).toBe(16)
        expect(ms(c.operationTimeout!)).toBe(750)
        expect(ms(c.housekeepingInterval!)).toBe(300)
        expect(c.clientId).toBe("edge-eu-1")
        expect(c.onClose).toBe("detach")
        expect(c.maxDeliveries).toBe(5)
        expect(c.deadLetterLimit).toBe(50)
        expect(ms(c.deadLetterRetention!)).toBe(2 * 3600 * 1000)
        // what it reads is a valid QueueConfig again
        expect(Result.isSuccess(QueueConfig.validate(c))).toBe(true)
      }))

    it.effect("only the prefix is required; the rest defaults", () =>
      Effect.gen(function*() {
        const c = yield* read([["LOCKSTEP_KEY_PREFIX", "edge"]])
        expect(c.keyPrefix).toBe("edge")
        expect(ms(c.clientTimeout!)).toBe(15_000)
        expect(c.ackTimeout).toBeUndefined()
        expect(c.mode).toBe("sync")
        expect(c.maxDeliveries).toBeUndefined()
        expect(c.deadLetterLimit).toBe(1000)
        expect(ms(c.deadLetterRetention!)).toBe(7 * 24 * 3600 * 1000)
      }))

    it.effect("a missing prefix or an invalid value is a ConfigError", () =>
      Effect.gen(function*() {
        const missing = yield* Effect.flip(read([]))
        expect(String(missing)).toContain("LOCKSTEP_KEY_PREFIX")
        const braces = yield* Effect.flip(read([["LOCKSTEP_KEY_PREFIX", "{edge}"]]))
        expect(String(braces)).toContain("must not contain '{' or '}'")
        const short = yield* Effect.flip(
          read([["LOCKSTEP_KEY_PREFIX", "edge"], ["LOCKSTEP_CLIENT_TIMEOUT", "500 millis"]])
        )
        expect(String(short)).toContain("clientTimeout must be at least 1 second")
        const mode = yield* Effect.flip(read([["LOCKSTEP_KEY_PREFIX", "edge"], ["LOCKSTEP_MODE", "fast"]]))
        expect(String(mode)).toContain("LOCKSTEP_MODE")
        const notDuration = yield* Effect.flip(read([["LOCKSTEP_KEY_PREFIX", "e"], ["LOCKSTEP_ACK_TIMEOUT", "soon"]]))
        expect(String(notDuration)).toContain("LOCKSTEP_ACK_TIMEOUT")
        const housekeeping = yield* Effect.flip(
          read([["LOCKSTEP_KEY_PREFIX", "e"], ["LOCKSTEP_HOUSEKEEPING_INTERVAL", "0 millis"]])
        )
        expect(String(housekeeping)).toContain("housekeepingInterval must be positive")
        const id = yield* Effect.flip(read([["LOCKSTEP_KEY_PREFIX", "e"], ["LOCKSTEP_CLIENT_ID", "edge:1"]]))
        expect(String(id)).toContain("clientId must be 1–64 characters")
        const onClose = yield* Effect.flip(read([["LOCKSTEP_KEY_PREFIX", "e"], ["LOCKSTEP_ON_CLOSE", "detach"]]))
        expect(String(onClose)).toContain(`onClose: "detach" needs a clientId`)
        const maxDeliveries = yield* Effect.flip(read([["LOCKSTEP_KEY_PREFIX", "e"], ["LOCKSTEP_MAX_DELIVERIES", "0"]]))
        expect(String(maxDeliveries)).toContain("maxDeliveries must be an integer of at least 1")
        const notInt = yield* Effect.flip(read([["LOCKSTEP_KEY_PREFIX", "e"], ["LOCKSTEP_MAX_DELIVERIES", "two"]]))
        expect(String(notInt)).toContain("LOCKSTEP_MAX_DELIVERIES")
        const limit = yield* Effect.flip(read([["LOCKSTEP_KEY_PREFIX", "e"], ["LOCKSTEP_DEAD_LETTER_LIMIT", "100001"]]))
        expect(String(limit)).toContain("deadLetterLimit must be an integer between 1 and 100000")
        const retention = yield* Effect.flip(
          read([["LOCKSTEP_KEY_PREFIX", "e"], ["LOCKSTEP_DEAD_LETTER_RETENTION", "10 millis"]])
        )
        expect(String(retention)).toContain("deadLetterRetention must be at least 1 second")
      }))
  })
})

/**
 * The one failure type of the test harness, re-exported as `RedisTestServer.RedisTestError`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * Why the test harness could not provide a Redis server.
 *
 * @since 0.1.0
 * @category errors
 */
export type RedisTestErrorReason =
  | "NotInstalled"
  | "StartFailed"
  | "Timeout"
  | "ClusterCreateFailed"
  | "InvalidOptions"
  | "CommandFailed"

/**
 * The test harness could not spawn, reach or configure a `redis-server`: `reason` says which
 * step failed (`NotInstalled` carries install hints), `message` says what happened.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisTestError extends Data.TaggedError("RedisTestError")<{
  readonly reason: RedisTestErrorReason
  readonly message: string
  readonly cause?: unknown
}> {}

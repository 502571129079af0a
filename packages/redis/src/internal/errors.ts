/**
 * Failures of Redis (a connection, a command, a script), in the engine-neutral types of
 * `@lockstep/core`: `EngineError` with `engine: "redis"`, and `OperationTimeout`.
 */
import { QueueError } from "@lockstep/core"

/** A failure of a Redis call. */
export type RedisFailure = QueueError.EngineError | QueueError.OperationTimeout

/** `operation` failed in Redis because of `cause` (the ioredis error, usually). */
export const redisError = (operation: string, cause: unknown): QueueError.EngineError =>
  new QueueError.EngineError({ engine: "redis", operation, cause })

/**
 * Failures of Redis (a connection, a command, a script), in the engine-neutral types of
 * `@lockstep/core`: `EngineError` with `engine: "redis"`, and `OperationTimeout`.
 */
import { QueueError } from "@lockstep/core"

/** A failure of a Redis call. */
export type RedisFailure = QueueError.EngineError | QueueError.OperationTimeout

/**
 * The cause without the failed command's arguments: ioredis attaches the command to a reply error
 * (`command: { name, args }`), and its arguments are what must not travel with an error, wherever
 * it is serialized (a JSON log line, a test report, an error tracker): a failed AUTH names the
 * password, a failed script batch carries every payload of the batch (up to about a megabyte). A
 * cluster error may carry such an error as `lastNodeError`. Those are replaced by a plain error
 * with the same name and message (Redis words its messages without the arguments).
 */
const withoutArguments = (cause: unknown): unknown => {
  if (!(cause instanceof Error) || !("command" in cause || "lastNodeError" in cause)) return cause
  const plain = new Error(cause.message)
  plain.name = cause.name
  return plain
}

/** `operation` failed in Redis because of `cause` (the ioredis error, usually). */
export const redisError = (operation: string, cause: unknown): QueueError.EngineError =>
  new QueueError.EngineError({ engine: "redis", operation, cause: withoutArguments(cause) })

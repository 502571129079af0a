/**
 * Failures of Redis (a connection, a command, a script), in the engine-neutral types of
 * `@lockstep/core`: `EngineError` with `engine: "redis"`, and `OperationTimeout`.
 */
import { QueueError } from "@lockstep/core"

/** A failure of a Redis call. */
export type RedisFailure = QueueError.EngineError | QueueError.OperationTimeout

/** Commands whose arguments carry credentials. */
const secretCommands = new Set(["auth", "hello"])

/**
 * The cause without credentials: ioredis attaches the failed command to a reply error
 * (`command: { name, args }`), and a failed AUTH names the password there, which would show
 * wherever the error is serialized (a JSON log line, a test report); a cluster error may carry
 * such an error as `lastNodeError`. Those are replaced by a plain error with the same name and
 * message (Redis words its messages without the password).
 */
const withoutCredentials = (cause: unknown): unknown => {
  if (!(cause instanceof Error)) return cause
  const command = "command" in cause ? cause.command as { readonly name?: unknown } | undefined : undefined
  const secret = typeof command?.name === "string" && secretCommands.has(command.name.toLowerCase())
  if (!secret && !("lastNodeError" in cause)) return cause
  const plain = new Error(cause.message)
  plain.name = cause.name
  return plain
}

/** `operation` failed in Redis because of `cause` (the ioredis error, usually). */
export const redisError = (operation: string, cause: unknown): QueueError.EngineError =>
  new QueueError.EngineError({ engine: "redis", operation, cause: withoutCredentials(cause) })

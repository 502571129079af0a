/**
 * Failures of Redis (a connection, a command, a script), in the engine-neutral types of
 * `@lockstep/core`: `EngineError` with `engine: "redis"`, and `OperationTimeout`; and how the
 * refusal of a fenced client's script (S21) is told apart.
 */
import { type Backend, QueueError } from "@lockstep/core"
import { supersededReply } from "./prelude.js"

/** A failure of a Redis call. */
export type RedisFailure = QueueError.EngineError | QueueError.OperationTimeout

/**
 * The cause without the failed command's arguments: ioredis attaches the command to a reply error
 * (`command: { name, args }`), and its arguments are what must not travel with an error, wherever
 * it is serialized (a JSON log line, a test report, an error tracker): a failed script batch
 * carries every payload of the batch (up to about a megabyte), and a failed AUTH / HELLO named the
 * password before ioredis 6 redacted those (we do not rely on its list of sensitive commands). A
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

/**
 * Whether `failure` is the error reply of a script that refused a fenced client (S21, `superseded`
 * in `prelude.ts`): the backend, which knows the client, turns it into `ClientSuperseded`.
 */
export const isSupersededReply = (failure: Backend.BackendError): boolean =>
  failure._tag === "EngineError" && failure.cause instanceof Error && failure.cause.message.startsWith(supersededReply)

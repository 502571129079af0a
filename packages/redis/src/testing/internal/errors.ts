/**
 * The harness's one failure type and how spawn failures map into it.
 */
import type * as PlatformError from "effect/PlatformError"
import { RedisTestError } from "../RedisTestError.js"

export { RedisTestError, type RedisTestErrorReason } from "../RedisTestError.js"

/** How to install the Redis binaries, quoted in `NotInstalled` errors. */
export const installHint =
  "Install Redis (server and redis-cli), e.g. `apt-get install redis-server` on Debian/Ubuntu " +
  "or `brew install redis` on macOS, and make sure `redis-server` and `redis-cli` are on PATH."

/**
 * Did `spawn` itself report ENOENT, i.e. the executable is not on PATH? (A missing working
 * directory is reported by the spawner's `FileSystem.access` check, not by `spawn`.)
 */
const isNotFound = (error: PlatformError.PlatformError): boolean =>
  error.reason._tag === "NotFound" && error.reason.module === "ChildProcess" && error.reason.method === "spawn"

/** Map a spawn failure of `executable` to a `RedisTestError` (with install hints for ENOENT). */
export const spawnError = (executable: string) => (cause: PlatformError.PlatformError): RedisTestError =>
  isNotFound(cause)
    ? new RedisTestError({
      reason: "NotInstalled",
      message: `\`${executable}\` was not found on PATH. ${installHint}`,
      cause
    })
    : new RedisTestError({
      reason: "StartFailed",
      message: `Could not spawn \`${executable}\`: ${cause.message}`,
      cause
    })

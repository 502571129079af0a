/**
 * The harness's one failure type and how spawn failures map into it.
 */

import { RedisTestError } from "../RedisTestError.js"

export { RedisTestError, type RedisTestErrorReason } from "../RedisTestError.js"

/** How to install the Redis binaries, quoted in `NotInstalled` errors. */
export const installHint =
  "Install Redis (server and redis-cli), e.g. `apt-get install redis-server` on Debian/Ubuntu " +
  "or `brew install redis` on macOS, and make sure `redis-server` and `redis-cli` are on PATH."

const isNotFound = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "SystemError" &&
  "reason" in error && error.reason === "NotFound"

/** Map a spawn failure of `executable` to a `RedisTestError` (with install hints for ENOENT). */
export const spawnError = (executable: string) => (cause: unknown): RedisTestError =>
  isNotFound(cause)
    ? new RedisTestError({
      reason: "NotInstalled",
      message: `\`${executable}\` was not found on PATH. ${installHint}`,
      cause
    })
    : new RedisTestError({
      reason: "StartFailed",
      message: `Could not spawn \`${executable}\`: ${String(cause)}`,
      cause
    })

/**
 * Run the `lockstep` bin as a child process, as a user would: `node --import tsx
 * packages/cli/src/bin.ts <args>` (workspace packages resolved through `tsconfig.base.json`
 * paths), on the node binary of this process, with an environment of the test's own (none of this
 * process's `LOCKSTEP_*` variables leak in). The process must exit by itself within `deadline`:
 * `bin.ts` sets the exit code and never calls `process.exit`, so a connection or timer the
 * client left behind (S20) keeps it alive and fails the test.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ChildProcess from "effect/process/ChildProcess"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Stream from "effect/Stream"
import { fileURLToPath } from "node:url"

/** The repository root (this file is packages/cli/test/utils/lockstep.ts). */
const root = fileURLToPath(new URL("../../../../", import.meta.url))
const bin = fileURLToPath(new URL("../../src/bin.ts", import.meta.url))

/** What one run printed, how it ended and how long it took. */
export interface Run {
  readonly stdout: string
  readonly stderr: string
  readonly code: number
  readonly ms: number
}

/** This process's environment without lockstep's variables (PATH, HOME, … stay). */
const baseEnv = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] =>
      entry[1] !== undefined && !entry[0].startsWith("LOCKSTEP_")
    )
  )

const collect = (stream: Stream.Stream<Uint8Array, unknown>) =>
  stream.pipe(Stream.decodeText(), Stream.mkString, Effect.orElseSucceed(() => ""))

/**
 * Run `lockstep args` with `env` (added to the base environment) and wait for it to exit by
 * itself; dies with what it printed if it did not within `deadline`.
 */
export const lockstep = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  deadline: Duration.Input = "20 seconds"
): Effect.Effect<Run, never, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.scoped(Effect.gen(function*() {
    const started = Date.now()
    const child = yield* ChildProcess.make(process.execPath, ["--import", "tsx", bin, ...args], {
      cwd: root,
      env: { ...baseEnv(), TSX_TSCONFIG_PATH: `${root}tsconfig.base.json`, NO_COLOR: "1", ...env },
      extendEnv: false,
      stdin: "ignore"
    })
    const [stdout, stderr, code] = yield* Effect.all(
      [collect(child.stdout), collect(child.stderr), child.exitCode],
      { concurrency: "unbounded" }
    )
    return { stdout, stderr, code: Number(code), ms: Date.now() - started }
  })).pipe(
    Effect.timeoutOrElse({
      duration: deadline,
      orElse: () =>
        Effect.die(
          new Error(
            `lockstep ${args.join(" ")} did not exit by itself within ${
              Duration.format(Duration.fromInputUnsafe(deadline))
            }`
          )
        )
    }),
    Effect.catchTag("PlatformError", (error) => Effect.die(error))
  )

/** The lines of a run's stdout, without the final newline. */
export const lines = (run: Run): ReadonlyArray<string> => run.stdout.replace(/\n$/, "").split("\n")

/**
 * The `lockstep` command line (bin `lockstep`): list and inspect rooms (`rooms`, `state`, `peek`,
 * `stalled`; S13, S14, S26) and act on them as an operator (`eject`, `pause`, `resume`, `skip`,
 * `purge`, `dead-letters`, `drop-dead-letters`, `redrive`; S29, S30) on the Redis engine, with
 * human tables or `--json`. `run` is the whole program without the process around it: the bin
 * runs it on Node, a test or another tool can run it with arguments of its own.
 *
 * ```ts
 * import { Cli } from "@lockstep/cli"
 * import * as NodeServices from "@effect/platform-node/NodeServices"
 *
 * const code = yield* Cli.run(["state", "orders", "--prefix", "app"]).pipe(Effect.provide(NodeServices.layer))
 * ```
 *
 * @since 1.1.0
 */
import type * as Command from "effect/cli/Command"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/cli.js"

/**
 * The exit codes: `Ok` (0) done, also when there was nothing to do (`pause` of a paused room,
 * `eject` of a client that is not a member); `EngineFailure` (1) the engine failed or could not
 * be reached (`EngineError`, `OperationTimeout`); `Usage` (2) the command line or the environment
 * is wrong (an unknown flag, a missing `--prefix`, a bad URL, an invalid room name).
 *
 * @since 1.1.0
 * @category models
 */
export const ExitCode: {
  readonly Ok: 0
  readonly EngineFailure: 1
  readonly Usage: 2
} = internal.ExitCode

/**
 * Run `lockstep` with `args` (without the node and script paths): print the answer on stdout, or
 * one line on stderr when it fails, and succeed with the exit code. It fails only by
 * interruption. The client it makes lives as long as the command: it subscribes to nothing, and
 * once the command is done it has left nothing running (S20).
 *
 * @since 1.1.0
 * @category running
 */
export const run: (args: ReadonlyArray<string>) => Effect.Effect<number, never, Command.Environment> = internal.run

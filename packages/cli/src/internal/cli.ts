/**
 * The `lockstep` program: the command tree, the settings of the effect CLI it runs under (no
 * interactive wizard, parse errors reported as one line, logs on stderr and from warnings up
 * unless `--log-level` says otherwise) and the mapping of failures to one line and an exit code.
 */
import * as Cause from "effect/Cause"
import * as CliConfig from "effect/cli/CliConfig"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import { createRequire } from "node:module"
import * as Admin from "./adminCommands.js"
import { ExitCode, report } from "./errors.js"
import * as Read from "./readCommands.js"
import { root } from "./root.js"

export { ExitCode }

/** `lockstep` and its subcommands. */
export const command = root.pipe(
  Command.withSubcommands([
    { group: "Rooms", commands: [Read.rooms, Read.state, Read.peek, Read.stalled] },
    { group: "Operator actions", commands: [Admin.pause, Admin.resume, Admin.skip, Admin.purge, Admin.eject] },
    { group: "Dead letters", commands: [Admin.deadLetters, Admin.redrive, Admin.dropDeadLetters] }
  ])
)

/** The package's version, for `--version` (src/internal/ and dist/internal/ are two levels below package.json). */
const version = (): string => {
  const manifest: unknown = createRequire(import.meta.url)("../../package.json")
  return typeof manifest === "object" && manifest !== null && "version" in manifest &&
      typeof manifest.version === "string"
    ? manifest.version
    : "unknown"
}

/** Help as the effect CLI prints it; a parse error is not followed by the help text but reported as one line. */
const presenter: CliOutput.Presenter = {
  present: (event) => event._tag === "InvalidInvocation" ? Effect.void : CliOutput.defaultPresenter.present(event)
}

const settings = Layer.mergeAll(
  CliOutput.layerPresenter(presenter),
  // the wizard prompts on a terminal: not for a tool that scripts run
  CliConfig.layer({ builtIns: GlobalFlag.BuiltIns.filter((flag) => flag !== GlobalFlag.Wizard) }),
  // stdout is for answers (JSON with --json): logs go to stderr
  Layer.succeed(Logger.LogToStderr, true),
  Layer.succeed(References.MinimumLogLevel, "Warn")
)

export const run = (args: ReadonlyArray<string>): Effect.Effect<number, never, Command.Environment> =>
  Effect.suspend(() => Command.runWith(command, { version: version() })(args)).pipe(
    Effect.as<number>(ExitCode.Ok),
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
      const { code, line } = report(cause)
      return Console.error(line).pipe(Effect.as(code))
    }),
    Effect.provide(settings)
  )

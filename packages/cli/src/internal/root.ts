/**
 * The `lockstep` command itself: its shared flags (`connection.ts`), and what every subcommand
 * builds on: the client made from those flags and the printing of a `View`.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { clientLayer, sharedFlags } from "./connection.js"
import { render, type View } from "./views.js"

/** `lockstep` with its shared flags and no subcommands yet (the subcommands read its flags). */
export const root = Command.make("lockstep").pipe(
  Command.withSharedFlags(sharedFlags),
  Command.withDescription(
    "Inspect and operate lockstep rooms on Redis: list them, see who a room waits for, pause, resume, skip, purge, eject members, browse and redrive dead letters."
  )
)

/** The client of the command being run, made from the shared flags; closed when the command ends. */
export const client = Layer.unwrap(Effect.map(root, clientLayer))

/** Print a command's answer on stdout: a table or a line, or JSON with `--json`. */
export const print = (view: View): Effect.Effect<void, never, Command.CommandContext<"lockstep">> =>
  Effect.flatMap(root, (options) => Console.log(render(view, options.json)))

/** The `<room>` argument of the commands on one room. */
export const roomArgument = Argument.String("room").pipe(
  Argument.withDescription("the room's name (quote it for the shell if it has blanks)")
)

/** Help texts of a subcommand: the line of the `lockstep --help` list, its own description, examples. */
export interface Docs {
  readonly short: string
  readonly long: string
  readonly examples: ReadonlyArray<Command.Command.Example>
}

/**
 * A subcommand of `lockstep`: its flags and arguments (`config`), its help (`docs`) and its
 * handler, which runs with the client of the shared flags (`client`).
 */
export const subcommand = <const Name extends string, const Config extends Command.Command.Config, E, R>(
  name: Name,
  docs: Docs,
  config: Config,
  handler: (input: Command.Command.Config.Infer<Config>) => Effect.Effect<void, E, R>
) =>
  Command.make(name, config, handler).pipe(
    Command.withShortDescription(docs.short),
    Command.withDescription(docs.long),
    Command.withExamples(docs.examples),
    Command.provide(client)
  )

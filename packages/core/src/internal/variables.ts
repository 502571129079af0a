/**
 * Environment variables that explain themselves: a failure names the variable, says what was
 * expected (and what was found) and what the variable is for, e.g.
 * `LOCKSTEP_CLIENT_TIMEOUT: expected a duration such as "15 seconds", got "soon" — a client not
 * heard from for this long is ejected (S10); …`. Effect's own messages ("Expected a valid
 * Duration string") name the variable only in the path and say nothing of what it is for.
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type { VariableOptions } from "../QueueConfig.js"

/** The message of a variable's failure: `<name>: <problem> — <description>`. */
const describe = (name: string, problem: string, description: string) => `${name}: ${problem} — ${description}`

/** A `ConfigError` for variable `name` (the path) with the message `<name>: <problem> — <description>`. */
export const invalidVariable = (name: string, problem: string, description: string): Config.ConfigError =>
  new Config.ConfigError(
    new Schema.SchemaError(
      new SchemaIssue.Pointer([name], new SchemaIssue.InvalidValue({ message: describe(name, problem, description) }))
    )
  )

/**
 * One variable: its text, checked by `schema` in the read itself (so the error's path is the
 * variable's full path, under `Config.nested` too), then decoded. A missing variable reads as
 * absent, as with `Config.schema` (`Config.option` / `Config.withDefault` recover it).
 */
export const variable = <A>(name: string, options: VariableOptions<A>): Config.Config<A> => {
  const { description, expected, schema } = options
  const decode = Schema.decodeUnknownOption(schema)
  const text = Schema.String.annotate({
    description,
    // the message of a variable that is not set (or not text, from a structured provider)
    message: describe(name, `expected ${expected}, but it is not set`, description)
  }).check(
    Schema.makeFilter((value: string) =>
      Option.isSome(decode(value)) || describe(name, `expected ${expected}, got ${JSON.stringify(value)}`, description)
    )
  )
  return Config.mapEffect(
    Config.schema(text, name),
    (value) =>
      Option.match(decode(value), {
        // checked above: not reached
        onNone: () => Effect.fail(invalidVariable(name, `expected ${expected}`, description)),
        onSome: Effect.succeed
      })
  )
}

/**
 * A failure of a check made after the variables were read (`QueueConfig.validate`: a bound, or
 * two options that do not fit together), at the path of an option: the same failure at the path
 * of the variable it was read from, with the variable's name and description in the message.
 * Another failure is returned as it is.
 */
export const forVariable = (
  error: Config.ConfigError,
  variables: { readonly [option: string]: { readonly name: string; readonly description: string } | undefined }
): Config.ConfigError => {
  const cause = error.cause
  if (!Schema.isSchemaError(cause) || cause.issue._tag !== "Pointer" || cause.issue.issue._tag !== "InvalidValue") {
    return error
  }
  const [option] = cause.issue.path
  const message = cause.issue.issue.annotations?.message
  const read = typeof option === "string" ? variables[option] : undefined
  return read === undefined || typeof message !== "string"
    ? error
    : invalidVariable(read.name, message, read.description)
}

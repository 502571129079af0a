/**
 * A lockstep Redis operation is one value, defined in its own module (`operations/<name>.ts`):
 * its name, its routing key (a function of its input), its arguments as a named record, its Lua
 * body with the prelude helpers it includes, and the decoding of its reply. Everything else is
 * derived from that value here: the ARGV of a call (the record's fields, in their order), and the
 * Lua that runs, which is, in order:
 *
 * - `#!lua flags=allow-cross-slot-keys` for a batch spanning the shards (slots) of a node;
 * - `local base, pub = ARGV[1], ARGV[2]` for an operation on a shard (`shard`, `batch`);
 * - the included helpers and those they use (`prelude.ts`), in the prelude's order;
 * - `local <key field> = KEYS[1]`, for an operation that uses its routing key itself;
 * - one local per remaining field, named after it (`local room, client = ARGV[3], ARGV[4]`);
 * - the body, where keys, fields and encodings are interpolated from the key schema (`keys.ts`).
 *
 * `runner.ts` registers the Lua with ioredis and runs the operation.
 */
import type { Epoch, Pub } from "./keys.js"
import { type Helper, helpers } from "./prelude.js"
import type { Decoder } from "./reply.js"

/** A value of ARGV. */
export type ArgValue = string | number

/** An argument: one ARGV value of type `A`, bound to a Lua local named after its field. */
export interface Arg<A extends ArgValue> {
  readonly _tag: "Arg"
  readonly type?: A
}

/** The last argument: a list, one ARGV value per element, each bound in turn to `local` (`forEachRest`). */
export interface Rest<A extends ArgValue> {
  readonly _tag: "Rest"
  readonly local: string
  readonly type?: A
}

/** The routing key itself (KEYS[1], not an ARGV value), bound to a local named after its field. */
export interface Key {
  readonly _tag: "Key"
}

/** Named arguments, in ARGV order. */
export type Args = { readonly [field: string]: Arg<ArgValue> | Rest<ArgValue> | Key }

/** The input record of arguments `A`. */
export type Input<A extends Args> = {
  readonly [F in keyof A]: A[F] extends Arg<infer T> ? T : A[F] extends Rest<infer T> ? ReadonlyArray<T> : string
}

/** A string argument. */
export const string: Arg<string> = { _tag: "Arg" }
/** A number argument. */
export const number: Arg<number> = { _tag: "Arg" }
/** An argument of type `A` (e.g. a set of literals). */
export const of = <A extends ArgValue>(): Arg<A> => ({ _tag: "Arg" })
/** The epoch of a durable client's claim, "" for none (S21). */
export const epoch: Arg<Epoch> = string
/** The remaining ARGV: a list of strings, each bound in turn to `local`. */
export const rest = (local: string): Rest<string> => ({ _tag: "Rest", local })
/** The routing key, bound to a local. */
export const key: Key = { _tag: "Key" }

/** The first arguments of an operation on a shard: its key base and its publish command (S17). */
const shardArgs = { base: string, pub: of<Pub>() }
type ShardArgs = typeof shardArgs

/** Where each argument goes, derived from the record. */
export interface Layout {
  /** the local bound to KEYS[1], for an operation that uses its routing key itself */
  readonly keyLocal: string | undefined
  /** the ARGV fields from ARGV[1], in order */
  readonly head: ReadonlyArray<string>
  /** then the fields of each item of a batch, item after item */
  readonly item: ReadonlyArray<string> | undefined
  /** or one value per remaining ARGV: the input field (a list) and the local each value is bound to */
  readonly rest: { readonly field: string; readonly local: string } | undefined
}

/** What a body may splice in, generated from its layout. */
export interface Generated {
  /**
   * Opens the loop over the items of a batch (`for … do`, the body closes it with `end`): binds
   * each item field to a local, except `base`, which is assigned (the keys are built on it).
   */
  readonly forEachItem: string
  /** Opens the loop over the rest values (`for … do`), binding each to its local. */
  readonly forEachRest: string
  /** How many rest values there are (a Lua expression). */
  readonly restCount: string
}

interface Common<O> {
  readonly name: string
  /** the prelude helpers the body calls (each brings those it uses) */
  readonly includes: ReadonlyArray<Helper>
  /** a batch over the shards of one node: Redis lets it touch the keys of every slot the node serves */
  readonly crossSlot?: boolean
  readonly lua: string | ((generated: Generated) => string)
  readonly decode: Decoder<O>
}

interface Derived<O> {
  readonly name: string
  /** the name of its ioredis command */
  readonly command: string
  readonly includes: ReadonlyArray<Helper>
  readonly layout: Layout
  /** the Lua that runs */
  readonly lua: string
  readonly decode: Decoder<O>
}

/** One script call: KEYS[1] is `key(input)`, ARGV `argv(input)`. */
export interface Operation<I, O> extends Derived<O> {
  readonly _tag: "Operation"
  readonly key: (input: I) => string
  readonly argv: (input: I) => Array<ArgValue>
}

/**
 * One script call for the items of a batch (a shard's or a node's, in one event-loop turn): ARGV is
 * the head, then each item. Routed by the key of its first item.
 */
export interface BatchOperation<H, I, O> extends Derived<O> {
  readonly _tag: "BatchOperation"
  readonly key: (item: I) => string
  readonly argv: (head: H, items: ReadonlyArray<I>) => Array<ArgValue>
}

const layoutOf = (args: Args, item?: Args): Layout => {
  let keyLocal: string | undefined
  let rest: Layout["rest"]
  const head: Array<string> = []
  for (const [field, spec] of Object.entries(args)) {
    if (rest !== undefined) throw new Error(`operation: ${field} follows the rest argument ${rest.field}`)
    if (spec._tag === "Key") keyLocal = field
    else if (spec._tag === "Rest") rest = { field, local: spec.local }
    else head.push(field)
  }
  return { keyLocal, head, item: item === undefined ? undefined : Object.keys(item), rest }
}

/** The helpers `includes` brings, with those they use, in the prelude's order. */
export const included = (includes: ReadonlyArray<Helper>): ReadonlyArray<Helper> => {
  const all = new Set<Helper>()
  const visit = (helper: Helper) => {
    if (all.has(helper)) return
    all.add(helper)
    helper.uses.forEach(visit)
  }
  includes.forEach(visit)
  for (const helper of all) {
    if (!helpers.includes(helper)) throw new Error(`operation: helper ${helper.name} is not in the prelude`)
  }
  return helpers.filter((helper) => all.has(helper))
}

const argv = (offset: number) => (offset === 0 ? "ARGV[i]" : `ARGV[i + ${offset}]`)

/** `local a, b = ARGV[from], ARGV[from + 1]` (nothing for no names). */
const locals = (names: ReadonlyArray<string>, from: number): string =>
  names.length === 0 ? "" : `local ${names.join(", ")} = ${names.map((_, i) => `ARGV[${from + i}]`).join(", ")}`

const shardFields: ReadonlyArray<string> = Object.keys(shardArgs)

const generate = (layout: Layout): Generated => {
  const first = layout.head.length + 1
  const item = layout.item ?? []
  const assigned = item.flatMap((name, k) => shardFields.includes(name) ? [`  ${name} = ${argv(k)}`] : [])
  const declared = item.flatMap((name, k) => shardFields.includes(name) ? [] : [[name, argv(k)] as const])
  const forEachItem = item.length === 0 ? "" : [
    `for i = ${first}, #ARGV - ${item.length - 1}, ${item.length} do`,
    ...assigned,
    ...(declared.length === 0
      ? []
      : [`  local ${declared.map(([name]) => name).join(", ")} = ${declared.map(([, at]) => at).join(", ")}`])
  ].join("\n")
  const rest = layout.rest
  return {
    forEachItem,
    forEachRest: rest === undefined ? "" : `for i = ${first}, #ARGV do\n  local ${rest.local} = ARGV[i]`,
    restCount: rest === undefined ? "0" : `(#ARGV - ${layout.head.length})`
  }
}

const derive = <O>(definition: Common<O>, layout: Layout, onShard: boolean): Derived<O> => {
  const uses = included(definition.includes)
  const needsShard = uses.find((helper) => helper.shard)
  if (!onShard && needsShard !== undefined) {
    throw new Error(`operation ${definition.name}: ${needsShard.name} needs a shard base`)
  }
  const body = (typeof definition.lua === "string" ? definition.lua : definition.lua(generate(layout))).trim()
  const lua = [
    definition.crossSlot === true ? "#!lua flags=allow-cross-slot-keys" : "",
    onShard ? locals(shardFields, 1) : "",
    ...uses.map((helper) => helper.lua.trim()),
    layout.keyLocal === undefined ? "" : `local ${layout.keyLocal} = KEYS[1]`,
    onShard ? locals(layout.head.slice(shardFields.length), shardFields.length + 1) : locals(layout.head, 1),
    body
  ].filter((part) => part !== "").join("\n")
  return {
    name: definition.name,
    command: `lockstep_${definition.name}`,
    includes: definition.includes,
    layout,
    lua: `${lua}\n`,
    decode: definition.decode
  }
}

type Fields = Readonly<Record<string, unknown>>

/** The ARGV values of the head fields of `input`, then its rest values. */
const headArgv = (layout: Layout) => (input: Fields): Array<ArgValue> => {
  const out: Array<ArgValue> = []
  for (const field of layout.head) out.push(input[field] as ArgValue)
  if (layout.rest !== undefined) {
    for (const value of input[layout.rest.field] as ReadonlyArray<ArgValue>) out.push(value)
  }
  return out
}

/** An operation on one shard: ARGV starts with the shard's `base` and `pub`. */
export const shard = <const A extends Args, O>(
  definition: Common<O> & {
    readonly args: A
    readonly key: (input: Input<ShardArgs & A>) => string
  }
): Operation<Input<ShardArgs & A>, O> => {
  const layout = layoutOf({ ...shardArgs, ...definition.args })
  return { _tag: "Operation", ...derive(definition, layout, true), key: definition.key, argv: headArgv(layout) }
}

/**
 * A batch of items on the shards of one node (or of one shard): ARGV is the head (`base`, `pub`,
 * then `head`), then each item, which starts with its own `base` (the Lua loop reassigns it).
 */
export const batch = <const H extends Args, const I extends Args & { readonly base: Arg<string> }, O>(
  definition: Common<O> & {
    readonly head: H
    readonly item: I
    readonly key: (item: Input<I>) => string
  }
): BatchOperation<Input<ShardArgs & H>, Input<I>, O> => {
  const layout = layoutOf({ ...shardArgs, ...definition.head }, definition.item)
  const head = headArgv(layout)
  const fields = layout.item ?? []
  return {
    _tag: "BatchOperation",
    ...derive(definition, layout, true),
    key: definition.key,
    argv: (input, items) => {
      const out = head(input)
      for (const item of items) for (const field of fields) out.push((item as Fields)[field] as ArgValue)
      return out
    }
  }
}

/** An operation given its keys, without a shard base (it may include only helpers that need none). */
export const onKeys = <const A extends Args, O>(
  definition: Common<O> & {
    readonly args: A
    readonly key: (input: Input<A>) => string
  }
): Operation<Input<A>, O> => {
  const layout = layoutOf(definition.args)
  return { _tag: "Operation", ...derive(definition, layout, false), key: definition.key, argv: headArgv(layout) }
}

/** Any operation, whatever its input and output (for the registry and tests). */
export type Any = Derived<unknown> & { readonly _tag: "Operation" | "BatchOperation" }

/** Whether `u` is an operation. */
export const isOperation = (u: unknown): u is Any =>
  typeof u === "object" && u !== null && "_tag" in u && (u._tag === "Operation" || u._tag === "BatchOperation")

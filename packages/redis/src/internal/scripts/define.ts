/**
 * Builds a script's Lua from the key schema (`../keys.ts`): the key helpers and the named ARGV
 * locals are generated, so a script body names keys (`k_meta(room)`) and arguments (`client`),
 * never a key string or an ARGV index.
 *
 * A script is, in order: the flags line (batches spanning the slots of a node), then for the
 * prelude scripts `local base, pub = ARGV[1], ARGV[2]` and the prelude functions it uses
 * (`prelude.ts`), then the locals of the rest of the head, then the body; key helper calls are
 * inlined (`inlineKeys`).
 */
import type { ScriptName } from "../../RedisConnection.js"
import * as Keys from "../keys.js"
import { preludeFunctions } from "./prelude.js"

/** A script as registered with ioredis `defineCommand`. */
export interface Script {
  /** the command name given to `defineCommand` */
  readonly name: string
  readonly lua: string
}

/** What a body may splice in, generated from its layout. */
export interface Generated {
  /**
   * Opens the loop over the items of a batched script (`for … do`, the body closes it with `end`):
   * binds each item field to a local, except `base`, which is assigned (the key helpers read it).
   */
  readonly forEachItem: string
  /** Opens the loop over the `rest` values (`for … do`), binding each to a local of the rest's name. */
  readonly forEachRest: string
  /** How many `rest` values there are (a Lua expression). */
  readonly restCount: string
}

/**
 * `k_<name>(…)` for every key and the channel of the schema, as Lua functions (for reading and
 * testing; the scripts get them inlined, see `inlineKeys`).
 */
export const keyHelpers: string = [
  ...Object.entries(Keys.roomKinds).map(([name, infix]) =>
    `local function k_${name}(room) return base .. "${infix}:" .. room end`
  ),
  ...Object.entries(Keys.shardKinds).map(([name, key]) => `local function k_${name}() return base .. "${key}" end`),
  ...Object.entries(Keys.clientKinds).map(([name, infix]) =>
    `local function k_${name}(client) return base .. "${infix}:" .. client end`
  )
].join("\n")

/** `k_<name>(arg)` → the concatenation it stands for, e.g. `k_meta(room)` → `(base .. "m:" .. room)`. */
const infixes: ReadonlyMap<string, string> = new Map([
  ...Object.entries(Keys.roomKinds),
  ...Object.entries(Keys.clientKinds)
])
const shardKeys: ReadonlyMap<string, string> = new Map(Object.entries(Keys.shardKinds))

/**
 * The script with every key helper call replaced by the concatenation it stands for: a script
 * runs its whole text on every call, so each `local function` it defines is a closure made on
 * every call; the keys are built inline instead (as the schema says, generated from it).
 */
export const inlineKeys = (lua: string): string =>
  lua.replace(/\bk_(\w+)\(([^()]*)\)/g, (call, name: string, arg: string) => {
    const infix = infixes.get(name)
    if (infix !== undefined && arg !== "") return `(base .. "${infix}:" .. ${arg})`
    const key = shardKeys.get(name)
    if (key !== undefined && arg === "") return `(base .. "${key}")`
    throw new Error(`define: ${call} names no key of the schema`)
  })

/**
 * The prelude functions `body` calls, directly or through each other, in prelude order: only
 * those are defined (each one defined is a closure made on every call of the script).
 */
const preludeFor = (body: string): string => {
  const used = new Set<string>()
  const visit = (text: string) => {
    for (const fn of preludeFunctions) {
      if (!used.has(fn.name) && new RegExp(`\\b${fn.name}\\(`).test(text)) {
        used.add(fn.name)
        visit(fn.lua)
      }
    }
  }
  visit(body)
  return preludeFunctions.filter((fn) => used.has(fn.name)).map((fn) => fn.lua).join("\n")
}

const argv = (offset: number) => (offset === 0 ? "ARGV[i]" : `ARGV[i + ${offset}]`)

/** `local a, b = ARGV[from], ARGV[from + 1]` (nothing for no names). */
const locals = (names: ReadonlyArray<string>, from: number): string =>
  names.length === 0 ? "" : `local ${names.join(", ")} = ${names.map((_, i) => `ARGV[${from + i}]`).join(", ")}`

const generated = (layout: Keys.Layout): Generated => {
  const first = layout.head.length + 1
  const item = layout.item ?? []
  const common: ReadonlyArray<string> = Keys.common
  const assigned = item.flatMap((name, k) => common.includes(name) ? [`  ${name} = ${argv(k)}`] : [])
  const declared = item.flatMap((name, k) => common.includes(name) ? [] : [[name, argv(k)] as const])
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
    forEachRest: rest === undefined ? "" : `for i = ${first}, #ARGV do\n  local ${rest} = ARGV[i]`,
    restCount: rest === undefined ? "0" : `(#ARGV - ${layout.head.length})`
  }
}

/**
 * Define script `name` of layout `Keys.layouts[name]`: `body` receives the generated loops.
 * `keyLocal` names a local bound to KEYS[1], for a script that uses its routing key itself.
 */
export const define = (
  name: ScriptName,
  options: { readonly prelude: boolean; readonly crossSlot?: boolean; readonly keyLocal?: string },
  body: (generated: Generated) => string
): Script => {
  const layout: Keys.Layout = Keys.layouts[name]
  const head = options.prelude ? layout.head.slice(Keys.common.length) : layout.head
  const from = options.prelude ? Keys.common.length + 1 : 1
  const text = body(generated(layout)).trim()
  const lines = [
    options.crossSlot === true ? "#!lua flags=allow-cross-slot-keys" : "",
    options.prelude ? `${locals(Keys.common, 1)}\n${preludeFor(text)}` : "",
    options.keyLocal === undefined ? "" : `local ${options.keyLocal} = KEYS[1]`,
    locals(head, from),
    text
  ]
  return { name: `lockstep_${name}`, lua: inlineKeys(`${lines.filter((line) => line !== "").join("\n")}\n`) }
}

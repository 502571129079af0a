/**
 * The cursor of `rooms` (S26): an opaque string for the caller; inside, as base64url JSON, what it
 * belongs to — a short hash of the client's `keyPrefix` and the engine's shard count — and the
 * engine's `RoomsPosition` (shard, last room returned). A cursor that is malformed, made by a
 * client of another prefix or for an engine of another shape, or naming a shard the engine does
 * not have, is `InvalidArgument`: never an empty, complete page that silently ends a walk.
 */
import * as Effect from "effect/Effect"
import type { RoomsPosition } from "../Backend.js"
import { InvalidArgument } from "../QueueError.js"
import { roomError } from "./validation.js"

/** What a cursor belongs to: the client's prefix and the engine's shape. */
export interface Owner {
  readonly keyPrefix: string
  /** `BackendClient.shards` */
  readonly shards: number
}

const toBase64Url = (text: string): string => {
  let binary = ""
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return globalThis.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}

/** throws on bad input */
const fromBase64Url = (text: string): string => {
  const binary = globalThis.atob(text.replace(/-/g, "+").replace(/_/g, "/"))
  return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))
}

/**
 * A short tag of a key prefix (32-bit FNV-1a of its code units, base 36): tells the prefixes apart
 * without writing the prefix into cursors that travel through URLs and logs.
 */
const prefixTag = (keyPrefix: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < keyPrefix.length; i++) hash = Math.imul(hash ^ keyPrefix.charCodeAt(i), 0x01000193)
  return (hash >>> 0).toString(36)
}

export const encode = (position: RoomsPosition, owner: Owner): string =>
  toBase64Url(JSON.stringify([prefixTag(owner.keyPrefix), owner.shards, position.shard, position.after]))

const invalid = (cursor: unknown, why?: string) =>
  new InvalidArgument({
    message: `cursor must be the cursor of a previous rooms page${
      why === undefined ? "" : ` of this client: ${why}`
    }, got ${typeof cursor === "string" ? JSON.stringify(cursor.slice(0, 40)) : String(cursor)}`
  })

/** The position a cursor names, or null for none (the start of the walk). */
export const decode = (cursor: unknown, owner: Owner): Effect.Effect<RoomsPosition | null, InvalidArgument> => {
  if (cursor === undefined) return Effect.succeed(null)
  if (typeof cursor !== "string" || cursor.length === 0 || cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    return Effect.fail(invalid(cursor))
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(fromBase64Url(cursor))
  } catch {
    return Effect.fail(invalid(cursor))
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) return Effect.fail(invalid(cursor))
  const [tag, shards, shard, after] = parsed as Array<unknown>
  if (
    typeof tag !== "string" || typeof shards !== "number" || !Number.isSafeInteger(shards) ||
    typeof shard !== "number" || !Number.isSafeInteger(shard) ||
    typeof after !== "string" || (after !== "" && roomError(after) !== undefined)
  ) {
    return Effect.fail(invalid(cursor))
  }
  if (tag !== prefixTag(owner.keyPrefix)) {
    return Effect.fail(invalid(cursor, "it was made by a client of another keyPrefix"))
  }
  if (shards !== owner.shards) {
    return Effect.fail(invalid(cursor, `it was made for an engine of ${shards} shards, this one has ${owner.shards}`))
  }
  if (shard < 0 || shard >= owner.shards) {
    return Effect.fail(invalid(cursor, `it names shard ${shard}, this engine has shards 0 to ${owner.shards - 1}`))
  }
  return Effect.succeed({ shard, after })
}

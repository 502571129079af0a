/**
 * The cursor of `rooms` (S26): an opaque string for the caller, the engine's `RoomsPosition`
 * inside (shard, last room returned), as base64url JSON. Anything else is `InvalidArgument`.
 */
import * as Effect from "effect/Effect"
import type { RoomsPosition } from "../Backend.js"
import { InvalidArgument } from "../QueueError.js"

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

export const encode = (position: RoomsPosition): string => toBase64Url(JSON.stringify([position.shard, position.after]))

const invalid = (cursor: unknown) =>
  new InvalidArgument({
    message: `cursor must be the cursor of a previous rooms page, got ${
      typeof cursor === "string" ? JSON.stringify(cursor.slice(0, 40)) : String(cursor)
    }`
  })

/** The position a cursor names, or null for none (the start of the walk). */
export const decode = (cursor: unknown): Effect.Effect<RoomsPosition | null, InvalidArgument> => {
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
  if (
    Array.isArray(parsed) && parsed.length === 2 && Number.isSafeInteger(parsed[0]) && parsed[0] >= 0 &&
    typeof parsed[1] === "string" && parsed[1].length <= 256
  ) {
    return Effect.succeed({ shard: parsed[0] as number, after: parsed[1] })
  }
  return Effect.fail(invalid(cursor))
}

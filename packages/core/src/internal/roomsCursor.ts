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
import * as Cursor from "./cursor.js"
import { roomError } from "./validation.js"

/** What a cursor belongs to: the client's prefix and the engine's shape. */
export interface Owner {
  readonly keyPrefix: string
  /** `BackendClient.shards` */
  readonly shards: number
}

export const encode = (position: RoomsPosition, owner: Owner): string =>
  Cursor.toBase64Url(JSON.stringify([Cursor.tag(owner.keyPrefix), owner.shards, position.shard, position.after]))

const invalid = (cursor: unknown, why?: string) =>
  new InvalidArgument({
    message: `cursor must be the cursor of a previous rooms page${
      why === undefined ? "" : ` of this client: ${why}`
    }, got ${Cursor.shown(cursor)}`
  })

/** The position a cursor names, or null for none (the start of the walk). */
export const decode = (cursor: unknown, owner: Owner): Effect.Effect<RoomsPosition | null, InvalidArgument> => {
  if (cursor === undefined) return Effect.succeed(null)
  const parsed = Cursor.parse(cursor)
  if (parsed === undefined || parsed.length !== 4) return Effect.fail(invalid(cursor))
  const [tag, shards, shard, after] = parsed
  if (
    typeof tag !== "string" || typeof shards !== "number" || !Number.isSafeInteger(shards) ||
    typeof shard !== "number" || !Number.isSafeInteger(shard) ||
    typeof after !== "string" || (after !== "" && roomError(after) !== undefined)
  ) {
    return Effect.fail(invalid(cursor))
  }
  if (tag !== Cursor.tag(owner.keyPrefix)) {
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

/**
 * The cursor of `RoomAdmin.deadLetters` (S29): an opaque string for the caller; inside, as
 * base64url JSON, a kind mark, what it belongs to — short tags of the client's `keyPrefix` and of
 * the room — and the `seq` the next page goes below. A cursor that is malformed (a rooms cursor
 * among them), made by a client of another prefix or for another room, is `InvalidArgument`:
 * never a page of another room's letters, nor an empty page that silently ends a walk.
 */
import * as Effect from "effect/Effect"
import { InvalidArgument } from "../QueueError.js"
import * as Cursor from "./cursor.js"

/** What a cursor belongs to. */
export interface Owner {
  readonly keyPrefix: string
  readonly room: string
}

/** Marks a dead-letters cursor (a rooms cursor starts with a tag, then a number). */
const kind = "dl"

export const encode = (before: number, owner: Owner): string =>
  Cursor.toBase64Url(JSON.stringify([kind, Cursor.tag(owner.keyPrefix), Cursor.tag(owner.room), before]))

const invalid = (cursor: unknown, why?: string) =>
  new InvalidArgument({
    message: `cursor must be the cursor of a previous deadLetters page${
      why === undefined ? "" : ` of this client and room: ${why}`
    }, got ${Cursor.shown(cursor)}`
  })

/** The `seq` a cursor names (letters below it), or null for none (from the newest letter). */
export const decode = (cursor: unknown, owner: Owner): Effect.Effect<number | null, InvalidArgument> => {
  if (cursor === undefined) return Effect.succeed(null)
  const parsed = Cursor.parse(cursor)
  if (parsed === undefined || parsed.length !== 4) return Effect.fail(invalid(cursor))
  const [mark, prefix, room, before] = parsed
  if (
    mark !== kind || typeof prefix !== "string" || typeof room !== "string" ||
    typeof before !== "number" || !Number.isSafeInteger(before) || before < 1
  ) {
    return Effect.fail(invalid(cursor))
  }
  if (prefix !== Cursor.tag(owner.keyPrefix)) {
    return Effect.fail(invalid(cursor, "it was made by a client of another keyPrefix"))
  }
  if (room !== Cursor.tag(owner.room)) return Effect.fail(invalid(cursor, "it was made for another room"))
  return Effect.succeed(before)
}

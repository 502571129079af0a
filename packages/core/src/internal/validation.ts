import * as Effect from "effect/Effect"
import { InvalidArgument, InvalidRoom } from "../QueueError.js"

/**
 * The index of the first lone surrogate of `s` (a high one not followed by a low one, or a low one
 * not preceded by a high one), or -1 when `s` is well-formed UTF-16. A lone surrogate has no UTF-8
 * form: ioredis writes it as U+FFFD, so two distinct names would meet on the server (S1, S19).
 */
export const loneSurrogateAt = (s: string): number => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    if (c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
    }
    return i
  }
  return -1
}

/** Why `s` is not well-formed UTF-16 (`what` names it), or undefined. */
export const wellFormedError = (what: string, s: string): string | undefined => {
  const at = loneSurrogateAt(s)
  if (at < 0) return undefined
  const unit = s.charCodeAt(at).toString(16).toUpperCase()
  return `${what} must be well-formed UTF-16, but has a lone surrogate U+${unit} at index ${at} ` +
    `(it has no UTF-8 form: Redis would store it as U+FFFD, another name's)`
}

/** S1: a room is any well-formed string of 1–256 UTF-16 code units; why `room` is not one, or undefined. */
export const roomError = (room: unknown): InvalidRoom | undefined => {
  if (typeof room !== "string") return new InvalidRoom({ room: String(room), reason: "a room must be a string" })
  if (room.length === 0) return new InvalidRoom({ room, reason: "a room must not be empty" })
  if (room.length > 256) {
    return new InvalidRoom({ room, reason: `a room has at most 256 UTF-16 code units, this one has ${room.length}` })
  }
  const malformed = wellFormedError("a room", room)
  return malformed === undefined ? undefined : new InvalidRoom({ room, reason: malformed })
}

/** S1, as an Effect. */
export const validateRoom = (room: unknown): Effect.Effect<string, InvalidRoom> => {
  const error = roomError(room)
  return error === undefined ? Effect.succeed(room as string) : Effect.fail(error)
}

/** S2: why `priority` is not a safe integer, or undefined. */
const priorityError = (priority: unknown): InvalidArgument | undefined =>
  priority === undefined || (typeof priority === "number" && Number.isSafeInteger(priority))
    ? undefined
    : new InvalidArgument({ message: `priority must be a safe integer, got ${String(priority)}` })

/** S2: priorities are safe integers (default 0); the priority, or why not. */
export const priorityOrError = (priority: unknown): number | InvalidArgument =>
  priorityError(priority) ?? (priority === undefined ? 0 : priority as number)

/** An integer option within [min, max], or the default when absent. */
export const validateInt = (
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number
): Effect.Effect<number, InvalidArgument> =>
  value === undefined
    ? Effect.succeed(fallback)
    : typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max
    ? Effect.succeed(value)
    : Effect.fail(
      new InvalidArgument({ message: `${name} must be an integer from ${min} to ${max}, got ${String(value)}` })
    )

/** UTF-8 length of a string without allocating. */
export const utf8Length = (s: string): number => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

import * as Effect from "effect/Effect"
import { InvalidArgument, InvalidRoom } from "../QueueError.js"

/** S1: a room is any string of 1–256 UTF-16 code units. */
export const validateRoom = (room: unknown): Effect.Effect<string, InvalidRoom> => {
  if (typeof room !== "string") {
    return Effect.fail(new InvalidRoom({ room: String(room), reason: "a room must be a string" }))
  }
  if (room.length === 0) return Effect.fail(new InvalidRoom({ room, reason: "a room must not be empty" }))
  if (room.length > 256) {
    return Effect.fail(
      new InvalidRoom({ room, reason: `a room has at most 256 UTF-16 code units, this one has ${room.length}` })
    )
  }
  return Effect.succeed(room)
}

/** S2: priorities are safe integers. */
export const validatePriority = (priority: unknown): Effect.Effect<number, InvalidArgument> =>
  priority === undefined
    ? Effect.succeed(0)
    : typeof priority === "number" && Number.isSafeInteger(priority)
    ? Effect.succeed(priority)
    : Effect.fail(new InvalidArgument({ message: `priority must be a safe integer, got ${String(priority)}` }))

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

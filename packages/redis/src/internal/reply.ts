/**
 * Decoding the reply of a script (ioredis' legacy reply mapping: integers as numbers, bulk strings
 * as strings, nil as null, tables as arrays). A decoder answers the typed output, or what it
 * expected; the runner turns the latter into an `EngineError` naming the operation and the reply.
 */
import * as Result from "effect/Result"

/** The typed output of a reply, or what was expected instead. */
export type Decoder<A> = (reply: unknown) => Result.Result<A, string>

/** `expected`, as the failure of a decoder. */
export const fail = (expected: string): Result.Result<never, string> => Result.fail(expected)

/** An integer reply (a count). */
export const integer: Decoder<number> = (reply) =>
  typeof reply === "number" && Number.isInteger(reply) ? Result.succeed(reply) : fail("an integer")

/** 1 or 0, as a boolean. */
export const flag: Decoder<boolean> = (reply) =>
  reply === 1 || reply === 0 ? Result.succeed(reply === 1) : fail("0 or 1")

/** A number: an integer reply, or a decimal string (a score, a time made with `tostring`). */
export const number = (reply: unknown): number | undefined => {
  if (typeof reply === "number") return reply
  if (typeof reply !== "string" || reply === "") return undefined
  const n = Number(reply)
  return Number.isFinite(n) ? n : undefined
}

/** Whether `reply` is an array of strings. */
export const isStrings = (reply: unknown): reply is ReadonlyArray<string> =>
  Array.isArray(reply) && reply.every((item) => typeof item === "string")

/** An array of strings. */
export const strings: Decoder<ReadonlyArray<string>> = (reply) =>
  isStrings(reply) ? Result.succeed(reply) : fail("an array of strings")

/** An array of at least `length` items, as a tuple of unknowns to decode one by one. */
export const tuple = (reply: unknown, length: number): ReadonlyArray<unknown> | undefined =>
  Array.isArray(reply) && reply.length >= length ? reply : undefined

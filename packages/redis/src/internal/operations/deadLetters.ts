/**
 * deadLetters: a page of a room's dead letters, newest first (`RoomAdmin.deadLetters`).
 *
 * KEYS[1]  letters(room) (routing).
 * ARGV     base, pub, room, before (a `seq`: the page holds letters below it; "" from the newest),
 *          limit.
 * Returns  { 1 if more letters are left below the page else 0, the page's letters }.
 * Enforces S29 (read-only).
 */
import type { Backend } from "@lockstep/core"
import * as Result from "effect/Result"
import { K, letter, letters } from "../keys.js"
import * as Operation from "../operation.js"
import * as Reply from "../reply.js"

export const deadLetters = Operation.shard({
  name: "deadLetters",
  args: { room: Operation.string, before: Operation.of<number | "">(), limit: Operation.number },
  key: ({ base, room }) => letters(base, room),
  includes: [],
  lua: `
local top = "+inf"
if before ~= "" then top = "(" .. before end
local page = redis.call("ZREVRANGEBYSCORE", ${K.letters("room")}, top, "-inf", "LIMIT", 0, tonumber(limit) + 1)
local more = 0
if #page > tonumber(limit) then
  more = 1
  page[#page] = nil
end
return { more, page }
`,
  decode: (
    reply
  ): Result.Result<
    { readonly letters: ReadonlyArray<Backend.RawDeadLetter>; readonly next: number | null },
    string
  > => {
    const expected = "{ 0 | 1, letters }"
    const [more, page] = Reply.tuple(reply, 2) ?? []
    if ((more !== 0 && more !== 1) || !Reply.isStrings(page)) return Reply.fail(expected)
    const out: Array<Backend.RawDeadLetter> = []
    for (const value of page) {
      const decoded = letter.decode(value)
      if (decoded === undefined) return Reply.fail(expected)
      const { at, attempts, envelope, member, reason, seq } = decoded
      out.push({ seq, envelope, member, attempts, at, reason })
    }
    const last = out[out.length - 1]
    return Result.succeed({ letters: out, next: more === 1 && last !== undefined ? last.seq : null })
  }
})

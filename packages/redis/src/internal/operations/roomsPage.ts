/**
 * roomsPage: a page of the shard's active rooms (S26).
 *
 * KEYS[1]  rooms (routing).
 * ARGV     base, pub, after ("" for the first page), limit.
 * Returns  at most `limit` active rooms of the shard after `after`, in code-unit order (every
 *          member of `rooms` has score 0, so ZRANGEBYLEX walks them by name; a room added or dropped
 *          meanwhile shifts nothing: the walk goes on after the last name returned).
 * Enforces S26 (read-only).
 */
import { K, rooms } from "../keys.js"
import * as Operation from "../operation.js"
import * as Reply from "../reply.js"

export const roomsPage = Operation.shard({
  name: "roomsPage",
  args: { after: Operation.string, limit: Operation.number },
  key: ({ base }) => rooms(base),
  includes: [],
  lua: `
local from = "-"
if after ~= "" then from = "(" .. after end
return redis.call("ZRANGEBYLEX", ${K.rooms}, from, "+", "LIMIT", 0, tonumber(limit))
`,
  decode: Reply.strings
})

/**
 * redrive: an operator queues a dead-lettered message again (`RoomAdmin.redrive`).
 *
 * KEYS[1]  letters(room) (routing).
 * ARGV     base, pub, room, client, epoch (the operator's), id (the message of the letters),
 *          newId, producer (the new producer id as a JSON string), sequence, sentAt (ms): the
 *          `RedriveTemplate`.
 * Returns  1 if a letter of `id` was left (the copy is made from the newest, every letter of `id`
 *          removed), else 0 (nothing changed), also when its envelope is not a message's: it cannot
 *          be sent again, and stays for `dropDeadLetters`; the `superseded` error reply when fenced.
 * Enforces S29 (the copy is core's `Envelope.redriven` of the letter's envelope, byte for byte: the
 *          header `{"k":"q","p":…,"s":…,"pr":<the letter's priority>,"t":…` and the letter's text
 *          from its first `,"d":` on; it is sent as a send sends it with that priority, `admit`: at
 *          once into an idle room that is not paused, S2, S30; gone in a room without members that
 *          is not paused, S7, `keeps`),
 *          S21.
 */
import { K, letter, letters } from "../keys.js"
import * as Operation from "../operation.js"
import { admit, fenced, keeps, superseded } from "../prelude.js"
import * as Reply from "../reply.js"

/**
 * The Lua condition: `x` is a safe integer (a priority is one, S2, so its decimal text made in Lua
 * is JavaScript's).
 */
const integer = (x: string) =>
  `type(${x}) == "number" and ${x} == math.floor(${x}) and math.abs(${x}) <= ${Number.MAX_SAFE_INTEGER}`

export const redrive = Operation.shard({
  name: "redrive",
  args: {
    room: Operation.string,
    client: Operation.string,
    epoch: Operation.epoch,
    id: Operation.string,
    newId: Operation.string,
    producer: Operation.string,
    sequence: Operation.number,
    sentAt: Operation.number
  },
  key: ({ base, room }) => letters(base, room),
  includes: [fenced, admit, keeps],
  lua: `
if fenced(client, epoch) then return ${superseded} end
local key = ${K.letters("room")}
local found = {}
for _, v in ipairs(redis.call("ZRANGE", key, 0, -1)) do
  if ${letter.lua.isOf("v", "id")} then found[#found + 1] = v end
end
if #found == 0 then return 0 end
local envelope = ${letter.lua.envelope("found[#found]", "id")}
-- what Envelope.redriven accepts: a message envelope, with its data last
local ok, e = pcall(cjson.decode, envelope)
local data = string.find(envelope, ',"d":', 1, true)
if not (ok and type(e) == "table" and (e.k == "q" or e.k == "o") and type(e.p) == "string" and type(e.s) == "number" and
  e.s >= 0 and e.s == math.floor(e.s) and ${integer("e.pr")} and type(e.t) == "number" and e.d ~= nil and data) then
  return 0
end
local priority = string.format("%d", e.pr)
local copy = '{"k":"q","p":' .. producer .. ',"s":' .. sequence .. ',"pr":' .. priority .. ',"t":' .. sentAt ..
  string.sub(envelope, data)
for _, v in ipairs(found) do redis.call("ZREM", key, v) end
if keeps(room) then admit(room, newId, copy, priority, nil) end
return 1
`,
  decode: Reply.flag
})

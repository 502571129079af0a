/**
 * The raw-ioredis lock-step loop's scripts (DESIGN §6), shared by the in-process baseline (B1, B2)
 * and the process-per-role shapes (B7, B8). Plain strings: a module that imports nothing, so a
 * raw worker process loads no Effect.
 */

/**
 * The ack: the last member to ack releases and PUBLISHes the next message.
 * KEYS: pending members, queue list, channel; ARGV: the acking member, then every member.
 */
export const ackLua = `
if redis.call("SREM", KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call("SCARD", KEYS[1]) > 0 then return 1 end
local m = redis.call("LPOP", KEYS[2])
if not m then return 2 end
for i = 2, #ARGV do redis.call("SADD", KEYS[1], ARGV[i]) end
redis.call("PUBLISH", KEYS[3], m)
return 3
`

/**
 * The send: queues the message and, if nothing is in flight, releases and PUBLISHes it.
 * KEYS: as `ackLua`; ARGV: the message, then every member.
 */
export const sendLua = `
redis.call("RPUSH", KEYS[2], ARGV[1])
if redis.call("SCARD", KEYS[1]) > 0 then return 0 end
local m = redis.call("LPOP", KEYS[2])
for i = 2, #ARGV do redis.call("SADD", KEYS[1], ARGV[i]) end
redis.call("PUBLISH", KEYS[3], m)
return 1
`

/** A room's keys, in the scripts' order: pending members, queue list, channel. */
export const rawKeys = (room: string) => [`${room}:pending`, `${room}:list`, `${room}:chan`] as const

/** A script defined with ioredis `defineCommand`, called with its three keys and its arguments. */
export type RawScript = (k1: string, k2: string, k3: string, ...args: Array<string>) => Promise<unknown>

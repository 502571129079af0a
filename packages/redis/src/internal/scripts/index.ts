import { ack } from "./ack.js"
import { housekeep } from "./housekeep.js"
import { join } from "./join.js"
import { keepalive } from "./keepalive.js"
import { keepaliveMany } from "./keepaliveMany.js"
import { leave } from "./leave.js"
import { outOfBand } from "./outOfBand.js"
import { peek } from "./peek.js"
import { resync } from "./resync.js"
import { roomState } from "./roomState.js"
import { send } from "./send.js"
import { stats } from "./stats.js"
import { unregister } from "./unregister.js"

/**
 * Every script, registered on each connection with `defineCommand` (EVALSHA, NOSCRIPT handled).
 * Each declares one key, the routing key of its shard.
 */
export const scripts = {
  ack,
  housekeep,
  join,
  keepalive,
  keepaliveMany,
  leave,
  outOfBand,
  peek,
  resync,
  roomState,
  send,
  stats,
  unregister
} as const

export type ScriptName = keyof typeof scripts

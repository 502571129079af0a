/**
 * Every script, registered on each connection with `defineCommand` (EVALSHA, NOSCRIPT handled by
 * ioredis). Each declares one key, the routing key of its shard (`Keys.layouts[name].key`).
 */
import type { ScriptName } from "../../RedisConnection.js"
import { ack } from "./ack.js"
import { claim } from "./claim.js"
import type { Script } from "./define.js"
import { detach } from "./detach.js"
import { housekeep } from "./housekeep.js"
import { join } from "./join.js"
import { keepalive } from "./keepalive.js"
import { keepaliveMany } from "./keepaliveMany.js"
import { leave } from "./leave.js"
import { memberships } from "./memberships.js"
import { outOfBand } from "./outOfBand.js"
import { peek } from "./peek.js"
import { resync } from "./resync.js"
import { roomsPage } from "./roomsPage.js"
import { roomState } from "./roomState.js"
import { send } from "./send.js"
import { stats } from "./stats.js"
import { unregister } from "./unregister.js"

export type { Script }

export const scripts: { readonly [name in ScriptName]: Script } = {
  ack,
  claim,
  detach,
  housekeep,
  join,
  keepalive,
  keepaliveMany,
  leave,
  memberships,
  outOfBand,
  peek,
  resync,
  roomState,
  roomsPage,
  send,
  stats,
  unregister
}

/**
 * The Redis side of one client (`Backend.BackendClient`): each operation is one script call
 * (DESIGN §4), keys and arguments built through the key schema (`keys.ts`). By concern:
 * `backend/messages.ts` (send, out-of-band, ack, peek), `backend/rooms.ts` (listen, join, leave,
 * detach, resync, roomState), `backend/liveness.ts` (keepalive, housekeeping, unregister),
 * `backend/durable.ts` (claim, memberships), `backend/stats.ts` and `backend/admin.ts` (operator
 * actions, S29, S30).
 */
import type { Backend, QueueConfig } from "@lockstep/core"
import type { RedisConnection } from "../RedisConnection.js"
import type { Sharding } from "../Sharding.js"
import * as Admin from "./backend/admin.js"
import * as Context from "./backend/context.js"
import * as Durable from "./backend/durable.js"
import * as Liveness from "./backend/liveness.js"
import * as Messages from "./backend/messages.js"
import * as Rooms from "./backend/rooms.js"
import * as Stats from "./backend/stats.js"

export const make = (
  connection: RedisConnection["Service"],
  sharding: Sharding["Service"],
  config: QueueConfig.ResolvedQueueConfig,
  clientId: string
): Backend.BackendClient => {
  const context = Context.make(connection, sharding, config, clientId)
  return {
    ...Messages.make(context),
    ...Rooms.make(context),
    ...Liveness.make(context),
    ...Stats.make(context),
    ...Durable.make(context),
    ...Admin.make(context),
    connected: connection.connected,
    shards: sharding.shards
  }
}

/**
 * The commands that change nothing: `rooms` (S26), `state` (S14), `peek` (S13), `stalled` (S26).
 */
import { SyncFanoutQueue } from "@lockstep/core"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { client, documented, print, roomArgument } from "./root.js"
import * as Views from "./views.js"

const byName = (a: { readonly room: string }, b: { readonly room: string }) =>
  a.room < b.room ? -1 : a.room > b.room ? 1 : 0

/** `lockstep rooms`: a page of the active rooms (or all of them), each with its state. */
export const rooms = Command.make("rooms", {
  limit: Flag.Int("limit").pipe(
    Flag.withDescription("rooms per page, 1 to 1000"),
    Flag.withDefault(100)
  ),
  cursor: Flag.String("cursor").pipe(
    Flag.withDescription("go on from the cursor a previous page printed"),
    Flag.optional
  ),
  all: Flag.Boolean("all").pipe(
    Flag.withDescription("walk every page (one roomState per room: mind large deployments)"),
    Flag.withDefault(false)
  )
}, ({ all, cursor, limit }) =>
  Effect.gen(function*() {
    const queue = yield* SyncFanoutQueue.SyncFanoutQueue
    const names: Array<string> = []
    let next = Option.getOrUndefined(cursor)
    while (true) {
      const page: SyncFanoutQueue.RoomsPage = yield* queue.rooms({ cursor: next, limit })
      names.push(...page.rooms)
      if (!all || Option.isNone(page.cursor)) {
        const states = yield* Effect.forEach(names, (room) => queue.roomState(room), { concurrency: 16 })
        return yield* print(Views.rooms([...states].sort(byName), all ? Option.none() : page.cursor))
      }
      next = page.cursor.value
    }
  })).pipe(
    documented({
      short: "list the active rooms and their state",
      long:
        "List the active rooms (a member, a backlog or a message in flight), with their backlog, members and in-flight message.",
      examples: [
        { command: "lockstep rooms --prefix app", description: "the first 100 rooms" },
        { command: "lockstep rooms --all --json", description: "every room, as JSON" }
      ]
    }),
    Command.provide(client)
  )

/** `lockstep state <room>`: one room's state. */
export const state = Command.make(
  "state",
  { room: roomArgument },
  ({ room }) =>
    Effect.flatMap(SyncFanoutQueue.SyncFanoutQueue, (queue) => queue.roomState(room)).pipe(
      Effect.flatMap((s) => print(Views.state(s)))
    )
).pipe(
  documented({
    short: "show one room: paused, backlog, in-flight message, members",
    long: "Show a room: paused or not, its backlog, its in-flight message and which sync members acked it.",
    examples: [{ command: "lockstep state orders" }]
  }),
  Command.provide(client)
)

/** `lockstep peek <room>`: the queued messages, in delivery order. */
export const peek = Command.make(
  "peek",
  {
    room: roomArgument,
    limit: Flag.Int("limit").pipe(Flag.withDescription("messages to show, 1 to 10000"), Flag.withDefault(20)),
    offset: Flag.Int("offset").pipe(Flag.withDescription("skip this many first"), Flag.withDefault(0))
  },
  ({ limit, offset, room }) =>
    Effect.flatMap(SyncFanoutQueue.SyncFanoutQueue, (queue) => queue.peek(room, { limit, offset })).pipe(
      Effect.flatMap((messages) => print(Views.peek(room, offset, messages)))
    )
).pipe(
  documented({
    short: "show a room's queued messages",
    long: "Show a room's queued messages (not yet released) in the order they will be released.",
    examples: [{ command: "lockstep peek orders --limit 5" }]
  }),
  Command.provide(client)
)

/** `lockstep stalled`: the rooms whose in-flight message is oldest, and who they wait for. */
export const stalled = Command.make(
  "stalled",
  {
    limit: Flag.Int("limit").pipe(Flag.withDescription("rooms to show, 0 to 1000"), Flag.withDefault(10))
  },
  ({ limit }) =>
    Effect.flatMap(SyncFanoutQueue.SyncFanoutQueue, (queue) => queue.metrics({ topRooms: 0, stalledRooms: limit }))
      .pipe(
        Effect.flatMap((metrics) => print(Views.stalled(metrics.stalled)))
      )
).pipe(
  documented({
    short: "the rooms waiting longest for acks, and for whom",
    long: "List the rooms whose in-flight message is oldest, oldest first, with the members that have not acked it.",
    examples: [{ command: "lockstep stalled --limit 3" }]
  }),
  Command.provide(client)
)

/**
 * The commands that change nothing: `rooms` (S26), `state` (S14), `peek` (S13), `stalled` (S26).
 */
import { type QueueError, SyncFanoutQueue } from "@lockstep/core"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { print, roomArgument, subcommand } from "./root.js"
import * as Views from "./views.js"

type Queue = SyncFanoutQueue.SyncFanoutQueue["Service"]

/** Read with the client's `SyncFanoutQueue` and print the `view` of the answer. */
const reading = <A>(read: (queue: Queue) => Effect.Effect<A, QueueError.QueueError>, view: (answer: A) => Views.View) =>
  Effect.flatMap(SyncFanoutQueue.SyncFanoutQueue, read).pipe(Effect.flatMap((answer) => print(view(answer))))

const byName = (a: { readonly room: string }, b: { readonly room: string }) =>
  a.room < b.room ? -1 : a.room > b.room ? 1 : 0

/** One page of rooms from `cursor`, or every page with `all`; then the state of each. */
const roomsWithState = (
  queue: Queue,
  options: { readonly limit: number; readonly cursor: Option.Option<string>; readonly all: boolean }
) =>
  Effect.gen(function*() {
    const names: Array<string> = []
    let next = Option.getOrUndefined(options.cursor)
    while (true) {
      const page: SyncFanoutQueue.RoomsPage = yield* queue.rooms({ cursor: next, limit: options.limit })
      names.push(...page.rooms)
      if (!options.all || Option.isNone(page.cursor)) {
        const states = yield* Effect.forEach(names, (room) => queue.roomState(room), { concurrency: 16 })
        return { states: [...states].sort(byName), cursor: options.all ? Option.none<string>() : page.cursor }
      }
      next = page.cursor.value
    }
  })

/** `lockstep rooms`: a page of the active rooms (or all of them), each with its state. */
export const rooms = subcommand("rooms", {
  short: "list the active rooms and their state",
  long:
    "List the active rooms (a member, a backlog or a message in flight), with their backlog, members and in-flight message.",
  examples: [
    { command: "lockstep rooms --prefix app", description: "the first 100 rooms" },
    { command: "lockstep rooms --all --json", description: "every room, as JSON" }
  ]
}, {
  limit: Flag.Int("limit").pipe(Flag.withDescription("rooms per page, 1 to 1000"), Flag.withDefault(100)),
  cursor: Flag.String("cursor").pipe(
    Flag.withDescription("go on from the cursor a previous page printed"),
    Flag.optional
  ),
  all: Flag.Boolean("all").pipe(
    Flag.withDescription("walk every page (one roomState per room: mind large deployments)"),
    Flag.withDefault(false)
  )
}, (options) => reading((queue) => roomsWithState(queue, options), ({ cursor, states }) => Views.rooms(states, cursor)))

/** `lockstep state <room>`: one room's state. */
export const state = subcommand(
  "state",
  {
    short: "show one room: paused, backlog, in-flight message, members",
    long: "Show a room: paused or not, its backlog, its in-flight message and which sync members acked it.",
    examples: [{ command: "lockstep state orders" }]
  },
  { room: roomArgument },
  ({ room }) => reading((queue) => queue.roomState(room), Views.state)
)

/** `lockstep peek <room>`: the queued messages, in delivery order. */
export const peek = subcommand(
  "peek",
  {
    short: "show a room's queued messages",
    long: "Show a room's queued messages (not yet released) in the order they will be released.",
    examples: [{ command: "lockstep peek orders --limit 5" }]
  },
  {
    room: roomArgument,
    limit: Flag.Int("limit").pipe(Flag.withDescription("messages to show, 1 to 10000"), Flag.withDefault(20)),
    offset: Flag.Int("offset").pipe(Flag.withDescription("skip this many first"), Flag.withDefault(0))
  },
  ({ limit, offset, room }) =>
    reading((queue) => queue.peek(room, { limit, offset }), (messages) => Views.peek(room, offset, messages))
)

/** `lockstep stalled`: the rooms whose in-flight message is oldest, and who they wait for. */
export const stalled = subcommand(
  "stalled",
  {
    short: "the rooms waiting longest for acks, and for whom",
    long: "List the rooms whose in-flight message is oldest, oldest first, with the members that have not acked it.",
    examples: [{ command: "lockstep stalled --limit 3" }]
  },
  {
    limit: Flag.Int("limit").pipe(Flag.withDescription("rooms to show, 0 to 1000"), Flag.withDefault(10))
  },
  ({ limit }) =>
    reading((queue) => queue.metrics({ topRooms: 0, stalledRooms: limit }), (metrics) => Views.stalled(metrics.stalled))
)

/**
 * The operator actions of `RoomAdmin` (S29, S30): `eject`, `pause`, `resume`, `skip`, `purge`,
 * `dead-letters`, `drop-dead-letters`, `redrive`. Each is one round trip; each is idempotent, so
 * running one again is safe (it answers that there was nothing to do).
 */
import { MessageId, type QueueError, RoomAdmin } from "@lockstep/core"
import * as Argument from "effect/cli/Argument"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type Docs, print, roomArgument, subcommand } from "./root.js"
import * as Views from "./views.js"

type Admin = RoomAdmin.RoomAdmin["Service"]

/** Run `act` on the client's `RoomAdmin` and print the `view` of its answer. */
const acting = <A>(
  act: (admin: Admin) => Effect.Effect<A, QueueError.QueueError>,
  view: (answer: A) => Views.View
) => Effect.flatMap(RoomAdmin.RoomAdmin, act).pipe(Effect.flatMap((answer) => print(view(answer))))

/** An action on one room: `lockstep <name> <room>`. */
const onRoom = <const Name extends string, A>(
  name: Name,
  docs: Docs,
  act: (admin: Admin, room: string) => Effect.Effect<A, QueueError.QueueError>,
  view: (room: string, answer: A) => Views.View
) =>
  subcommand(
    name,
    docs,
    { room: roomArgument },
    ({ room }) => acting((admin) => act(admin, room), (answer) => view(room, answer))
  )

/** `lockstep pause <room>`. */
export const pause = onRoom(
  "pause",
  {
    short: "stop releasing a room's queued messages",
    long:
      "Stop releasing the room's queued messages: the in-flight one completes, sends queue, out-of-band messages flow. Server state: it lasts until resume.",
    examples: [{ command: "lockstep pause orders" }]
  },
  (admin, room) => admin.pause(room),
  (room, changed) => Views.paused(room, true, changed)
)

/** `lockstep resume <room>`. */
export const resume = onRoom(
  "resume",
  {
    short: "release a paused room's messages again",
    long: "Release the room's queued messages again, the next one at once if none is in flight.",
    examples: [{ command: "lockstep resume orders" }]
  },
  (admin, room) => admin.resume(room),
  (room, changed) => Views.paused(room, false, changed)
)

/** `lockstep skip <room>`. */
export const skip = onRoom(
  "skip",
  {
    short: "dead-letter the in-flight message and move on",
    long:
      "Dead-letter the in-flight message (reason \"skipped\") for every sync member that has not acked it, and release the next one unless the room is paused.",
    examples: [{ command: "lockstep skip orders" }]
  },
  (admin, room) => admin.skip(room),
  Views.skip
)

/** `lockstep purge <room>`. */
export const purge = onRoom(
  "purge",
  {
    short: "drop a room's backlog",
    long: "Drop the room's backlog (the queued messages, not the in-flight one) and print how many.",
    examples: [{ command: "lockstep purge orders" }]
  },
  (admin, room) => admin.purge(room),
  Views.purge
)

/** `lockstep drop-dead-letters <room>`. */
export const dropDeadLetters = onRoom(
  "drop-dead-letters",
  {
    short: "drop a room's dead letters",
    long: "Drop every dead letter of the room and print how many.",
    examples: [{ command: "lockstep drop-dead-letters orders" }]
  },
  (admin, room) => admin.dropDeadLetters(room),
  Views.dropDeadLetters
)

/** `lockstep eject <room> <client-id>`. */
export const eject = subcommand(
  "eject",
  {
    short: "end a member's membership",
    long:
      "End a member's membership now: its stream fails with ClientEjected (operator), what it held is released as for a leave, a durable id does not resume it.",
    examples: [{ command: "lockstep eject orders edge-eu-1" }]
  },
  {
    room: roomArgument,
    clientId: Argument.String("client-id").pipe(Argument.withDescription("the member's client id (see lockstep state)"))
  },
  ({ clientId, room }) =>
    acting((admin) => admin.eject(room, clientId), (ejected) => Views.eject(room, clientId, ejected))
)

/** `lockstep dead-letters <room>`. */
export const deadLetters = subcommand("dead-letters", {
  short: "list a room's dead letters",
  long:
    "List the room's dead letters, newest first: the message, the member it was settled for, its attempts, when and why.",
  examples: [{ command: "lockstep dead-letters orders --json" }]
}, {
  room: roomArgument,
  limit: Flag.Int("limit").pipe(Flag.withDescription("letters per page, 1 to 1000"), Flag.withDefault(100)),
  cursor: Flag.String("cursor").pipe(
    Flag.withDescription("go on from the cursor a previous page printed"),
    Flag.optional
  )
}, ({ cursor, limit, room }) =>
  acting(
    (admin) => admin.deadLetters(room, { limit, cursor: Option.getOrUndefined(cursor) }),
    (page) => Views.deadLetters(room, page)
  ))

/** `lockstep redrive <room> <message-id>`. */
export const redrive = subcommand(
  "redrive",
  {
    short: "queue a dead letter's message again",
    long: "Queue a copy of a dead-lettered message (a new id, the same data and priority) and remove its letters.",
    examples: [{ command: "lockstep redrive orders 3f9c2a1b7d4e:12" }]
  },
  {
    room: roomArgument,
    id: Argument.String("message-id").pipe(Argument.withDescription("the id of a dead letter's message"))
  },
  ({ id, room }) =>
    acting((admin) => admin.redrive(room, MessageId.MessageId(id)), (copy) => Views.redrive(room, id, copy))
)

/**
 * The `RoomAdmin` service of one client (S29, S30): it validates (rooms as `InvalidRoom`, client
 * and message ids, limits and cursors as `InvalidArgument`), runs each action as one engine
 * operation, decodes dead letters, and logs every action at info with the acting client's id
 * (annotations `clientId`, `room`, `action`) and counts it in `lockstep_admin_actions_total`.
 * Listing dead letters is a read, neither logged nor counted.
 *
 * A dead letter whose envelope cannot be decoded (garbage written to the room by another program,
 * S16) does not fail its page: it is left out of it and counted as an invalid message of the
 * client (`metrics().invalid`, logged once per kind), and the page's cursor goes on past it;
 * `dropDeadLetters` removes it.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type { BackendClient, DeadLetterPolicy, RawDeadLetter } from "../Backend.js"
import type { DeadLetter } from "../DeadLetter.js"
import * as Envelope from "../Envelope.js"
import * as MessageId from "../MessageId.js"
import { InvalidArgument, type QueueError } from "../QueueError.js"
import * as QueueMetrics from "../QueueMetrics.js"
import type { RoomAdmin } from "../RoomAdmin.js"
import type { ClientStats } from "./clientStats.js"
import * as DeadLettersCursor from "./deadLettersCursor.js"
import { queuedMessage } from "./inspection.js"
import type { Sequence } from "./producer.js"
import { validateInt, validateRoom, wellFormedError } from "./validation.js"

type Service = RoomAdmin["Service"]

/** An action, as logged and as the metric's `action` attribute. */
type Action = "eject" | "pause" | "resume" | "skip" | "purge" | "redrive" | "dropDeadLetters"

/** A client id: a random one (12 hex characters) or a durable one (S21), both of this form. */
const clientIdPattern = /^[A-Za-z0-9._-]{1,64}$/

/** A message id: `<producer>:<sequence>`, the sequence a decimal safe integer (`MessageId`). */
const messageIdPattern = /^(.+):(0|[1-9][0-9]{0,15})$/

/** Longest message id accepted, in UTF-16 code units. */
const maxMessageIdLength = 512

const validateClientId = (clientId: unknown): Effect.Effect<string, InvalidArgument> =>
  typeof clientId === "string" && clientIdPattern.test(clientId)
    ? Effect.succeed(clientId)
    : Effect.fail(
      new InvalidArgument({
        message: `clientId must be 1–64 characters of A-Z, a-z, 0-9, '.', '_' or '-', got ${
          typeof clientId === "string" ? JSON.stringify(clientId.slice(0, 80)) : String(clientId)
        }`
      })
    )

const validateMessageId = (id: unknown): Effect.Effect<MessageId.MessageId, InvalidArgument> => {
  const match = typeof id === "string" && id.length <= maxMessageIdLength ? messageIdPattern.exec(id) : null
  return match !== null && Number.isSafeInteger(Number(match[2])) &&
      wellFormedError("a message id", match[1]!) === undefined
    ? Effect.succeed(MessageId.MessageId(id as string))
    : Effect.fail(
      new InvalidArgument({
        message: `a message id is "<producer>:<sequence>", got ${
          typeof id === "string" ? JSON.stringify(id.slice(0, 80)) : String(id)
        }`
      })
    )
}

/** A letter as the application sees it, or why its envelope cannot be read. */
const decodeLetter = (room: string, raw: RawDeadLetter): DeadLetter | string => {
  const e = Envelope.decodeOrReason(raw.envelope)
  if (typeof e === "string") return e
  if (e.k === "e") return "unexpected envelope kind"
  return {
    message: queuedMessage(room, e),
    member: raw.member,
    attempts: raw.attempts,
    at: new Date(raw.at),
    reason: raw.reason
  }
}

export const make = (options: {
  readonly backend: BackendClient
  readonly clientId: string
  /** the client's prefix: its dead-letter cursors belong to it */
  readonly keyPrefix: string
  /** the client's message sequences (S7): a redriven message takes its id from them */
  readonly sequence: Sequence
  /** where this client's dead letters go (S29): a skip writes them */
  readonly deadLetters: DeadLetterPolicy
  readonly now: () => number
  readonly stats: ClientStats
}): Service => {
  const { backend, clientId, keyPrefix, now, sequence, stats } = options

  /** Run an action on `room` (validated first): logged, counted, in a span. */
  const act = <A>(
    action: Action,
    room: unknown,
    run: (room: string) => Effect.Effect<A, QueueError>,
    describe: (result: A) => string
  ): Effect.Effect<A, QueueError> =>
    validateRoom(room).pipe(
      Effect.flatMap((room) =>
        run(room).pipe(
          Effect.tap((result) =>
            Effect.logInfo(`lockstep: ${action} on room ${JSON.stringify(room)}: ${describe(result)}`).pipe(
              Effect.annotateLogs({ clientId, room, action }),
              Effect.andThen(Metric.update(Metric.withAttributes(QueueMetrics.adminActionsTotal, { action }), 1))
            )
          ),
          Effect.withSpan(`RoomAdmin.${action}`, { attributes: { room } })
        )
      )
    )

  const changed = (yes: string, no: string) => (result: boolean) => result ? yes : no

  return {
    eject: (room, member) =>
      act(
        "eject",
        room,
        (room) => Effect.andThen(validateClientId(member), backend.eject(room, member)),
        changed(`ejected client ${member}`, `client ${member} was not a member`)
      ),
    pause: (room) => act("pause", room, (room) => backend.pause(room, true), changed("paused", "was paused already")),
    resume: (room) => act("resume", room, (room) => backend.pause(room, false), changed("resumed", "was not paused")),
    skip: (room) =>
      act(
        "skip",
        room,
        (room) =>
          Effect.map(
            backend.skip(room, options.deadLetters),
            (id) => id === null ? Option.none() : Option.some(MessageId.MessageId(id))
          ),
        Option.match({ onNone: () => "nothing in flight", onSome: (id) => `skipped ${id}` })
      ),
    purge: (room) => act("purge", room, (room) => backend.purge(room), (count) => `dropped ${count} queued messages`),
    deadLetters: (room, options) =>
      Effect.gen(function*() {
        yield* validateRoom(room)
        const limit = yield* validateInt("limit", options?.limit, 100, 1, 1000)
        const owner = { keyPrefix, room }
        const before = yield* DeadLettersCursor.decode(options?.cursor, owner)
        const page = yield* backend.deadLetters(room, before, limit)
        const letters: Array<DeadLetter> = []
        for (const raw of page.letters) {
          const letter = decodeLetter(room, raw)
          if (typeof letter === "string") stats.invalidMessage(room, letter)
          else letters.push(letter)
        }
        return {
          letters,
          cursor: page.next === null ? Option.none() : Option.some(DeadLettersCursor.encode(page.next, owner))
        }
      }).pipe(Effect.withSpan("RoomAdmin.deadLetters", { attributes: { room } })),
    redrive: (room, id) =>
      act(
        "redrive",
        room,
        (room) =>
          Effect.flatMap(validateMessageId(id), (id) => {
            // S7: the copy's id comes from the sequence of this client's sends
            const s = sequence.next()
            const newId = MessageId.make(clientId, s)
            return Effect.map(
              backend.redrive(room, id, newId, { producer: clientId, sequence: s, sentAt: now() }),
              (queued) => queued ? Option.some(newId) : Option.none()
            )
          }),
        Option.match({ onNone: () => `no dead letter of ${id}`, onSome: (newId) => `redrove ${id} as ${newId}` })
      ),
    dropDeadLetters: (room) =>
      act("dropDeadLetters", room, (room) => backend.dropDeadLetters(room), (count) => `dropped ${count} dead letters`)
  }
}

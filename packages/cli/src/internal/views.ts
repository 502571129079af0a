/**
 * What each command prints: a `View` holds the human text (tables, one-line answers) and the
 * JSON document of `--json`. Pure functions of what the engine answered, so the formats are
 * unit-tested without a server. The JSON shapes are stable (scripts read them): times are ISO 8601
 * strings, ages milliseconds, absent values `null`, never missing keys; the room JSON is the one
 * of `@lockstep/monitor`'s `/rooms` plus `paused` and `inFlight.ageMs`.
 */
import type { DeadLetter, Delivery, QueueMetrics, RoomState } from "@lockstep/core"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { age, dataPreview, plural, shown, table, time } from "./text.js"

/** The two renderings of one answer. */
export interface View {
  readonly human: string
  readonly json: unknown
}

/** The text a command prints: the JSON document (indented, stable key order) or the human text. */
export const render = (view: View, json: boolean): string => json ? JSON.stringify(view.json, null, 2) : view.human

// -----------------------------------------------------------------------------
// JSON shapes
// -----------------------------------------------------------------------------

/** A room state (S14) as JSON. */
export const roomJson = (state: RoomState.RoomState) => {
  const acked = new Set(state.acked)
  return {
    room: state.room,
    backlog: state.backlog,
    paused: state.paused,
    members: state.members.map((id) => ({ id, acked: acked.has(id) })),
    inFlight: Option.match(state.inFlight, {
      onNone: () => null,
      onSome: (f) => ({ id: f.id, releasedAt: time(f.releasedAt), ageMs: Duration.toMillis(f.age) })
    })
  }
}

/** A queued message (S13) as JSON, its data as sent. */
export const messageJson = (m: Delivery.QueuedMessage) => ({
  id: m.id,
  priority: m.priority,
  producer: m.producer,
  sequence: m.sequence,
  sentAt: time(m.sentAt),
  data: m.data
})

/** A dead letter (S29) as JSON. */
export const letterJson = (letter: DeadLetter.DeadLetter) => ({
  message: messageJson(letter.message),
  member: letter.member,
  attempts: letter.attempts,
  at: time(letter.at),
  reason: letter.reason
})

const cursorJson = (cursor: Option.Option<string>) => Option.getOrNull(cursor)

const nextPage = (cursor: Option.Option<string>) =>
  Option.match(cursor, { onNone: () => "", onSome: (c) => `\nmore: add --cursor ${c}` })

// -----------------------------------------------------------------------------
// read commands
// -----------------------------------------------------------------------------

const inFlightCells = (state: RoomState.RoomState) =>
  Option.match(state.inFlight, {
    onNone: () => ["-", "-"],
    onSome: (f) => [shown(f.id), age(Duration.toMillis(f.age))]
  })

/** `rooms`: the active rooms of a page (S26) with their states, and the next page's cursor. */
export const rooms = (states: ReadonlyArray<RoomState.RoomState>, cursor: Option.Option<string>): View => ({
  json: { rooms: states.map(roomJson), cursor: cursorJson(cursor) },
  human: states.length === 0 && Option.isNone(cursor)
    ? "no active rooms (a room is active while it has a member, a backlog or a message in flight)"
    : table(
      [
        { header: "ROOM" },
        { header: "BACKLOG", align: "right" },
        { header: "MEMBERS", align: "right" },
        { header: "ACKED", align: "right" },
        { header: "IN FLIGHT" },
        { header: "AGE", align: "right" },
        { header: "PAUSED" }
      ],
      states.map((s) => [
        shown(s.room),
        String(s.backlog),
        String(s.members.length),
        String(s.acked.length),
        ...inFlightCells(s),
        s.paused ? "paused" : ""
      ])
    ) + nextPage(cursor)
})

/** `state`: one room (S14), its members and who acked the in-flight message. */
export const state = (s: RoomState.RoomState): View => {
  const acked = new Set(s.acked)
  const holding = Option.isSome(s.inFlight)
  const summary = table([{ header: "ROOM" }, { header: shown(s.room) }], [
    ["paused", s.paused ? "yes: no queued message is released (lockstep resume)" : "no"],
    ["backlog", plural(s.backlog, "queued message")],
    [
      "in flight",
      Option.match(s.inFlight, {
        onNone: () => "none",
        onSome: (f) => `${shown(f.id)}, released ${time(f.releasedAt)} (${age(Duration.toMillis(f.age))} ago)`
      })
    ],
    ["members", `${s.members.length} sync${holding ? `, ${s.acked.length} acked` : ""}`]
  ])
  const members = s.members.length === 0 ? "" : "\n\n" + table(
    [{ header: "MEMBER" }, { header: "ACKED" }],
    s.members.map((id) => [shown(id), !holding ? "-" : acked.has(id) ? "yes" : "no (holds the room)"])
  )
  return { json: roomJson(s), human: summary + members }
}

/** `peek`: queued messages in delivery order (S13), from `offset`. */
export const peek = (room: string, offset: number, messages: ReadonlyArray<Delivery.QueuedMessage>): View => ({
  json: { room, offset, messages: messages.map(messageJson) },
  human: messages.length === 0
    ? `no queued messages in room ${shown(room)}${offset > 0 ? ` from offset ${offset}` : ""}`
    : table(
      [
        { header: "ID" },
        { header: "PRIORITY", align: "right" },
        { header: "PRODUCER" },
        { header: "SENT AT" },
        { header: "DATA" }
      ],
      messages.map((m) => [shown(m.id), String(m.priority), shown(m.producer), time(m.sentAt), dataPreview(m.data)])
    )
})

/** `stalled`: rooms whose in-flight message is oldest, and the members they wait for (S26). */
export const stalled = (rooms: ReadonlyArray<QueueMetrics.StalledRoom>): View => ({
  json: {
    stalled: rooms.map((r) => ({
      room: r.room,
      inFlight: r.inFlight,
      releasedAt: time(r.releasedAt),
      ageMs: Duration.toMillis(r.age),
      waitingFor: r.waitingFor
    }))
  },
  human: rooms.length === 0
    ? "no room waits for an ack"
    : table(
      [{ header: "ROOM" }, { header: "IN FLIGHT" }, { header: "AGE", align: "right" }, { header: "WAITING FOR" }],
      rooms.map((r) => [
        shown(r.room),
        shown(r.inFlight),
        age(Duration.toMillis(r.age)),
        r.waitingFor.map(shown).join(", ")
      ])
    )
})

// -----------------------------------------------------------------------------
// operator actions (S29, S30)
// -----------------------------------------------------------------------------

/** `eject`: whether `clientId` was a member. */
export const eject = (room: string, clientId: string, ejected: boolean): View => ({
  json: { room, clientId, ejected },
  human: ejected
    ? `ejected ${shown(clientId)} from room ${shown(room)}`
    : `${shown(clientId)} is not a member of room ${shown(room)}: nothing to do`
})

/** `pause` (`paused` true) and `resume` (false): whether the flag changed. */
export const paused = (room: string, paused: boolean, changed: boolean): View => ({
  json: { room, paused, changed },
  human: paused
    ? changed ? `paused room ${shown(room)}` : `room ${shown(room)} was paused already`
    : changed
    ? `resumed room ${shown(room)}`
    : `room ${shown(room)} was not paused`
})

/** `skip`: the id of the message skipped, if one was in flight. */
export const skip = (room: string, skipped: Option.Option<string>): View => ({
  json: { room, skipped: Option.getOrNull(skipped) },
  human: Option.match(skipped, {
    onNone: () => `no message in flight in room ${shown(room)}: nothing to skip`,
    onSome: (id) =>
      `skipped ${shown(id)} in room ${shown(room)}: dead-lettered ("skipped") for every member that had not acked it`
  })
})

/** `purge`: how many queued messages were dropped. */
export const purge = (room: string, purged: number): View => ({
  json: { room, purged },
  human: `dropped ${plural(purged, "queued message")} from room ${shown(room)}`
})

/** `dead-letters`: one page of letters, newest first (S29). */
export const deadLetters = (room: string, page: DeadLetter.DeadLetterPage): View => ({
  json: { room, letters: page.letters.map(letterJson), cursor: cursorJson(page.cursor) },
  human: page.letters.length === 0 && Option.isNone(page.cursor)
    ? `no dead letters in room ${shown(room)}`
    : table(
      [
        { header: "ID" },
        { header: "MEMBER" },
        { header: "ATTEMPTS", align: "right" },
        { header: "REASON" },
        { header: "AT" },
        { header: "DATA" }
      ],
      page.letters.map((l) => [
        shown(l.message.id),
        shown(l.member),
        String(l.attempts),
        shown(l.reason),
        time(l.at),
        dataPreview(l.message.data)
      ])
    ) + nextPage(page.cursor)
})

/** `drop-dead-letters`: how many letters were dropped. */
export const dropDeadLetters = (room: string, dropped: number): View => ({
  json: { room, dropped },
  human: `dropped ${plural(dropped, "dead letter")} of room ${shown(room)}`
})

/** `redrive`: the id of the copy queued, if a letter of `id` was there. */
export const redrive = (room: string, id: string, redriven: Option.Option<string>): View => ({
  json: { room, id, redriven: Option.getOrNull(redriven) },
  human: Option.match(redriven, {
    onNone: () => `no dead letter of ${shown(id)} in room ${shown(room)}: nothing queued`,
    onSome: (copy) => `queued ${shown(copy)} in room ${shown(room)}, a copy of dead letter ${shown(id)}`
  })
})

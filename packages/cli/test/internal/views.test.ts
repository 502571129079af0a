/**
 * What each command prints, from answers made here: the tables and lines for people, and the JSON
 * documents for scripts (exact shapes: keys are never missing, absent values are null, times
 * ISO 8601, ages in milliseconds, data as sent).
 */
import { describe, expect, it } from "@effect/vitest"
import { type DeadLetter, type Delivery, MessageId, type QueueMetrics, type RoomState } from "@lockstep/core"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Views from "../../src/internal/views.js"

const released = new Date("2026-01-02T03:04:05.678Z")
const sent = new Date("2026-01-02T03:04:00.000Z")

const roomState = (overrides: Partial<RoomState.RoomState> = {}): RoomState.RoomState => ({
  room: "orders",
  backlog: 2,
  members: ["edge-a", "edge-b"],
  acked: ["edge-a"],
  inFlight: Option.some({ id: MessageId.MessageId("p1:7"), releasedAt: released, age: Duration.millis(12_400) }),
  paused: false,
  ...overrides
})

const idle = roomState({
  room: "idle\nroom",
  backlog: 0,
  members: [],
  acked: [],
  inFlight: Option.none(),
  paused: true
})

const message = (sequence: number, data: unknown, priority = 0): Delivery.QueuedMessage => ({
  id: MessageId.MessageId(`p1:${sequence}`),
  room: "orders",
  data,
  priority,
  producer: "p1",
  sequence,
  sentAt: sent
})

describe("rooms", () => {
  it("a table of the rooms with their state, the next page's cursor after it", () => {
    const view = Views.rooms([roomState(), idle], Option.some("c1"))
    expect(view.human.split("\n")).toEqual([
      "ROOM          BACKLOG  MEMBERS  ACKED  IN FLIGHT    AGE  PAUSED",
      "orders              2        2      1  p1:7       12.4s",
      "\"idle\\nroom\"        0        0      0  -              -  paused",
      "more: add --cursor c1"
    ])
    expect(view.json).toEqual({
      rooms: [
        {
          room: "orders",
          backlog: 2,
          paused: false,
          members: [{ id: "edge-a", acked: true }, { id: "edge-b", acked: false }],
          inFlight: { id: "p1:7", releasedAt: "2026-01-02T03:04:05.678Z", ageMs: 12_400 }
        },
        { room: "idle\nroom", backlog: 0, paused: true, members: [], inFlight: null }
      ],
      cursor: "c1"
    })
  })

  it("says so when there is no active room; the JSON has an empty list and a null cursor", () => {
    const view = Views.rooms([], Option.none())
    expect(view.human).toMatch(/^no active rooms/)
    expect(view.json).toEqual({ rooms: [], cursor: null })
  })
})

describe("state", () => {
  it("the room's summary, then its members and who holds the room", () => {
    const view = Views.state(roomState())
    expect(view.human.split("\n")).toEqual([
      "ROOM       orders",
      "paused     no",
      "backlog    2 queued messages",
      "in flight  p1:7, released 2026-01-02T03:04:05.678Z (12.4s ago)",
      "members    2 sync, 1 acked",
      "",
      "MEMBER  ACKED",
      "edge-a  yes",
      "edge-b  no (holds the room)"
    ])
    expect(view.json).toEqual(Views.roomJson(roomState()))
  })

  it("a paused room without members or message in flight", () => {
    const view = Views.state(idle)
    expect(view.human.split("\n")).toEqual([
      "ROOM       \"idle\\nroom\"",
      "paused     yes: no queued message is released (lockstep resume)",
      "backlog    0 queued messages",
      "in flight  none",
      "members    0 sync"
    ])
    expect(view.json).toEqual({ room: "idle\nroom", backlog: 0, paused: true, members: [], inFlight: null })
  })
})

describe("peek", () => {
  it("the queued messages in order, data cut in the table and whole in the JSON", () => {
    const long = { text: "x".repeat(80) }
    const view = Views.peek("orders", 0, [message(3, { id: 3 }), message(2, long, 5)])
    const lines = view.human.split("\n")
    expect(lines[0]).toBe("ID    PRIORITY  PRODUCER  SENT AT                   DATA")
    expect(lines[1]).toBe("p1:3         0  p1        2026-01-02T03:04:00.000Z  {\"id\":3}")
    expect(lines[2]).toMatch(/^p1:2 {9}5 {2}p1 {8}2026-01-02T03:04:00\.000Z {2}\{"text":"x+…$/)
    expect(view.json).toEqual({
      room: "orders",
      offset: 0,
      messages: [
        { id: "p1:3", priority: 0, producer: "p1", sequence: 3, sentAt: "2026-01-02T03:04:00.000Z", data: { id: 3 } },
        { id: "p1:2", priority: 5, producer: "p1", sequence: 2, sentAt: "2026-01-02T03:04:00.000Z", data: long }
      ]
    })
  })

  it("says so when nothing is queued (from the offset)", () => {
    expect(Views.peek("orders", 0, []).human).toBe("no queued messages in room orders")
    expect(Views.peek("orders", 5, []).human).toBe("no queued messages in room orders from offset 5")
    expect(Views.peek("orders", 5, []).json).toEqual({ room: "orders", offset: 5, messages: [] })
  })
})

describe("stalled", () => {
  const stalled: QueueMetrics.StalledRoom = {
    room: "orders",
    inFlight: MessageId.MessageId("p1:7"),
    releasedAt: released,
    age: Duration.minutes(3),
    waitingFor: ["edge-b", "edge\tc"]
  }

  it("the rooms and the members they wait for", () => {
    const view = Views.stalled([stalled])
    expect(view.human.split("\n")).toEqual([
      "ROOM    IN FLIGHT     AGE  WAITING FOR",
      "orders  p1:7       3m 00s  edge-b, \"edge\\tc\""
    ])
    expect(view.json).toEqual({
      stalled: [{
        room: "orders",
        inFlight: "p1:7",
        releasedAt: "2026-01-02T03:04:05.678Z",
        ageMs: 180_000,
        waitingFor: ["edge-b", "edge\tc"]
      }]
    })
  })

  it("says so when no room waits", () => {
    expect(Views.stalled([]).human).toBe("no room waits for an ack")
    expect(Views.stalled([]).json).toEqual({ stalled: [] })
  })
})

describe("operator actions", () => {
  it("eject, pause, resume: what changed, or that there was nothing to do", () => {
    expect(Views.eject("orders", "edge-a", true)).toEqual({
      human: "ejected edge-a from room orders",
      json: { room: "orders", clientId: "edge-a", ejected: true }
    })
    expect(Views.eject("orders", "edge-z", false).human).toBe("edge-z is not a member of room orders: nothing to do")
    expect(Views.paused("orders", true, true)).toEqual({
      human: "paused room orders",
      json: { room: "orders", paused: true, changed: true }
    })
    expect(Views.paused("orders", true, false).human).toBe("room orders was paused already")
    expect(Views.paused("orders", false, true)).toEqual({
      human: "resumed room orders",
      json: { room: "orders", paused: false, changed: true }
    })
    expect(Views.paused("orders", false, false).human).toBe("room orders was not paused")
  })

  it("skip, purge, drop-dead-letters, redrive", () => {
    expect(Views.skip("orders", Option.some("p1:7")).json).toEqual({ room: "orders", skipped: "p1:7" })
    expect(Views.skip("orders", Option.some("p1:7")).human).toMatch(/^skipped p1:7 in room orders: dead-lettered/)
    expect(Views.skip("orders", Option.none())).toEqual({
      human: "no message in flight in room orders: nothing to skip",
      json: { room: "orders", skipped: null }
    })
    expect(Views.purge("orders", 1)).toEqual({
      human: "dropped 1 queued message from room orders",
      json: { room: "orders", purged: 1 }
    })
    expect(Views.purge("orders", 0).human).toBe("dropped 0 queued messages from room orders")
    expect(Views.dropDeadLetters("orders", 3)).toEqual({
      human: "dropped 3 dead letters of room orders",
      json: { room: "orders", dropped: 3 }
    })
    expect(Views.redrive("orders", "p1:7", Option.some("cli1:1"))).toEqual({
      human: "queued cli1:1 in room orders, a copy of dead letter p1:7",
      json: { room: "orders", id: "p1:7", redriven: "cli1:1" }
    })
    expect(Views.redrive("orders", "p1:9", Option.none())).toEqual({
      human: "no dead letter of p1:9 in room orders: nothing queued",
      json: { room: "orders", id: "p1:9", redriven: null }
    })
  })

  it("dead-letters: newest first as given, with the cursor of the next page", () => {
    const letter: DeadLetter.DeadLetter = {
      message: message(7, { id: 7 }, 1),
      member: "edge-b",
      attempts: 3,
      at: released,
      reason: "max-deliveries"
    }
    const view = Views.deadLetters("orders", { letters: [letter], cursor: Option.some("d2") })
    expect(view.human.split("\n")).toEqual([
      "ID    MEMBER  ATTEMPTS  REASON          AT                        DATA",
      "p1:7  edge-b         3  max-deliveries  2026-01-02T03:04:05.678Z  {\"id\":7}",
      "more: add --cursor d2"
    ])
    expect(view.json).toEqual({
      room: "orders",
      letters: [{
        message: {
          id: "p1:7",
          priority: 1,
          producer: "p1",
          sequence: 7,
          sentAt: "2026-01-02T03:04:00.000Z",
          data: { id: 7 }
        },
        member: "edge-b",
        attempts: 3,
        at: "2026-01-02T03:04:05.678Z",
        reason: "max-deliveries"
      }],
      cursor: "d2"
    })
    const none = Views.deadLetters("orders", { letters: [], cursor: Option.none() })
    expect(none).toEqual({
      human: "no dead letters in room orders",
      json: { room: "orders", letters: [], cursor: null }
    })
  })
})

it("render: the human text, or the JSON indented (parseable back to the same document)", () => {
  const view = Views.state(roomState())
  expect(Views.render(view, false)).toBe(view.human)
  const json = Views.render(view, true)
  expect(JSON.parse(json)).toEqual(view.json)
  expect(json.split("\n")[1]).toBe("  \"room\": \"orders\",")
})

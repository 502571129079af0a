/**
 * Unit tests of the pure room model behind the model-based tests (`@lockstep/engine-suite/model`, `roomModel.ts`):
 * if the model were wrong, the property tests would check the engines against the wrong thing.
 */
import { describe, expect, it } from "@effect/vitest"
import { RoomModel } from "@lockstep/engine-suite/model"

type Room = RoomModel.Room<string>

const timing: RoomModel.Timing = {
  clientTimeoutMs: 1000,
  keepaliveMs: 300,
  housekeepingMs: 500,
  ackTimeoutMs: 400,
  slackMs: 0
}

let ids = 0

/** Send a queued message with `priority` to `room` at time `now`; returns it and what was released. */
const send = (room: Room, priority: number, now = 0, step = 1) => {
  const msg = RoomModel.queuedMessage(room, `m${++ids}`, ids, priority, step)
  const released = RoomModel.send(room, msg, now, step)
  return { msg, released }
}

const inFlight = (room: Room) => room.inFlight?.msg.id ?? null
const holders = (room: Room) => [...(room.inFlight?.holders ?? [])].sort()
const acked = (room: Room) => [...(room.inFlight?.acked ?? [])].sort()
const queue = (room: Room) => room.queue.map((m) => m.id)

/** A room whose sync members are `clients`. */
const roomWith = (...clients: Array<number>) => {
  const room = RoomModel.makeRoom<string>(0, "room-0")
  for (const c of clients) RoomModel.join(room, c, "sync", `sub of c${c}`)
  return room
}

describe("RoomModel", () => {
  it("releases lower priority numbers first, equal priorities in send order (S2)", () => {
    const room = roomWith(0)
    const first = send(room, 5)
    expect(first.released.map((m) => m.id)).toEqual([first.msg.id])
    const a = send(room, 1).msg
    const b = send(room, -1).msg
    const c = send(room, 1).msg
    const d = send(room, -1).msg
    const e = send(room, 0).msg
    expect(queue(room)).toEqual([b.id, d.id, e.id, a.id, c.id])
    const order: Array<string> = []
    let current = first.msg.id
    for (let step = 2; room.queue.length > 0; step++) {
      const released = RoomModel.ack(room, 0, current, 10 * step, step)
      expect(released).toHaveLength(1)
      expect(released[0]!.releaseStep).toBe(step)
      current = released[0]!.id
      order.push(current)
    }
    expect(order).toEqual([b.id, d.id, e.id, a.id, c.id])
    expect(queue(room)).toEqual([])
    expect(inFlight(room)).toBe(c.id)
  })

  it("the last holder's ack releases the next message, held by every sync member (S3, S4)", () => {
    const room = roomWith(0, 1)
    const m1 = send(room, 0, 100).msg
    const m2 = send(room, 0, 100).msg
    expect(inFlight(room)).toBe(m1.id)
    expect(holders(room)).toEqual([0, 1])
    expect(room.inFlight).toMatchObject({ lo: 100, hi: 100 })

    expect(RoomModel.ack(room, 0, m1.id, 200, 3)).toEqual([])
    expect(inFlight(room)).toBe(m1.id)
    expect(holders(room)).toEqual([1])
    expect(acked(room)).toEqual([0])

    expect(RoomModel.ack(room, 1, m1.id, 300, 4).map((m) => m.id)).toEqual([m2.id])
    expect(inFlight(room)).toBe(m2.id)
    expect(holders(room)).toEqual([0, 1])
    expect(acked(room)).toEqual([])
    expect(room.inFlight).toMatchObject({ lo: 300, hi: 300 })
    expect(m2.releaseStep).toBe(4)
  })

  it("stale and duplicate acks change nothing (S4, I6)", () => {
    const room = roomWith(0, 1)
    const m1 = send(room, 0).msg
    const m2 = send(room, 0).msg
    send(room, 0)
    expect(RoomModel.ack(room, 0, m1.id, 1, 2)).toEqual([])
    // duplicate
    expect(RoomModel.ack(room, 0, m1.id, 1, 3)).toEqual([])
    expect(holders(room)).toEqual([1])
    expect(acked(room)).toEqual([0])
    // not the message in flight
    expect(RoomModel.ack(room, 1, m2.id, 1, 4)).toEqual([])
    expect(inFlight(room)).toBe(m1.id)
    expect(holders(room)).toEqual([1])
    expect(queue(room)).toHaveLength(2)
  })

  it("a joiner does not hold the message in flight, and its ack of it changes nothing (S5)", () => {
    const room = roomWith(0)
    const m1 = send(room, 0).msg
    const m2 = send(room, 0).msg
    RoomModel.join(room, 1, "sync", "joiner")
    expect(holders(room)).toEqual([0])
    expect(RoomModel.ack(room, 1, m1.id, 1, 2)).toEqual([])
    expect(inFlight(room)).toBe(m1.id)
    expect(acked(room)).toEqual([])
    // the next message is held by the joiner too
    expect(RoomModel.ack(room, 0, m1.id, 2, 3).map((m) => m.id)).toEqual([m2.id])
    expect(holders(room)).toEqual([0, 1])
  })

  it("async members hold nothing: without sync members every message is released at once", () => {
    const room = RoomModel.makeRoom<string>(0, "room-0")
    RoomModel.join(room, 0, "async", "async")
    const m1 = send(room, 0)
    expect(m1.released.map((m) => m.id)).toEqual([m1.msg.id])
    expect(m1.msg.releaseStep).toBe(1)
    expect(inFlight(room)).toBe(null)
    expect(queue(room)).toEqual([])
  })

  it("removing the last holder releases the next message; removing another member does not (S6, S10, S11)", () => {
    const room = roomWith(0, 1)
    const m1 = send(room, 0).msg
    const m2 = send(room, 0).msg
    RoomModel.join(room, 2, "sync", "joiner")
    expect(RoomModel.removeMember(room, 2, 5, 5, 2)).toEqual([])
    expect(RoomModel.removeMember(room, 0, 5, 5, 3)).toEqual([])
    expect(inFlight(room)).toBe(m1.id)
    expect(holders(room)).toEqual([1])
    expect(RoomModel.removeMember(room, 1, 6, 9, 4).map((m) => m.id)).toEqual([m2.id])
    // nobody is left to hold it
    expect(inFlight(room)).toBe(null)
    expect([...room.members.keys()]).toEqual([])
  })

  it("out-of-band messages are released at once and never queued (S9)", () => {
    const room = roomWith(0)
    const queued = send(room, 0).msg
    const oob = RoomModel.outOfBandMessage(room, "o1", 99, 7)
    expect(oob).toMatchObject({ kind: "out-of-band", releaseStep: 7, room: 0 })
    expect(inFlight(room)).toBe(queued.id)
    expect(queue(room)).toEqual([])
  })

  describe("client connections (S10)", () => {
    const connected = (at: number): RoomModel.Connection => ({ cut: false, uncutSince: at, heardLowerBound: at })

    it("a connected client never may be expired", () => {
      const c = connected(0)
      expect(RoomModel.mayBeExpired(c, 100_000, timing)).toBe(false)
    })

    it("a cut client may be expired clientTimeout after its last keepalive", () => {
      // cut long after connecting: its last keepalive was at most one interval ago
      const c = connected(0)
      RoomModel.cut(c, 5000, timing)
      expect(c.heardLowerBound).toBe(4700)
      expect(RoomModel.mayBeExpired(c, 5699, timing)).toBe(false)
      expect(RoomModel.mayBeExpired(c, 5700, timing)).toBe(true)
      // cutting again changes nothing
      RoomModel.cut(c, 5500, timing)
      expect(c.heardLowerBound).toBe(4700)
      // back: it may have been expired while cut, until its first keepalive after the restore
      RoomModel.restore(c, 6000)
      expect(c).toMatchObject({ cut: false, uncutSince: 6000 })
      expect(RoomModel.mayBeExpired(c, 6000, timing)).toBe(true)
      expect(RoomModel.mayBeExpired(c, 6300, timing)).toBe(false)
    })

    it("a client cut right after connecting counts from its connection", () => {
      const c = connected(0)
      RoomModel.cut(c, 100, timing)
      expect(c.heardLowerBound).toBe(0)
      expect(RoomModel.mayBeExpired(c, 999, timing)).toBe(false)
      expect(RoomModel.mayBeExpired(c, 1000, timing)).toBe(true)
    })
  })

  it("ejection reasons: an overdue holder (S11), a client that may be expired (S10)", () => {
    const room = roomWith(0, 1)
    send(room, 0, 1000)
    const c0 = { cut: false, uncutSince: 0, heardLowerBound: 0 }
    expect(RoomModel.ejectionReasons(room, 0, c0, 1399, timing)).toEqual([])
    expect(RoomModel.ejectionReasons(room, 0, c0, 1400, timing)).toEqual(["ack-timeout"])
    // acked: no deadline any more
    RoomModel.ack(room, 0, room.inFlight!.msg.id, 1100, 2)
    expect(RoomModel.ejectionReasons(room, 0, c0, 5000, timing)).toEqual([])
    const c1 = { cut: true, uncutSince: 0, heardLowerBound: 0 }
    expect(RoomModel.ejectionReasons(room, 1, c1, 1400, timing)).toEqual(["ack-timeout", "keepalive-timeout"])
    expect(RoomModel.ejectionReasons(room, 1, c1, 1400, { ...timing, ackTimeoutMs: null })).toEqual([
      "keepalive-timeout"
    ])
  })

  it("a durable member that is not resumed keeps holding; a resume gives the in-flight message again if it holds it (S22)", () => {
    const room = roomWith(0, 1)
    const m1 = send(room, 0).msg
    const m2 = send(room, 0).msg
    // c0's process crashed: its membership (the id's) still holds m1
    RoomModel.ack(room, 1, m1.id, 1, 2)
    expect(inFlight(room)).toBe(m1.id)
    expect(RoomModel.resume(room, 0, "sub of c0's successor")).toBe(m1)
    expect(room.members.get(0)).toMatchObject({ sub: "sub of c0's successor", detachedUntil: null })
    // its ack releases m2, held by both again
    expect(RoomModel.ack(room, 0, m1.id, 2, 3).map((m) => m.id)).toEqual([m2.id])
    // a holder that had acked is resumed without a replay
    RoomModel.ack(room, 0, m2.id, 3, 4)
    expect(RoomModel.resume(room, 0, "sub of c0's third process")).toBeNull()
    expect(holders(room)).toEqual([1])
  })

  it("an async durable member resumes without a replay (S25)", () => {
    const room = RoomModel.makeRoom<string>(0, "room-0")
    RoomModel.join(room, 0, "async", "sub of c0")
    // released at once, to nobody: no sync member (S7)
    expect(send(room, 0).released).toHaveLength(1)
    expect(inFlight(room)).toBeNull()
    expect(RoomModel.resume(room, 0, "sub of c0's successor")).toBeNull()
    expect(room.members.get(0)).toMatchObject({ mode: "async", sub: "sub of c0's successor" })
  })

  it("a membership waiting to be resumed may end as an expiry once its deadline passed (S23, S24)", () => {
    const room = roomWith(0, 1)
    send(room, 0, 0)
    const c0 = { cut: false, uncutSince: 0, heardLowerBound: 0 }
    const none = { ...timing, ackTimeoutMs: null }
    RoomModel.detach(room, 0, 1500)
    expect(RoomModel.ejectionReasons(room, 0, c0, 1499, none)).toEqual([])
    expect(RoomModel.ejectionReasons(room, 0, c0, 1500, none)).toEqual(["keepalive-timeout"])
    // resumed: no deadline any more
    RoomModel.resume(room, 0, "sub of c0's successor")
    expect(RoomModel.ejectionReasons(room, 0, c0, 5000, none)).toEqual([])
    // detaching a member that is gone changes nothing
    RoomModel.detach(room, 2, 0)
    expect([...room.members.keys()]).toEqual([0, 1])
  })

  describe("attempts, dead letters and operators (S27–S30)", () => {
    const letters = (room: Room) => room.letters.map((l) => `${l.msg.id}/c${l.member}/${l.reason}/${l.attempts}`)

    it("a reject of the message a member holds is a dead letter and counts as its ack; of anything else, nothing (S28)", () => {
      const room = roomWith(0, 1)
      const m1 = send(room, 0).msg
      const m2 = send(room, 0).msg
      expect(RoomModel.deadLetter(room, 0, m2.id, { attempts: 1, reason: "rejected" }, 5, 2)).toBe(null)
      expect(RoomModel.deadLetter(room, 0, m1.id, { attempts: 1, reason: "rejected" }, 5, 3)).toEqual([])
      expect(acked(room)).toEqual([0])
      expect(RoomModel.deadLetter(room, 0, m1.id, { attempts: 1, reason: "rejected" }, 6, 4)).toBe(null)
      expect(RoomModel.ack(room, 1, m1.id, 7, 5).map((m) => m.id)).toEqual([m2.id])
      expect(letters(room)).toEqual([`${m1.id}/c0/rejected/1`])
      expect(room.letters[0]).toMatchObject({ step: 3, at: 5 })
      expect(RoomModel.wasLettered(room, 0, m1.id)).toBe(true)
      expect(RoomModel.wasLettered(room, 1, m1.id)).toBe(false)
    })

    it("a paused room releases nothing, by any path; resuming releases the next if nobody holds the room (S30)", () => {
      const room = roomWith(0)
      const m1 = send(room, 0).msg
      expect(RoomModel.pause(room, true, 1, 2)).toEqual({ changed: true, released: [] })
      expect(RoomModel.pause(room, true, 1, 3)).toEqual({ changed: false, released: [] })
      const m2 = send(room, 0, 2, 4).msg
      // the in-flight message completes; nothing follows it
      expect(RoomModel.ack(room, 0, m1.id, 3, 5)).toEqual([])
      expect(inFlight(room)).toBe(null)
      expect(queue(room)).toEqual([m2.id])
      RoomModel.join(room, 1, "sync", "joiner")
      expect(RoomModel.removeMember(room, 1, 4, 4, 6)).toEqual([])
      expect(RoomModel.pause(room, false, 5, 7).released.map((m) => m.id)).toEqual([m2.id])
      expect(RoomModel.pause(room, false, 5, 8).changed).toBe(false)
      expect(holders(room)).toEqual([0])
    })

    it("skip: a letter per holder (its attempt record, else 1), then the next unless paused; purge drops the queue, not the in-flight message (S30)", () => {
      const room = roomWith(0, 1, 2)
      const m1 = send(room, 0).msg
      const m2 = send(room, 0).msg
      send(room, 0)
      RoomModel.ack(room, 0, m1.id, 1, 2)
      room.attempts.set(2, { id: m1.id, n: 3, epoch: 1 })
      const skipped = RoomModel.skip(room, 2, 3)
      expect(skipped.id).toBe(m1.id)
      expect(skipped.released.map((m) => m.id)).toEqual([m2.id])
      expect(letters(room).sort()).toEqual([`${m1.id}/c1/skipped/1`, `${m1.id}/c2/skipped/3`])
      // the release voids the records of m1
      expect(room.attempts.size).toBe(0)
      expect(RoomModel.purge(room)).toBe(1)
      expect(RoomModel.purge(room)).toBe(0)
      expect(inFlight(room)).toBe(m2.id)
      RoomModel.pause(room, true, 4, 4)
      expect(RoomModel.skip(room, 5, 5)).toEqual({ id: m2.id, released: [] })
      expect(RoomModel.skip(room, 5, 6)).toEqual({ id: null, released: [] })
    })

    it("redrive queues the copy and drops every letter of the message; drop empties the letters (S29)", () => {
      const room = roomWith(0, 1)
      const m1 = send(room, 0).msg
      RoomModel.skip(room, 1, 2)
      expect(RoomModel.hasLetter(room, m1.id)).toBe(true)
      const copy = RoomModel.queuedMessage(room, "copy", m1.n, m1.priority, 3)
      expect(RoomModel.redrive(room, m1.id, copy, 3, 3).map((m) => m.id)).toEqual(["copy"])
      expect(RoomModel.hasLetter(room, m1.id)).toBe(false)
      expect(RoomModel.wasLettered(room, 0, m1.id)).toBe(true)
      RoomModel.deadLetter(room, 0, "copy", { attempts: 1, reason: "rejected" }, 4, 4)
      RoomModel.deadLetter(room, 1, "copy", { attempts: 1, reason: "bad-data" }, 4, 5)
      expect(letters(room)).toEqual(["copy/c1/bad-data/1", "copy/c0/rejected/1"])
      expect(RoomModel.dropLetters(room)).toBe(2)
      expect(RoomModel.dropLetters(room)).toBe(0)
    })

    it("attempts: a resumed join counts one more than the last hand-over, a member detached at the release starts from 0, a resync counts nothing (S27)", () => {
      const room = roomWith(0, 1)
      RoomModel.detach(room, 1, 10_000)
      const m1 = send(room, 0).msg
      expect(room.attempts.get(1)).toEqual({ id: m1.id, n: 0, epoch: null })
      expect(room.attempts.has(0)).toBe(false)
      // c0 (attached at the release, its process died) resumes: 2; c1 (detached at the release): 1
      expect(RoomModel.resumedAttempt(room, 0, 1, null)).toBe(2)
      expect(RoomModel.resumedAttempt(room, 1, 1, null)).toBe(1)
      RoomModel.handedOver(room, 0, 2, 1)
      expect(RoomModel.resyncAttempt(room, 0)).toBe(2)
      expect(RoomModel.resyncAttempt(room, 1)).toBe(1)
      // the same claim joins again: its consumer had m1 (handed): 3; it never had it: still 2
      expect(RoomModel.resumedAttempt(room, 0, 1, m1.id)).toBe(3)
      expect(RoomModel.resumedAttempt(room, 0, 1, null)).toBe(2)
      // another claim: 3
      expect(RoomModel.resumedAttempt(room, 0, 2, null)).toBe(3)
    })
  })
})

/**
 * Durable members: S21 claim and fencing, S22 resume and S23 unresumed memberships. A part of the durable suite, declared in order by `durableSuite`
 * (`../durable.ts`).
 */
import { describe, expect } from "@effect/vitest"
import { QueueError } from "@lockstep/core"
import { Effect } from "effect"
import { failure, type Inbox, sorted } from "../harness.js"
import { crash, durable, type DurableGroup, nextAll, plain, scoped } from "./support.js"

/** Declare the tests of S21, S22 and S23. */
export const claimsAndResume = ({ aMoment, test }: DurableGroup): void => {
  // ---------------------------------------------------------------- S21
  describe("S21 claim and fencing", () => {
    test(
      "S21: a newer claim fences the older holder: its streams fail with superseded, its late ack, sends and joins take no effect",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const older = yield* fx.client(durable("edge-1"))
          expect(older.clientId).toBe("edge-1")
          const room = "s21"
          const io = yield* h.listen(older, room)
          const ip = yield* h.listen(peer, room)
          const m1 = yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          const [o1, p1] = yield* nextAll(h, [io, ip])
          expect(o1!.id).toBe(m1)
          const before = yield* older.send("s21-log", "before")

          const newer = yield* fx.client(durable("edge-1"))
          expect(newer.clientId).toBe("edge-1")
          // within one keepalive interval (1 s here)
          const error = yield* h.ejection(io, "3 seconds")
          expect(error).toBeInstanceOf(QueueError.ClientEjected)
          expect(error).toMatchObject({ room, clientId: "edge-1", reason: "superseded" })
          expect(error.message).toContain("superseded")

          // the fenced holder's ack does not count: the room still waits for edge-1
          yield* o1!.ack
          yield* p1!.ack
          const st = yield* h.stateWhen(peer, room, (s) => s.acked.length > 0)
          expect(st).toMatchObject({ inFlight: m1, acked: [peer.clientId], backlog: 1 })
          expect(st.members).toEqual(sorted(["edge-1", peer.clientId]))

          // nor do its sends, joins and leaves
          const late = yield* failure(older.send(room, "late"))
          expect(late).toBeInstanceOf(QueueError.ClientSuperseded)
          expect(late.message).toContain("edge-1")
          expect(yield* failure(older.sendOutOfBand(room, "late"))).toBeInstanceOf(QueueError.ClientSuperseded)
          expect(yield* failure(older.subscribe("s21-other"))).toBeInstanceOf(QueueError.ClientSuperseded)
          yield* h.settle
          expect((yield* h.state(peer, "s21-other")).members).toEqual([])
          expect((yield* h.state(peer, room)).backlog).toBe(1)
          yield* h.nothing(ip)

          // the newer holder resumes: m1 again (same id), then m2 with the peer
          const inew = yield* h.listen(newer, room)
          const n1 = yield* h.next(inew)
          expect(n1.id).toBe(m1)
          expect(n1.data).toBe("m1")
          yield* n1.ack
          const [n2] = yield* nextAll(h, [inew, ip])
          expect(n2!.id).toBe(m2)

          // S7: message ids are never reused across claims of one id
          const after = yield* newer.send("s21-log", "after")
          expect(after).not.toBe(before)
          expect(before.startsWith("edge-1:")).toBe(true)
          expect(after.startsWith("edge-1:")).toBe(true)
          expect(Number(after.slice(7))).toBeGreaterThan(Number(before.slice(7)))
        })
    )

    test(
      "S21: a client without clientId keeps a random id and is never fenced by another",
      (fx, h) =>
        Effect.gen(function*() {
          const a = yield* fx.client(plain)
          const b = yield* fx.client(plain)
          expect(a.clientId).not.toBe(b.clientId)
          expect(a.clientId).toMatch(/^[0-9a-f]{12}$/)
          const box = yield* h.listen(a, "s21-plain")
          yield* b.send("s21-plain", "x")
          expect((yield* h.next(box)).data).toBe("x")
        })
    )
  })

  // ---------------------------------------------------------------- S22
  describe("S22 resume", () => {
    test(
      "S22: the room waits for a crashed durable holder; its successor gets the in-flight message (same id), then every later one",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const room = "s22"
          const first = yield* scoped(fx, durable("edge-1"))
          yield* h.listen(first.client, room, undefined, first.scope)
          const ip = yield* h.listen(peer, room)
          const ids = [yield* producer.send(room, "m1"), yield* producer.send(room, "m2")]
          const p1 = yield* h.next(ip)
          expect(p1.id).toBe(ids[0])
          yield* p1.ack
          yield* crash(fx, first)

          // the room waits: edge-1 still holds m1
          yield* fx.advance(aMoment)
          expect(yield* h.state(peer, room)).toMatchObject({
            inFlight: ids[0],
            acked: [peer.clientId],
            members: sorted(["edge-1", peer.clientId])
          })
          yield* h.nothing(ip)
          ids.push(yield* producer.send(room, "m3"))

          const successor = yield* fx.client(durable("edge-1"))
          expect(yield* successor.memberships).toEqual([{ room, mode: "sync" }])
          const is = yield* h.listen(successor, room)
          const s1 = yield* h.next(is)
          expect(s1.id).toBe(ids[0])
          expect(s1.data).toBe("m1")
          const seen = [s1.id]
          let current = s1
          for (let i = 1; i < ids.length; i++) {
            yield* current.ack
            const [s, p] = yield* nextAll(h, [is, ip])
            yield* p!.ack
            seen.push(s!.id)
            current = s!
          }
          expect(seen).toEqual(ids)
        })
    )

    test(
      "S22: a successor of a holder that had acked gets the next message, with the others",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const room = "s22-acked"
          const first = yield* scoped(fx, durable("edge-2"))
          const ia = yield* h.listen(first.client, room, undefined, first.scope)
          const ip = yield* h.listen(peer, room)
          yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          const [a1, p1] = yield* nextAll(h, [ia, ip])
          yield* a1!.ack
          yield* h.stateWhen(peer, room, (s) => s.acked.includes("edge-2"))
          yield* crash(fx, first)
          const successor = yield* fx.client(durable("edge-2"))
          const is = yield* h.listen(successor, room)
          yield* h.nothing(is)
          yield* p1!.ack
          const [s2] = yield* nextAll(h, [is, ip])
          expect(s2!.id).toBe(m2)
        })
    )
  })

  // ---------------------------------------------------------------- S23
  describe("S23 unresumed memberships", () => {
    test(
      "S23: after a claim, memberships lists the id's rooms; one not resumed within clientTimeout ends as S10 ends it",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const [kept, dropped, watched] = ["s23-kept", "s23-dropped", "s23-async"]
          const first = yield* scoped(fx, durable("edge-3"))
          for (const room of [kept, dropped]) yield* h.listen(first.client, room, undefined, first.scope)
          yield* h.listen(first.client, watched, { mode: "async" }, first.scope)
          const peers: Array<Inbox> = []
          for (const room of [kept, dropped]) peers.push(yield* h.listen(peer, room))
          const next = new Map<string, string>()
          for (const room of [kept, dropped]) {
            yield* producer.send(room, `${room}-1`)
            next.set(room, yield* producer.send(room, `${room}-2`))
          }
          for (const box of peers) yield* (yield* h.next(box)).ack
          yield* crash(fx, first)

          const successor = yield* fx.client(durable("edge-3"))
          const listed = yield* successor.memberships
          expect([...listed].sort((a, b) => a.room < b.room ? -1 : 1)).toEqual([
            { room: watched, mode: "async" },
            { room: dropped, mode: "sync" },
            { room: kept, mode: "sync" }
          ])
          const ik = yield* h.listen(successor, kept)
          expect((yield* h.next(ik)).data).toBe(`${kept}-1`)

          // the dropped room moves on once clientTimeout has passed since the claim
          const moved = yield* h.next(peers[1]!, "8 seconds")
          expect(moved.id).toBe(next.get(dropped))
          expect((yield* h.state(peer, dropped)).members).toEqual([peer.clientId])
          // the resumed one is still held by edge-3, which is alive
          expect(yield* h.state(peer, kept)).toMatchObject({ members: sorted(["edge-3", peer.clientId]) })
          expect((yield* h.state(peer, kept)).inFlight).not.toBe(next.get(kept))
          expect((yield* successor.memberships).map((m) => m.room)).toEqual([kept])
        })
    )
  })
}

/**
 * S27 attempts: how many times a message reached a member. A part of the operations suite,
 * declared in order by `operationsSuite` (`../operations.ts`).
 *
 * A message reaches a member again only through a resumed membership (S22): a new process of a
 * durable id, or the same process subscribing again after a detach (S24). A resync after a blip
 * (S12) hands the consumer nothing it already has and counts nothing.
 */
import { describe, expect } from "@effect/vitest"
import { Backend, QueueError } from "@lockstep/core"
import { Effect, Exit, Scope } from "effect"
import { sorted } from "../harness.js"
import { crash, durable, nextAll, plain, scoped, shutdown } from "../durable/support.js"
import { crashLoop, type OperationsGroup } from "./support.js"

/** Declare the tests of S27. */
export const attempts = ({ test }: OperationsGroup): void => {
  describe("S27 attempts", () => {
    test(
      "S27: a fresh delivery has attempt 1 for every sync member; async and out-of-band deliveries have attempt 1",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const [a, b, watcher] = [yield* fx.client(plain), yield* fx.client(plain), yield* fx.client(plain)]
          const room = "s27-fresh"
          const boxes = [yield* h.listen(a, room), yield* h.listen(b, room)]
          const iw = yield* h.listen(watcher, room, { mode: "async" })
          const m1 = yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          const first = yield* nextAll(h, boxes)
          expect(first.map((d) => [d.id, d.attempt])).toEqual([[m1, 1], [m1, 1]])
          expect(yield* h.next(iw)).toMatchObject({ id: m1, attempt: 1 })
          yield* producer.sendOutOfBand(room, "oob")
          for (const box of [...boxes, iw]) {
            expect(yield* h.next(box)).toMatchObject({ kind: "out-of-band", data: "oob", attempt: 1 })
          }
          for (const d of first) yield* d.ack
          const second = yield* nextAll(h, boxes)
          expect(second.map((d) => [d.id, d.attempt])).toEqual([[m2, 1], [m2, 1]])
          expect(yield* h.next(iw)).toMatchObject({ id: m2, attempt: 1 })
        })
    )

    test(
      "S27: a durable member that resumes (S22) the message it never acked gets attempt 2, then 3 in a third process; the next message is attempt 1",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const room = "s27-resume"
          const ip = yield* h.listen(peer, room)
          // the first process joins before the sends: the release reaches it
          const first = yield* scoped(fx, durable("edge-27a"))
          const i1 = yield* h.listen(first.client, room, undefined, first.scope)
          const m1 = yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          const f1 = yield* h.next(i1)
          expect(f1).toMatchObject({ id: m1, attempt: 1 })
          const p1 = yield* h.next(ip)
          expect(p1.attempt).toBe(1)
          yield* p1.ack
          yield* crash(fx, first)

          const [second] = yield* crashLoop(fx, h, "edge-27a", room, 1)
          expect(second).toMatchObject({ id: m1, data: "m1", attempt: 2 })
          const third = yield* fx.client(durable("edge-27a"))
          const i3 = yield* h.listen(third, room)
          const t1 = yield* h.next(i3)
          expect(t1).toMatchObject({ id: m1, attempt: 3 })
          yield* t1.ack
          const next = yield* nextAll(h, [i3, ip])
          expect(next.map((d) => [d.id, d.attempt])).toEqual([[m2, 1], [m2, 1]])
        })
    )

    test(
      "S27: the same process subscribing again after a detach (S24) gets the message it never acked as attempt 2",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const client = yield* fx.client(durable("edge-27b", "detach"))
          const room = "s27-same-process"
          const scope = yield* Scope.make()
          const box = yield* h.listen(client, room, undefined, scope)
          const ip = yield* h.listen(peer, room)
          const m1 = yield* producer.send(room, "m1")
          yield* (yield* h.next(ip)).ack
          expect(yield* h.next(box)).toMatchObject({ id: m1, attempt: 1 })
          yield* Scope.close(scope, shutdown)
          yield* h.ended(box)
          const again = yield* h.listen(client, room)
          expect(yield* h.next(again)).toMatchObject({ id: m1, attempt: 2 })
        })
    )

    test(
      "S27: a member detached (S24) at the release, resumed by its successor, gets attempt 1; one whose process died unannounced counted the release as attempt 1, so its successor gets attempt 2",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const peer = yield* fx.client(plain)
          const room = "s27-released-while-away"
          const ip = yield* h.listen(peer, room)
          const detaching = yield* scoped(fx, durable("edge-27c", "detach"))
          const dying = yield* scoped(fx, durable("edge-27d"))
          const ic = yield* h.listen(detaching.client, room, undefined, detaching.scope)
          const id = yield* h.listen(dying.client, room, undefined, dying.scope)
          yield* producer.send(room, "m1")
          const m2 = yield* producer.send(room, "m2")
          const firsts = yield* nextAll(h, [ic, id, ip])
          yield* firsts[0]!.ack
          yield* firsts[1]!.ack
          yield* h.stateWhen(peer, room, (s) => s.acked.length === 2)
          // both go away while the peer still holds m1: m2 is released while nobody holds their ids
          yield* Scope.close(detaching.scope, shutdown)
          yield* h.ended(ic)
          yield* crash(fx, dying)
          yield* firsts[2]!.ack
          expect(yield* h.next(ip)).toMatchObject({ id: m2, attempt: 1 })
          expect((yield* h.state(peer, room)).members).toEqual(sorted(["edge-27c", "edge-27d", peer.clientId]))

          const back = yield* fx.client(durable("edge-27c", "detach"))
          expect(yield* h.next(yield* h.listen(back, room))).toMatchObject({ id: m2, attempt: 1 })
          const reborn = yield* fx.client(durable("edge-27d"))
          expect(yield* h.next(yield* h.listen(reborn, room))).toMatchObject({ id: m2, attempt: 2 })
        })
    )

    test(
      "S27: a resync after a blip (S12) counts no attempt: a member cut at the release gets m as attempt 1, one that had m gets nothing again and its successor gets attempt 2",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const cutAtRelease = yield* fx.client(plain)
          const room = "s27-blip"
          const ic = yield* h.listen(cutAtRelease, room)
          const first = yield* scoped(fx, durable("edge-27e"))
          const i1 = yield* h.listen(first.client, room, undefined, first.scope)
          yield* fx.cut(cutAtRelease.clientId)
          const m1 = yield* producer.send(room, "m1")
          expect(yield* h.next(i1)).toMatchObject({ id: m1, attempt: 1 })
          yield* h.nothing(ic)
          yield* fx.restore(cutAtRelease.clientId)
          // the resync hands m1 to the member that missed it: its first delivery
          const c1 = yield* h.next(ic, "3 seconds")
          expect(c1).toMatchObject({ id: m1, attempt: 1 })
          yield* c1.ack

          // a blip of the durable member that has m1: its resync answer is not handed out again
          yield* fx.cut("edge-27e")
          yield* fx.restore("edge-27e")
          yield* h.nothing(i1)
          yield* crash(fx, first)
          const successor = yield* fx.client(durable("edge-27e"))
          expect(yield* h.next(yield* h.listen(successor, room))).toMatchObject({ id: m1, attempt: 2 })
        })
    )

    test(
      "S27: a resumed join repeated because its answer was lost counts no new attempt",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client(plain)
          const room = "s27-lost-answer"
          const first = yield* scoped(fx, durable("edge-27f"))
          const i1 = yield* h.listen(first.client, room, undefined, first.scope)
          const m1 = yield* producer.send(room, "m1")
          expect(yield* h.next(i1)).toMatchObject({ id: m1, attempt: 1 })
          yield* crash(fx, first)

          // the successor's first join runs on the engine, but its answer never arrives
          let lose = true
          const successor = yield* fx.client(durable("edge-27f"), {
            wrapBackend: (backend): Backend.BackendClient => ({
              ...backend,
              join: (joined, options) =>
                Effect.flatMap(backend.join(joined, options), (answer) => {
                  if (!lose) return Effect.succeed(answer)
                  lose = false
                  return Effect.fail(
                    new QueueError.EngineError({ engine: fx.name, operation: "join", cause: "answer lost" })
                  )
                })
            })
          })
          const failed = yield* Scope.make()
          expect(Exit.isFailure(yield* Effect.exit(Scope.provide(successor.subscribe(room), failed)))).toBe(true)
          yield* Scope.close(failed, Exit.void)
          expect(lose).toBe(false)
          // the consumer never had m1 from this process: the repeated join hands it as attempt 2
          expect(yield* h.next(yield* h.listen(successor, room))).toMatchObject({ id: m1, attempt: 2 })
        })
    )
  })
}

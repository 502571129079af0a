/**
 * The semantic suite of room discovery (DESIGN §2, S26): `rooms` and `metrics().stalled`,
 * written once against `EngineFixture` and run on every engine, as `semantics.ts` is.
 */
import { assert, describe, expect } from "@effect/vitest"
import { QueueError, type SyncFanoutQueue } from "@lockstep/core"
import { Duration, Effect, Exit, Option, Scope } from "effect"
import type { EngineFixture } from "../EngineFixture.js"
import { failure, type Inbox, type SemanticSuiteOptions, sorted, suiteTest } from "./harness.js"

type Client = SyncFanoutQueue.SyncFanoutQueue["Service"]

/** Walk `rooms` to the end with pages of `limit`; `between` runs after each page. */
const walk = <R = never>(
  client: Client,
  limit: number,
  between?: (page: number) => Effect.Effect<void, unknown, R>
) =>
  Effect.gen(function*() {
    const seen: Array<string> = []
    let cursor: string | undefined = undefined
    let pages = 0
    while (true) {
      const page: SyncFanoutQueue.RoomsPage = yield* client.rooms(cursor === undefined ? { limit } : { cursor, limit })
      expect(page.rooms.length).toBeLessThanOrEqual(limit)
      seen.push(...page.rooms)
      pages++
      if (Option.isNone(page.cursor)) return { seen, pages }
      cursor = page.cursor.value
      if (between !== undefined) yield* between(pages)
      if (pages > 1000) throw new Error("the walk does not end")
    }
  })

/**
 * Declare the discovery suite for one engine (see `semanticSuite` for the parameters).
 */
export const discoverySuite = <R = never>(
  fixture: Effect.Effect<EngineFixture, never, Scope.Scope | R>,
  runner: "test-clock" | "live",
  options?: SemanticSuiteOptions<R>
): void => {
  const test = suiteTest(fixture, runner, options)

  describe(`discovery (${runner})`, () => {
    test(
      "S26: rooms walks every active room exactly once, in pages of at most limit",
      (fx, h) =>
        Effect.gen(function*() {
          const a = yield* fx.client()
          const b = yield* fx.client()
          expect(yield* a.rooms()).toEqual({ rooms: [], cursor: Option.none() })
          const names = [
            ...Array.from({ length: 22 }, (_, i) => `room-${i}`),
            "🎉",
            "{x}",
            "a:b|c d",
            "r".repeat(256)
          ]
          for (const [i, room] of names.entries()) yield* h.listen(i % 2 === 0 ? a : b, room)
          // a room with a backlog and a message in flight, and one nobody is in
          yield* a.send("room-0", "m1")
          yield* a.send("room-0", "m2")
          yield* a.send("nobody-here", "gone")
          for (const limit of [1, 7, 26, 100]) {
            const { pages, seen } = yield* walk(a, limit)
            expect(seen.length).toBe(names.length)
            expect(sorted(seen)).toEqual(sorted(names))
            expect(pages).toBeGreaterThanOrEqual(Math.ceil(names.length / limit))
          }
          // the default page holds 100
          expect(sorted((yield* b.rooms()).rooms)).toEqual(sorted(names))
        })
    )

    test("S26: bad limits and cursors are InvalidArgument", (fx) =>
      Effect.gen(function*() {
        const a = yield* fx.client()
        for (const limit of [0, 1001, 1.5, -1, Number.NaN, "7" as unknown as number]) {
          const error = yield* failure(a.rooms({ limit }))
          expect(error).toBeInstanceOf(QueueError.InvalidArgument)
          expect(error.message).toContain("limit must be an integer from 1 to 1000")
        }
        const forged = globalThis.btoa(JSON.stringify({ shard: 0 })).replace(/=+$/, "")
        for (const cursor of ["", "not a cursor!", forged, "e30", 42 as unknown as string]) {
          const error = yield* failure(a.rooms({ cursor }))
          expect(error).toBeInstanceOf(QueueError.InvalidArgument)
          expect(error.message).toContain("cursor must be the cursor of a previous rooms page")
        }
      }))

    test(
      "S26: a cursor of another keyPrefix, of another engine shape or naming a shard the engine lacks is InvalidArgument",
      (fx, h) =>
        Effect.gen(function*() {
          const a = yield* fx.client()
          const a2 = yield* fx.client()
          const b = yield* fx.client({ keyPrefix: `${fx.keyPrefix}-b` })
          for (const room of ["r1", "r2", "r3"]) yield* h.listen(a, room)
          for (const room of ["s1", "s2"]) yield* h.listen(b, room)
          const first = yield* a.rooms({ limit: 1 })
          assert(Option.isSome(first.cursor))
          const cursor = first.cursor.value
          // b walking with a's cursor: refused, never an empty, complete page that skips b's rooms
          const foreign = yield* failure(b.rooms({ cursor }))
          expect(foreign).toBeInstanceOf(QueueError.InvalidArgument)
          expect(foreign.message).toContain("cursor must be the cursor of a previous rooms page")
          expect(foreign.message).toContain("another keyPrefix")
          expect(sorted((yield* walk(b, 1)).seen)).toEqual(["s1", "s2"])
          // another client of a's prefix goes on with it
          const rest = yield* a2.rooms({ cursor, limit: 10 })
          expect(sorted([...first.rooms, ...rest.rooms])).toEqual(["r1", "r2", "r3"])
          expect(rest.cursor).toEqual(Option.none())

          // forged from a's cursor (base64url JSON: prefix tag, shard count, shard, last room)
          const fields = JSON.parse(globalThis.atob(cursor.replace(/-/g, "+").replace(/_/g, "/"))) as [
            string,
            number,
            number,
            string
          ]
          const [tag, shards] = fields
          const forge = (value: unknown) => globalThis.btoa(JSON.stringify(value)).replace(/=+$/, "")
          const cases: ReadonlyArray<readonly [string, string]> = [
            [forge([tag, shards + 1, 0, ""]), `made for an engine of ${shards + 1} shards, this one has ${shards}`],
            [forge([tag, shards, shards, ""]), `names shard ${shards}, this engine has shards 0 to ${shards - 1}`],
            [forge([tag, shards, -1, ""]), "names shard -1"],
            [forge([tag, shards, 0, "\uD800"]), "got"], // not a room any page could end with (S1)
            [forge([tag, shards, 0, "r".repeat(257)]), "got"],
            [forge([tag, shards, 0.5, ""]), "got"],
            [forge([tag, shards, 0]), "got"],
            [forge([5, ""]), "got"], // the 0.x shape: [shard, after]
            ["WzUsIngiXQ", "got"] // [5,"x"], as the monitor was sent it
          ]
          for (const [forged, why] of cases) {
            const error = yield* failure(a.rooms({ cursor: forged }))
            expect(error).toBeInstanceOf(QueueError.InvalidArgument)
            expect(error.message).toContain("cursor must be the cursor of a previous rooms page")
            expect(error.message).toContain(why)
          }
        })
    )

    test(
      "S26: a walk while rooms are created and drained misses no room active all along and returns none twice",
      (fx, h) =>
        Effect.gen(function*() {
          const watcher = yield* fx.client()
          const member = yield* fx.client()
          const stable = Array.from({ length: 30 }, (_, i) => `stable-${String(i).padStart(2, "0")}`)
          for (const room of stable) yield* h.listen(member, room)
          // rooms that come and go while the walk runs, named to fall before, among and after the others
          const churn = ["a-early", "stable-05x", "stable-17x", "zz-late", "stable-29x", "m-middle"]
          const scopes = new Map<string, Scope.Closeable>()
          const between = (page: number) =>
            Effect.gen(function*() {
              const room = churn[page % churn.length]!
              const open = scopes.get(room)
              if (open === undefined) {
                const scope = yield* Scope.make()
                yield* h.listen(member, room, undefined, scope)
                scopes.set(room, scope)
              } else {
                yield* Scope.close(open, Exit.void) // the last member leaves: the room is dropped
                scopes.delete(room)
              }
            })
          const { seen } = yield* walk(watcher, 4, between)
          expect(seen.length).toBe(new Set(seen).size) // nothing twice
          for (const room of stable) expect(seen).toContain(room) // nothing missed
          for (const room of seen) expect([...stable, ...churn]).toContain(room)
        })
    )

    test("S26, S18: a drained room is no longer listed", (fx, h) =>
      Effect.gen(function*() {
        const a = yield* fx.client()
        const b = yield* fx.client()
        const scope = yield* Scope.make()
        const box = yield* h.listen(a, "drained", undefined, scope)
        yield* b.send("drained", "m1")
        yield* h.next(box)
        expect((yield* b.rooms()).rooms).toEqual(["drained"])
        yield* Scope.close(scope, Exit.void)
        yield* h.eventually("3 seconds", Effect.map(b.rooms(), (page) => page.rooms.length === 0))
        expect(yield* b.rooms()).toEqual({ rooms: [], cursor: Option.none() })
      }))

    test(
      "S26: metrics().stalled lists the rooms whose in-flight message is oldest, with the sync members they wait for",
      (fx, h) =>
        Effect.gen(function*() {
          const producer = yield* fx.client()
          const a = yield* fx.client()
          const b = yield* fx.client()
          const rooms = ["st-1", "st-2", "st-3"]
          const boxes = new Map<string, ReadonlyArray<Inbox>>()
          for (const room of rooms) boxes.set(room, [yield* h.listen(a, room), yield* h.listen(b, room)])
          yield* h.listen(producer, "st-1", { mode: "async" }) // async members are never waited for
          const ids = new Map<string, string>()
          for (const room of rooms) {
            ids.set(room, yield* producer.send(room, `${room}-m1`))
            yield* producer.send(room, `${room}-m2`)
            yield* fx.advance(runner === "test-clock" ? "1 second" : "30 millis")
          }
          // b acks st-2's message: st-2 now waits for a only
          const b2 = boxes.get("st-2")![1]!
          yield* (yield* h.next(b2)).ack
          yield* h.stateWhen(producer, "st-2", (s) => s.acked.length === 1)

          const { stalled } = yield* producer.metrics({ stalledRooms: 2 })
          expect(stalled.map((s) => [s.room, s.inFlight, s.waitingFor])).toEqual([
            ["st-1", ids.get("st-1"), sorted([a.clientId, b.clientId])],
            ["st-2", ids.get("st-2"), [a.clientId]]
          ])
          expect(Duration.toMillis(stalled[0]!.age)).toBeGreaterThanOrEqual(Duration.toMillis(stalled[1]!.age))
          expect(stalled[0]!.releasedAt.getTime()).toBeLessThanOrEqual(stalled[1]!.releasedAt.getTime())
          // default: up to 10, all three here; none asked, none given
          expect((yield* producer.metrics()).stalled.map((s) => s.room)).toEqual(rooms)
          expect((yield* producer.metrics({ stalledRooms: 0 })).stalled).toEqual([])
          const bad = yield* failure(producer.metrics({ stalledRooms: 1001 }))
          expect(bad).toBeInstanceOf(QueueError.InvalidArgument)

          // st-1 moves on when both ack: its next message is the newest in flight
          for (const box of boxes.get("st-1")!) yield* (yield* h.next(box)).ack
          yield* h.stateWhen(producer, "st-1", (s) => s.inFlight !== ids.get("st-1"))
          expect((yield* producer.metrics()).stalled.map((s) => s.room)).toEqual(["st-2", "st-3", "st-1"])
        })
    )
  })
}

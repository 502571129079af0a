/**
 * The memory engine's layers: `layer` gives each client a broker of its own, `client` over one
 * `broker` lets clients talk to each other, whatever the nesting of `Effect.provide` (Effect 4
 * shares layers built by an enclosing provide).
 */
import { describe, expect, it } from "@effect/vitest"
import { MemoryLayer, SyncFanoutQueue } from "@lockstep/core"
import { Effect, Option } from "effect"

/** The in-flight message of `room` as this client's broker sees it, after it sent one there. */
const sendAndSee = (room: string) =>
  Effect.gen(function*() {
    const queue = yield* SyncFanoutQueue.SyncFanoutQueue
    yield* queue.subscribe(room) // a sync member: what is sent is held in flight
    yield* queue.send(room, "m")
    return yield* queue.roomState(room)
  })

describe("MemoryLayer layers", () => {
  it.effect("layer(config) provided inside another layer(config) is a broker of its own", () =>
    Effect.gen(function*() {
      const outer = yield* sendAndSee("shared-name")
      const inner = yield* Effect.gen(function*() {
        const queue = yield* SyncFanoutQueue.SyncFanoutQueue
        return yield* queue.roomState("shared-name")
      }).pipe(Effect.provide(MemoryLayer.layer({ keyPrefix: "inner" })))
      expect(Option.isSome(outer.inFlight)).toBe(true)
      // the inner client's broker has never seen the room
      expect(inner.members).toEqual([])
      expect(Option.isNone(inner.inFlight)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(MemoryLayer.layer({ keyPrefix: "outer" }))))

  it.effect("client(config) over one broker: two clients see the same rooms", () =>
    Effect.gen(function*() {
      const state = yield* sendAndSee("together")
      const seen = yield* Effect.gen(function*() {
        const queue = yield* SyncFanoutQueue.SyncFanoutQueue
        return yield* queue.roomState("together")
      }).pipe(Effect.provide(MemoryLayer.client({ keyPrefix: "demo" })))
      expect(seen.members).toEqual(state.members)
    }).pipe(
      Effect.scoped,
      Effect.provide(MemoryLayer.client({ keyPrefix: "demo" })),
      Effect.provide(MemoryLayer.broker)
    ))
})

import { describe, expect, it } from "@effect/vitest"
import { MemoryLayer, SyncFanoutQueue } from "@lockstep/core"
import { Chunk, Effect, Fiber, Stream } from "effect"

describe("smoke", () => {
  it.scoped("lock-step between two sync members", () =>
    Effect.gen(function*() {
      const brokerSvc = yield* MemoryLayer.makeBroker
      const mk = MemoryLayer.make({ keyPrefix: "t" }).pipe(Effect.provideService(MemoryLayer.MemoryBroker, brokerSvc))
      const a = yield* mk
      const b = yield* mk
      const sa = yield* a.subscribe("r")
      const sb = yield* b.subscribe("r")
      yield* a.send("r", 1)
      yield* a.send("r", 2)
      const fa = yield* sa.pipe(Stream.take(2), Stream.tap((d) => d.ack), Stream.runCollect, Effect.fork)
      const [d1] = yield* sb.pipe(Stream.take(1), Stream.runCollect).pipe(Effect.map(Chunk.toArray))
      expect(d1!.data).toBe(1)
      const st = yield* a.roomState("r")
      expect(st.backlog).toBe(1)
      yield* d1!.ack
      const got = yield* Fiber.join(fa)
      expect(Chunk.toArray(got).map((d) => d.data)).toEqual([1, 2])
      void SyncFanoutQueue
    }))
})

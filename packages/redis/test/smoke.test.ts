import { describe, expect, layer } from "@effect/vitest"
import { RedisTestServer } from "@lockstep/redis/testing"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { redisFixture } from "./utils/redisFixture.js"

describe("redis smoke", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
    it.scoped("lock-step between two sync members", () =>
      Effect.gen(function*() {
        const f = yield* redisFixture()
        const a = yield* f.client()
        const b = yield* f.client()
        const sa = yield* a.subscribe("r")
        const sb = yield* b.subscribe("r")
        yield* a.send("r", 1)
        yield* a.send("r", 2)
        const fa = yield* sa.pipe(Stream.take(2), Stream.tap((d) => d.ack), Stream.runCollect, Effect.fork)
        const [d1] = yield* sb.pipe(Stream.take(1), Stream.runCollect).pipe(Effect.map(Chunk.toArray))
        expect(d1!.data).toBe(1)
        const st = yield* a.roomState("r")
        expect(st.backlog).toBe(1)
        expect(st.members.length).toBe(2)
        const peeked = yield* a.peek("r")
        expect(peeked.map((m) => m.data)).toEqual([2])
        yield* d1!.ack
        const got = yield* Fiber.join(fa)
        expect(Chunk.toArray(got).map((d) => d.data)).toEqual([1, 2])
      }))
  })
})

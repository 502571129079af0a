import { describe, expect, layer } from "@effect/vitest"
import { RedisTestCluster } from "@lockstep/redis/testing"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { clusterFixture } from "./utils/redisFixture.js"

describe("cluster smoke", () => {
  layer(RedisTestCluster.layer({ masters: 3 }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    it.scoped("lock-step between two sync members over 16 shards", () =>
      Effect.gen(function*() {
        const f = yield* clusterFixture(16)
        const a = yield* f.client()
        const b = yield* f.client()
        for (const room of ["r", "room-2", "x{y}z"]) {
          const sa = yield* a.subscribe(room)
          const sb = yield* b.subscribe(room)
          yield* a.send(room, 1)
          yield* a.send(room, 2)
          const fa = yield* sa.pipe(Stream.take(2), Stream.tap((d) => d.ack), Stream.runCollect, Effect.fork)
          const [d1] = yield* sb.pipe(Stream.take(1), Stream.runCollect).pipe(Effect.map(Chunk.toArray))
          expect(d1!.data).toBe(1)
          expect((yield* a.roomState(room)).backlog).toBe(1)
          yield* d1!.ack
          const got = yield* Fiber.join(fa)
          expect(Chunk.toArray(got).map((d) => d.data)).toEqual([1, 2])
        }
      }))
  })
})

/**
 * Faults of the server itself: a Redis restart, and a producer whose network stalls mid-send.
 *
 * The spawned redis-server keeps nothing on disk (`--save ""`, no AOF), like a cache-only
 * deployment: after a restart every key is gone, so queued messages, the in-flight message and
 * all memberships are lost, and the server no longer knows any client. What the engine does
 * about it today: the clients' connections come back by themselves (ioredis reconnects, the
 * subscriber connection re-subscribes its channels), then the client's first keepalive is
 * answered "unknown client" and the client fails every subscription stream of its own with
 * `ClientEjected { reason: "keepalive-timeout" }` at once, without waiting for `clientTimeout`
 * (queueClient `heard(false)`). The application subscribes again, and the room works.
 */
import { describe, expect, layer } from "@effect/vitest"
import { QueueError } from "@lockstep/core"
import { RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import { Deferred, Duration, Effect, Option, Schedule } from "effect"
import { connect, eventually, freshPrefix, makeClient, subscribe } from "../utils/redisProbe.js"

/** retry while the connection is still coming back (operations fail fast while it is down) */
const whenBack = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.retry(effect, Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: "5 seconds" })))

const ejection = (done: Deferred.Deferred<void, QueueError.ClientEjected>, timeout: Duration.Input) =>
  Deferred.await(done).pipe(
    Effect.flip,
    Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.die(new Error("the stream was not ejected")) })
  )

describe("faults: Redis restart", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
    it.effect(
      "a restart (stop + start, nothing persisted) loses queued and in-flight messages and memberships; " +
        "clients reconnect, eject their own streams with keepalive-timeout at once, and a fresh subscribe works",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisTestServer.RedisTestServer
          // long: the ejection below must come from the server's "unknown client" answer, not a timeout
          const clientTimeout = Duration.seconds(10)
          const config = { keyPrefix: freshPrefix("restart"), clientTimeout }
          const a = yield* makeClient(yield* connect(server.port, "restart-a"), config)
          const b = yield* makeClient(yield* connect(server.port, "restart-b"), config)
          const p = yield* makeClient(yield* connect(server.port, "restart-p"), config)
          const room = "room"
          const sa = yield* subscribe(a, room)
          const sb = yield* subscribe(b, room)
          const other = yield* subscribe(a, "other", { mode: "async" })

          const before: Array<string> = []
          for (let n = 1; n <= 5; n++) before.push(yield* p.send(room, `m${n}`))
          const a1 = yield* sa.next()
          const b1 = yield* sb.next()
          expect([a1.id, b1.id]).toEqual([before[0], before[0]])
          yield* a1.ack // b still holds m1; m2..m5 are queued
          // an ack is not awaited (it leaves with its turn's batch on a's connection): wait until p sees it
          const state = yield* eventually(
            Effect.orDie(p.roomState(room)),
            (state) => state.acked.length === 1,
            "a's ack of m1 reached the server"
          )
          expect(state).toMatchObject({
            backlog: 4,
            members: [a.clientId, b.clientId].sort(),
            acked: [a.clientId],
            inFlight: Option.some({ id: before[0] })
          })

          const restartedAt = Date.now()
          yield* server.stop
          yield* server.start

          // every subscription of every client fails with keepalive-timeout, far below clientTimeout
          for (
            const [sub, r, clientId] of [[sa, room, a.clientId], [sb, room, b.clientId], [
              other,
              "other",
              a.clientId
            ]] as const
          ) {
            const error = yield* ejection(sub.done, "8 seconds")
            expect(error).toBeInstanceOf(QueueError.ClientEjected)
            expect(error).toMatchObject({ room: r, clientId, reason: "keepalive-timeout" })
          }
          const ejectedAfter = Date.now() - restartedAt
          yield* Effect.log(`streams ejected ${ejectedAfter} ms after the restart began`)
          expect(ejectedAfter).toBeLessThan(Duration.toMillis(clientTimeout) / 2)

          // at-most-once: what the server held is gone. m1 (in flight, unacked by b) and m2..m5
          // (queued) are never delivered to anyone; the room has no member and no backlog
          expect(yield* whenBack(p.roomState(room))).toEqual({
            room,
            backlog: 0,
            members: [],
            acked: [],
            inFlight: Option.none(),
            paused: false
          })
          expect(yield* p.peek(room)).toEqual([])
          expect((yield* p.metrics()).knownRooms).toBe(0)
          // the old ack is a no-op (S4), not an error
          yield* whenBack(b1.ack)
          // the clients re-registered themselves through their keepalive
          yield* eventually(
            Effect.orDie(p.metrics()),
            (m) => m.knownClients === 3,
            "all three clients known again",
            "5 seconds"
          )

          // the same clients (their connections came back) subscribe again: lock-step resumes
          const sa2 = yield* subscribe(a, room)
          const sb2 = yield* subscribe(b, room)
          const m6 = yield* p.send(room, "m6")
          const m7 = yield* p.send(room, "m7")
          const [a6, b6] = [yield* sa2.next(), yield* sb2.next()]
          expect([a6.id, b6.id]).toEqual([m6, m6])
          yield* a6.ack
          yield* b6.ack
          const [a7, b7] = [yield* sa2.next(), yield* sb2.next()]
          expect([a7.id, b7.id]).toEqual([m7, m7])
          expect((yield* p.roomState(room)).members).toEqual([a.clientId, b.clientId].sort())
        }),
      60_000
    )

    it.effect(
      "OperationTimeout on send is an unknown outcome: a send stuck in a stalled network is applied when it heals",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisTestServer.RedisTestServer
          const config = { keyPrefix: freshPrefix("stalled"), clientTimeout: Duration.seconds(10) }
          const proxy = yield* TcpProxy.make({ targetPort: server.port })
          yield* Effect.addFinalizer(() => proxy.restore)
          const sub = yield* makeClient(yield* connect(server.port, "stalled-sub"), config)
          const producer = yield* makeClient(yield* connect(proxy.port, "stalled-producer"), {
            ...config,
            operationTimeout: "500 millis"
          })
          const s = yield* subscribe(sub, "room")
          yield* producer.send("room", "before")
          yield* Effect.flatMap(s.next(), (d) => d.ack)

          yield* proxy.blackhole
          const error = yield* Effect.flip(producer.send("room", "maybe"))
          expect(error._tag).toBe("OperationTimeout")
          yield* proxy.restore
          // the command was written before the deadline: it reaches Redis once the network heals
          const late = yield* s.next("5 seconds")
          expect(late.data).toBe("maybe")
          expect(late.producer).toBe(producer.clientId)
        }),
      30_000
    )
  })
})

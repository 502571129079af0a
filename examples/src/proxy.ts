/**
 * A room proxy: several local clients (think browser sockets of one edge process) share one
 * lockstep client. The engine sees the proxy as one sync member per room and gets one ack per
 * message, sent once every local client in the room acked it; so the slowest local client still
 * paces the room.
 *
 * Engine: `LOCKSTEP_REDIS_URL`, else a spawned `redis-server` when installed, else the in-memory
 * engine. Run: `pnpm --filter @lockstep/examples proxy`.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { SyncFanoutQueue } from "@lockstep/core"
import { ProxyLayer, type RoomProxy } from "@lockstep/proxy"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as Engine from "./internal/engine.js"
import { runMain } from "./internal/main.js"

const MATCH = "match"
const LOBBY = "lobby"

const main = Effect.gen(function*() {
  const engine = yield* Engine.acquire()
  yield* Console.log(`engine: ${engine.description}`)
  const keyPrefix = `lockstep-proxy-${process.pid}`
  const upstream = yield* engine.client({ keyPrefix })
  const producer = yield* engine.client({ keyPrefix })

  // the proxy over the upstream client
  const proxy = yield* ProxyLayer.make().pipe(
    Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, upstream.queue)
  )
  let t0 = performance.now()
  const at = () => `${String(Math.round(performance.now() - t0)).padStart(4)} ms`

  // three local clients with different speeds
  const locals = [
    { name: "alice", rooms: [LOBBY, MATCH], workMs: 10 },
    { name: "bob", rooms: [MATCH], workMs: 40 },
    { name: "carol", rooms: [MATCH], workMs: 150 }
  ]
  const clients = yield* Effect.forEach(locals, (local) =>
    Effect.gen(function*() {
      const client = yield* proxy.addClient // removed when the scope closes
      yield* Effect.forEach(local.rooms, (room) => client.join(room), { discard: true })
      return { ...local, client }
    }))
  yield* Console.log(
    `local clients: ${clients.map((c) => `${c.name} (${c.client.id}) in ${c.rooms.join(" + ")}`).join(", ")}`
  )
  const state = yield* producer.queue.roomState(MATCH)
  yield* Console.log(
    `the engine sees ${state.members.length} sync member in ${JSON.stringify(MATCH)}: ${state.members.join(", ")} ` +
      `(the proxy's upstream client ${upstream.queue.clientId})`
  )

  // each local client processes what it gets and acks it locally
  const expected = (c: typeof clients[number]) => c.rooms.includes(LOBBY) ? 4 : 3
  const consume = (
    c: { readonly name: string; readonly workMs: number; readonly client: RoomProxy.ProxyClient },
    n: number
  ) =>
    c.client.deliveries.pipe(
      Stream.take(n),
      Stream.runForEach((d) =>
        Effect.gen(function*() {
          yield* Console.log(`${at()}  ${c.name.padEnd(5)} got  ${d.room}/${JSON.stringify(d.data)}`)
          yield* Effect.sleep(`${c.workMs} millis`)
          yield* d.ack
          yield* Console.log(`${at()}  ${c.name.padEnd(5)} acked ${d.room}/${JSON.stringify(d.data)}`)
        })
      )
    )
  const fibers = yield* Effect.forEach(clients, (c) => Effect.forkChild(consume(c, expected(c))))

  t0 = performance.now()
  yield* producer.queue.send(MATCH, "move 1")
  yield* producer.queue.send(MATCH, "move 2")
  yield* producer.queue.send(MATCH, "move 3")
  yield* producer.queue.send(LOBBY, "welcome")
  yield* Console.log(`${at()}  producer sent 3 messages to ${MATCH} and 1 to ${LOBBY}`)

  yield* Fiber.joinAll(fibers)
  yield* Console.log(
    `each "move" reached alice, bob and carol; the next one waited for carol, the slowest (one upstream ack per message)`
  )
  const after = yield* producer.queue.roomState(MATCH)
  yield* Console.log(`room ${JSON.stringify(MATCH)} now: backlog ${after.backlog}, ${after.members.length} sync member`)
}).pipe(Effect.scoped, Effect.provide(NodeServices.layer))

runMain(main)

/**
 * The monitor example's server and traffic, shared by `src/monitor.ts`, `src/demo.ts` (a live board
 * while the demo runs) and the browser test (`test/monitor.board.test.ts`), which drives the stuck
 * member to see the board follow.
 *
 * Traffic: a worker acks `match-1` every 25 ms; `match-2` has a member that never acks on its own,
 * so the room stalls and a backlog builds up behind it. Nobody configures the room names: the
 * board finds them (S26).
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { type Delivery, type QueueError, RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import { Monitor } from "@lockstep/monitor"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerError from "effect/http/HttpServerError"
import * as Layer from "effect/Layer"
import * as NetAddress from "effect/net/NetAddress"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import type * as Engine from "./engine.js"

/**
 * Serve the monitor (`Monitor.layer`) for `queue` on `host:port` (0: a free port) until the scope
 * closes; the base URL. A board left open (its event stream) does not hold up the shutdown. With
 * `actions`, the board's buttons act through `admin` (any client of the prefix) for the requests
 * `authorize` approves.
 */
export const serve = (
  queue: SyncFanoutQueue.SyncFanoutQueue["Service"],
  options: {
    readonly port: number
    readonly host: string
    readonly monitor?: Monitor.MonitorOptions
    readonly actions?: {
      readonly admin: RoomAdmin.RoomAdmin["Service"]
      readonly authorize: Monitor.MonitorActions["authorize"]
    }
  }
): Effect.Effect<string, HttpServerError.ServeError | Config.ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const server = NodeHttpServer.layer(createServer, {
      port: options.port,
      host: options.host,
      // an open board's event stream never ends by itself: on shutdown, wait half a second for
      // the requests in progress, then interrupt it (the default waits 20 s)
      gracefulShutdownTimeout: "500 millis"
    })
    const { actions } = options
    const context = yield* (actions === undefined
      ? Layer.build(Monitor.layer(options.monitor).pipe(Layer.provideMerge(server)))
      : Layer.build(
        Monitor.layer({ ...options.monitor, actions: { authorize: actions.authorize } }).pipe(
          Layer.provideMerge(server),
          Layer.provide(Layer.succeed(RoomAdmin.RoomAdmin, actions.admin))
        )
      )).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, queue))
    const address = Context.get(context, HttpServer.HttpServer).address
    return Result.getOrElse(NetAddress.formatUrl(address), () => "http://localhost")
  })

/** The member of `match-2` that holds the room: it acks only when told, or crashes. */
export interface StuckMember {
  readonly clientId: string
  /** ack the message it holds (it then receives, and holds, the next one) */
  readonly ackOne: Effect.Effect<void, QueueError.QueueError>
  /** cut its network: the server ejects it after its `clientTimeout` (S10) */
  readonly cut: Effect.Effect<void>
}

/** Start the traffic: a worker on `match-1`, a stuck member on `match-2`, a producer; `send` sends a round. */
export const traffic = (
  engine: Engine.Engine,
  keyPrefix: string
): Effect.Effect<
  {
    readonly monitor: SyncFanoutQueue.SyncFanoutQueue["Service"]
    readonly send: Effect.Effect<void, QueueError.QueueError>
    readonly stuck: StuckMember
  },
  Engine.ClientError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const monitor = yield* engine.client({ keyPrefix })
    const producer = yield* engine.client({ keyPrefix })
    const worker = yield* engine.client({ keyPrefix })
    const stuck = yield* engine.client({ keyPrefix, clientTimeout: "2 seconds" }, { crashable: true })
    const work = yield* worker.queue.subscribe("match-1")
    yield* work.pipe(Stream.runForEach((d) => Effect.andThen(Effect.sleep("25 millis"), d.ack)), Effect.forkScoped)
    // the stuck member keeps what it receives and acks only when told (ackOne)
    const held = yield* Queue.unbounded<Delivery.Delivery>()
    const stream = yield* stuck.queue.subscribe("match-2")
    yield* stream.pipe(Stream.runForEach((d) => Queue.offer(held, d)), Effect.ignore, Effect.forkScoped)
    const send = Effect.forEach(
      [0, 1, 2, 3, 4, 5],
      (n) =>
        Effect.andThen(
          producer.queue.send("match-1", { move: n }, { priority: n % 3 }),
          producer.queue.send("match-2", { move: n })
        ),
      { discard: true }
    )
    yield* send
    yield* producer.queue.sendOutOfBand("match-1", { notice: "hello" })
    return {
      monitor: monitor.queue,
      send,
      stuck: {
        clientId: stuck.queue.clientId,
        ackOne: Effect.flatMap(Queue.take(held), (d) => d.ack),
        cut: stuck.cut
      }
    }
  })

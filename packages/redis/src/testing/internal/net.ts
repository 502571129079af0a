/**
 * Loopback plumbing of the harness: the address servers bind to, free ports, the live clock,
 * polling until something is ready, and one-off commands to a node.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { Redis } from "ioredis"
import * as Net from "node:net"
import { RedisTestError } from "./errors.js"

/** The loopback address every harness server binds to. */
export const host = "127.0.0.1" as const

/** The system clock: the default of the `Clock` reference, whatever clock the caller runs on. */
const liveClock = Clock.Clock.defaultValue()

/** Run `effect` on the live clock, so the harness works under `TestClock` too. */
export const live = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(effect, Clock.Clock, liveClock)

/**
 * Pick `count` distinct free TCP ports on 127.0.0.1 (never 6379): binds that many servers on
 * port 0 at once, reads their ports and closes them.
 */
export const freePorts = (count: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.callback<ReadonlyArray<number>>((resume) => {
    const servers: Array<Net.Server> = []
    let listening = 0
    let done = false
    const closeAll = (then: () => void) => {
      let pending = servers.length
      if (pending === 0) return then()
      for (const server of servers) {
        server.close(() => {
          pending -= 1
          if (pending === 0) then()
        })
      }
    }
    const onListening = () => {
      listening += 1
      if (listening < count || done) return
      done = true
      const ports = servers.map((server) => {
        const address = server.address()
        return typeof address === "object" && address !== null ? address.port : 0
      })
      closeAll(() => resume(Effect.succeed(ports)))
    }
    const onError = (error: Error) => {
      if (done) return
      done = true
      closeAll(() => resume(Effect.die(error)))
    }
    const open = () => {
      const server = Net.createServer()
      server.on("error", onError)
      servers.push(server)
      server.listen(0, host, onListening)
    }
    if (count <= 0) return resume(Effect.succeed([]))
    for (let i = 0; i < count; i++) open()
    return Effect.sync(() => {
      done = true
      for (const server of servers) server.close()
    })
  }).pipe(
    Effect.filterOrFail(
      (ports) => !ports.includes(6379) && !ports.includes(0),
      () => new Error("free port picker returned a reserved port")
    ),
    Effect.retry({ times: 5 }),
    Effect.orDie
  )

/** Poll `check` every 20 ms until it succeeds, failing with a `Timeout` error after `timeout`. */
export const waitUntil = <A, E>(
  check: Effect.Effect<A, E>,
  options: { readonly timeout: Duration.Input; readonly what: string }
): Effect.Effect<A, RedisTestError> =>
  Effect.flatMap(Ref.make<Option.Option<E>>(Option.none()), (last) =>
    check.pipe(
      Effect.tapError((error) => Effect.andThen(Ref.set(last, Option.some(error)), Effect.sleep(Duration.millis(20)))),
      Effect.eventually,
      Effect.timeoutOrElse({
        duration: options.timeout,
        orElse: () =>
          Effect.fail(
            new RedisTestError({
              reason: "Timeout",
              message: `Timed out after ${
                Duration.format(Duration.fromInputUnsafe(options.timeout))
              } waiting for ${options.what}`
            })
          )
      }),
      Effect.catchTag("RedisTestError", (error) =>
        Effect.flatMap(Ref.get(last), (cause) =>
          Effect.fail(
            Option.isSome(cause)
              ? new RedisTestError({
                reason: error.reason,
                message: `${error.message} (last error: ${
                  cause.value instanceof Error ? cause.value.message : String(cause.value)
                })`,
                cause: cause.value
              })
              : error
          ))),
      live
    ))

/** A reply of {@link command}: strings as they are, integers as decimal strings, nil as `null`. */
export type Reply = string | null

/**
 * Send one command to the node on `port` over a short-lived ioredis connection (no retries, no
 * offline queue, closed afterwards) and return its reply; array replies are refused. For harness
 * health checks, not for production traffic.
 *
 * The connection speaks RESP2 and skips ioredis 6's extra handshake (`HELLO 3`, `CLIENT SETINFO`,
 * `CLIENT MAINT_NOTIFICATIONS`): one round trip per check, replies shaped as RESP2.
 */
export const command = (
  port: number,
  args: readonly [string, ...Array<string>],
  options?: { readonly timeout?: Duration.Input }
): Effect.Effect<Reply, RedisTestError> => {
  const timeout = Duration.fromInputUnsafe(options?.timeout ?? Duration.seconds(1))
  const failed = (message: string, cause?: unknown) =>
    new RedisTestError({ reason: "CommandFailed", message: `${args.join(" ")} on ${host}:${port}: ${message}`, cause })
  const [name, ...rest] = args
  return Effect.acquireUseRelease(
    Effect.sync(() => {
      const client = new Redis({
        host,
        port,
        lazyConnect: true,
        enableOfflineQueue: false,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        connectTimeout: Duration.toMillis(timeout),
        protocol: 2,
        disableClientInfo: true,
        maintNotifications: "disabled"
      })
      // failures surface through the promises below; keep ioredis from logging them
      client.on("error", () => {})
      return client
    }),
    (client) =>
      Effect.tryPromise({
        try: async () => {
          await client.connect()
          return await client.call(name, ...rest)
        },
        catch: (cause) => failed(cause instanceof Error ? cause.message : String(cause), cause)
      }).pipe(
        Effect.flatMap((reply) =>
          reply === null || typeof reply === "string"
            ? Effect.succeed(reply)
            : typeof reply === "number"
            ? Effect.succeed(String(reply))
            : Buffer.isBuffer(reply)
            ? Effect.succeed(reply.toString())
            : Effect.fail(failed("array replies are not supported"))
        )
      ),
    (client) => Effect.sync(() => client.disconnect())
  ).pipe(
    Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.fail(failed("timed out")) }),
    live
  )
}

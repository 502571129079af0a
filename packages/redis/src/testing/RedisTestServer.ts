/**
 * A real `redis-server` process on a free loopback port, for tests.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SynchronizedRef from "effect/SynchronizedRef"
import * as Net from "node:net"

/**
 * Why the test harness could not provide a Redis server.
 *
 * @since 0.1.0
 */
export type RedisTestErrorReason =
  | "NotInstalled"
  | "StartFailed"
  | "Timeout"
  | "ClusterCreateFailed"
  | "InvalidOptions"
  | "CommandFailed"

/**
 * The test harness could not spawn, reach or configure a `redis-server`.
 *
 * @since 0.1.0
 */
export class RedisTestError extends Data.TaggedError("RedisTestError")<{
  readonly reason: RedisTestErrorReason
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * How to install the Redis binaries, quoted in `NotInstalled` errors.
 *
 * @since 0.1.0
 */
export const installHint =
  "Install Redis (server and redis-cli), e.g. `apt-get install redis-server` on Debian/Ubuntu " +
  "or `brew install redis` on macOS, and make sure `redis-server` and `redis-cli` are on PATH."

/**
 * The loopback address every harness server binds to.
 *
 * @since 0.1.0
 */
export const host = "127.0.0.1" as const

/**
 * A running (or stopped, restartable) `redis-server` spawned by the harness.
 *
 * @since 0.1.0
 */
export interface RedisTestServerShape {
  readonly host: typeof host
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** The server's working directory (a scoped temp dir, kept across stop/start). */
  readonly dir: string
  /** SIGTERM the server (SIGKILL after 3 s) and wait for it to exit; no-op when stopped. */
  readonly stop: Effect.Effect<void>
  /** SIGKILL the server (simulates a crash) and wait for it to exit; no-op when stopped. */
  readonly kill: Effect.Effect<void>
  /** Start the server again on the same port and dir and wait until it answers PING; no-op when running. */
  readonly start: Effect.Effect<void, RedisTestError>
}

/**
 * The `redis-server` spawned for the current test scope.
 *
 * @since 0.1.0
 */
export class RedisTestServer extends Context.Tag("@lockstep/redis/testing/RedisTestServer")<
  RedisTestServer,
  RedisTestServerShape
>() {}

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Extra `redis-server` arguments, appended after the harness's own. */
  readonly extraArgs?: ReadonlyArray<string>
  /** Port to use instead of a free one picked by the harness. */
  readonly port?: number
  /** The executable to run (default `redis-server`). */
  readonly executable?: string
  /** How long to wait for the first PONG (default 10 s). */
  readonly startTimeout?: Duration.DurationInput
}

// -----------------------------------------------------------------------------
// helpers shared with RedisTestCluster
// -----------------------------------------------------------------------------

/**
 * Run `effect` on the live clock, so the harness works under `TestClock` too.
 *
 * @since 0.1.0
 */
export const live = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withClock(effect, Clock.make())

/**
 * Pick `count` distinct free TCP ports on 127.0.0.1 (never 6379): binds that many servers on
 * port 0 at once, reads their ports and closes them.
 *
 * @since 0.1.0
 */
export const freePorts = (count: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.async<ReadonlyArray<number>>((resume) => {
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

/**
 * A reply of {@link rawCommand}: simple / bulk strings and integers as strings, nil as `null`.
 *
 * @since 0.1.0
 */
export type RawReply = string | null

const encodeCommand = (args: ReadonlyArray<string>): Buffer => {
  const parts: Array<Buffer> = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const bytes = Buffer.from(arg)
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"))
  }
  return Buffer.concat(parts)
}

type Parsed =
  | { readonly _tag: "Incomplete" }
  | { readonly _tag: "Reply"; readonly value: RawReply }
  | { readonly _tag: "Error"; readonly message: string }

const parseReply = (buffer: Buffer): Parsed => {
  const lineEnd = buffer.indexOf("\r\n")
  if (lineEnd < 0) return { _tag: "Incomplete" }
  const line = buffer.subarray(1, lineEnd).toString()
  switch (String.fromCharCode(buffer[0] ?? 0)) {
    case "+":
    case ":":
      return { _tag: "Reply", value: line }
    case "-":
      return { _tag: "Error", message: line }
    case "$": {
      const length = Number(line)
      if (length < 0) return { _tag: "Reply", value: null }
      const start = lineEnd + 2
      if (buffer.length < start + length + 2) return { _tag: "Incomplete" }
      return { _tag: "Reply", value: buffer.subarray(start, start + length).toString() }
    }
    default:
      return { _tag: "Error", message: `unsupported reply type: ${line.slice(0, 80)}` }
  }
}

/**
 * Send one command over a fresh raw TCP connection and return its reply (simple string,
 * bulk string or integer; arrays are not supported). For harness health checks, not for
 * production traffic.
 *
 * @since 0.1.0
 */
export const rawCommand = (
  port: number,
  args: ReadonlyArray<string>,
  options?: { readonly timeout?: Duration.DurationInput }
): Effect.Effect<RawReply, RedisTestError> =>
  Effect.async<RawReply, RedisTestError>((resume) => {
    const fail = (message: string, cause?: unknown) =>
      resume(
        Effect.fail(
          new RedisTestError({
            reason: "CommandFailed",
            message: `${args.join(" ")} on ${host}:${port}: ${message}`,
            cause
          })
        )
      )
    let settled = false
    let buffer = Buffer.alloc(0)
    const socket = Net.connect({ host, port })
    const settle = (f: () => void) => {
      if (settled) return
      settled = true
      socket.destroy()
      f()
    }
    socket.setNoDelay(true)
    socket.on("connect", () => socket.write(encodeCommand(args)))
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      const parsed = parseReply(buffer)
      if (parsed._tag === "Reply") settle(() => resume(Effect.succeed(parsed.value)))
      else if (parsed._tag === "Error") settle(() => fail(parsed.message))
    })
    socket.on("error", (error) => settle(() => fail(error.message, error)))
    socket.on("close", () => settle(() => fail("connection closed before a reply")))
    return Effect.sync(() => {
      settled = true
      socket.destroy()
    })
  }).pipe(
    Effect.timeoutFail({
      duration: options?.timeout ?? Duration.seconds(1),
      onTimeout: () =>
        new RedisTestError({ reason: "CommandFailed", message: `${args.join(" ")} on ${host}:${port}: timed out` })
    }),
    live
  )

/**
 * Poll `check` every 20 ms until it succeeds, failing with a `Timeout` error after `timeout`.
 *
 * @since 0.1.0
 */
export const waitUntil = <A, E>(
  check: Effect.Effect<A, E>,
  options: { readonly timeout: Duration.DurationInput; readonly what: string }
): Effect.Effect<A, RedisTestError> =>
  Effect.flatMap(Ref.make<Option.Option<E>>(Option.none()), (last) =>
    check.pipe(
      Effect.tapError((error) => Effect.zipRight(Ref.set(last, Option.some(error)), Effect.sleep(Duration.millis(20)))),
      Effect.eventually,
      Effect.timeoutFail({
        duration: options.timeout,
        onTimeout: () =>
          new RedisTestError({
            reason: "Timeout",
            message: `Timed out after ${Duration.format(options.timeout)} waiting for ${options.what}`
          })
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

const isNotFound = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "SystemError" &&
  "reason" in error && error.reason === "NotFound"

/**
 * Map a spawn failure of `executable` to a `RedisTestError` (with install hints for ENOENT).
 *
 * @since 0.1.0
 */
export const spawnError = (executable: string) => (cause: unknown): RedisTestError =>
  isNotFound(cause)
    ? new RedisTestError({
      reason: "NotInstalled",
      message: `\`${executable}\` was not found on PATH. ${installHint}`,
      cause
    })
    : new RedisTestError({
      reason: "StartFailed",
      message: `Could not spawn \`${executable}\`: ${String(cause)}`,
      cause
    })

const OUTPUT_TAIL = 4096

/** Keep the last few KiB of a process's output, for error messages. */
const collectTail = (stream: Stream.Stream<Uint8Array, unknown>, tail: Ref.Ref<string>) => {
  const decoder = new TextDecoder()
  return Stream.runForEach(
    stream,
    (chunk) => Ref.update(tail, (text) => (text + decoder.decode(chunk, { stream: true })).slice(-OUTPUT_TAIL))
  ).pipe(
    Effect.ignore
  )
}

/** SIGTERM, then SIGKILL after `grace`, waiting for the exit each time. */
const terminate = (process: CommandExecutor.Process, signal: "SIGTERM" | "SIGKILL", grace: Duration.DurationInput) =>
  process.isRunning.pipe(
    Effect.flatMap((running) =>
      running
        ? process.kill(signal).pipe(
          Effect.timeout(grace),
          Effect.catchAll(() => process.kill("SIGKILL").pipe(Effect.timeout(grace), Effect.ignore))
        )
        : Effect.void
    ),
    Effect.ignore,
    live
  )

interface Running {
  readonly scope: Scope.CloseableScope
  readonly process: CommandExecutor.Process
}

/**
 * Build a restartable `redis-server` in `dir` on `port`. Nothing runs until `start`; the
 * process is stopped when the enclosing scope closes.
 *
 * @since 0.1.0
 */
export const makeProcess = (options: {
  readonly port: number
  readonly dir: string
  readonly extraArgs?: ReadonlyArray<string>
  readonly executable?: string
  readonly startTimeout?: Duration.DurationInput
}): Effect.Effect<RedisTestServerShape, never, Scope.Scope | CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const { dir, port } = options
    const executable = options.executable ?? "redis-server"
    const startTimeout = options.startTimeout ?? Duration.seconds(10)
    const context = yield* Effect.context<CommandExecutor.CommandExecutor>()
    const state = yield* SynchronizedRef.make(Option.none<Running>())
    const command = Command.make(
      executable,
      "--port",
      String(port),
      "--bind",
      host,
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--daemonize",
      "no",
      ...(options.extraArgs ?? [])
    ).pipe(Command.workingDirectory(dir))

    const spawn = Effect.gen(function*() {
      const scope = yield* Scope.make()
      return yield* Effect.gen(function*() {
        const process = yield* Command.start(command).pipe(
          Scope.extend(scope),
          Effect.mapError(spawnError(executable))
        )
        // runs before Command.start's own finalizer (which only sends SIGTERM and waits)
        yield* Scope.addFinalizer(scope, terminate(process, "SIGTERM", Duration.seconds(3)))
        const output = yield* Ref.make("")
        yield* Effect.forkIn(
          Effect.all([collectTail(process.stdout, output), collectTail(process.stderr, output)], {
            concurrency: "unbounded",
            discard: true
          }),
          scope
        )
        const exited = process.exitCode.pipe(
          Effect.either,
          Effect.flatMap((exit) =>
            Effect.flatMap(Ref.get(output), (text) =>
              Effect.fail(
                new RedisTestError({
                  reason: "StartFailed",
                  message: `redis-server on port ${port} exited during start-up (${
                    exit._tag === "Right" ? `code ${exit.right}` : "killed"
                  }):\n${text.trim()}`
                })
              ))
          )
        )
        const ready = waitUntil(
          Effect.filterOrFail(
            rawCommand(port, ["PING"], { timeout: Duration.millis(500) }),
            (reply) => reply === "PONG"
          ),
          { timeout: startTimeout, what: `redis-server on ${host}:${port} to answer PING` }
        )
        yield* Effect.raceFirst(ready, exited).pipe(
          Effect.tapError(() =>
            Effect.flatMap(
              Ref.get(output),
              (text) => text.length > 0 ? Effect.logDebug(`redis-server ${port} output:\n${text}`) : Effect.void
            )
          )
        )
        return Option.some<Running>({ scope, process })
      }).pipe(
        Effect.provide(context),
        Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
      )
    })

    const start = SynchronizedRef.updateEffect(state, (current) =>
      Option.match(current, {
        onNone: () => spawn,
        onSome: (running) =>
          Effect.flatMap(Effect.orElseSucceed(running.process.isRunning, () => false), (alive) =>
            alive
              ? Effect.succeed(current)
              : Effect.zipRight(Scope.close(running.scope, Exit.void), spawn))
      })).pipe(Effect.withSpan("RedisTestServer.start", { attributes: { port } }))

    const halt = (signal: "SIGTERM" | "SIGKILL") =>
      SynchronizedRef.updateEffect(state, (current) =>
        Option.match(current, {
          onNone: () => Effect.succeed(current),
          onSome: (running) =>
            terminate(running.process, signal, Duration.seconds(3)).pipe(
              Effect.zipRight(Scope.close(running.scope, Exit.void)),
              Effect.as(Option.none<Running>())
            )
        }))

    yield* Effect.addFinalizer(() => halt("SIGTERM"))

    return {
      host,
      port,
      url: `redis://${host}:${port}`,
      dir,
      start,
      stop: halt("SIGTERM").pipe(Effect.withSpan("RedisTestServer.stop", { attributes: { port } })),
      kill: halt("SIGKILL").pipe(Effect.withSpan("RedisTestServer.kill", { attributes: { port } }))
    } satisfies RedisTestServerShape
  })

/**
 * Spawn a `redis-server` on a free loopback port in a scoped temp dir and wait until it
 * answers PING. It is killed and its dir removed when the scope closes.
 *
 * @since 0.1.0
 */
export const make = (
  options?: Options
): Effect.Effect<
  RedisTestServerShape,
  RedisTestError,
  Scope.Scope | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const port = options?.port ?? (yield* freePorts(1))[0] ?? 0
    if (port === 6379) {
      return yield* new RedisTestError({ reason: "InvalidOptions", message: "port 6379 is reserved for real servers" })
    }
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "lockstep-redis-" }).pipe(
      Effect.mapError((cause) =>
        new RedisTestError({ reason: "StartFailed", message: `Could not create a temp dir: ${cause.message}`, cause })
      )
    )
    const server = yield* makeProcess({
      port,
      dir,
      ...(options?.extraArgs !== undefined ? { extraArgs: options.extraArgs } : {}),
      ...(options?.executable !== undefined ? { executable: options.executable } : {}),
      ...(options?.startTimeout !== undefined ? { startTimeout: options.startTimeout } : {})
    })
    yield* server.start
    return server
  }).pipe(Effect.withSpan("RedisTestServer.make"))

/**
 * A layer providing a fresh {@link RedisTestServer} (Node platform services included).
 *
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<RedisTestServer, RedisTestError> =>
  Layer.scoped(RedisTestServer, make(options)).pipe(Layer.provide(NodeContext.layer))

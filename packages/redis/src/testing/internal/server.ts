/**
 * A restartable `redis-server` process: spawn, wait for PING, stop / kill / start again on the
 * same port and dir.
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SynchronizedRef from "effect/SynchronizedRef"
import type { Options, RedisTestServerShape } from "../RedisTestServer.js"
import { RedisTestError, spawnError } from "./errors.js"
import { command, freePorts, host, live, waitUntil } from "./net.js"

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
    const redisServer = Command.make(
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
        const process = yield* Command.start(redisServer).pipe(
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
            command(port, ["PING"], { timeout: Duration.millis(500) }),
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

/** A scoped temp dir for a server's files, its failure mapped to `StartFailed`. */
export const makeTempDir = (
  prefix: string
): Effect.Effect<string, RedisTestError, Scope.Scope | FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.makeTempDirectoryScoped({ prefix }).pipe(
      Effect.mapError((cause) =>
        new RedisTestError({ reason: "StartFailed", message: `Could not create a temp dir: ${cause.message}`, cause })
      )
    ))

/** `RedisTestServer.make`. */
export const make = (
  options?: Options
): Effect.Effect<
  RedisTestServerShape,
  RedisTestError,
  Scope.Scope | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const port = options?.port ?? (yield* freePorts(1))[0] ?? 0
    if (port === 6379) {
      return yield* new RedisTestError({ reason: "InvalidOptions", message: "port 6379 is reserved for real servers" })
    }
    const dir = yield* makeTempDir("lockstep-redis-")
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

/**
 * A restartable `redis-server` process: spawn, wait for PING, stop / kill / start again on the
 * same port and dir.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as ChildProcess from "effect/process/ChildProcess"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SynchronizedRef from "effect/SynchronizedRef"
import type { Options, RedisTestServerShape } from "../RedisTestServer.js"
import { RedisTestError, spawnError } from "./errors.js"
import { command, freePorts, host, waitUntil } from "./net.js"

const OUTPUT_TAIL = 4096

/** How long a SIGTERMed server may take to exit before it is SIGKILLed. */
const STOP_GRACE = Duration.seconds(3)

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

/**
 * Send `signal` and wait for the exit, SIGKILLing after `STOP_GRACE`; a no-op once the process has
 * exited. The spawner waits on the process with native timers, so this works under `TestClock`.
 */
const terminate = (process: ChildProcessSpawner.ChildProcessHandle, signal: "SIGTERM" | "SIGKILL") =>
  process.isRunning.pipe(
    Effect.flatMap((running) =>
      running ? process.kill({ killSignal: signal, forceKillAfter: STOP_GRACE }) : Effect.void
    ),
    Effect.ignore
  )

interface Running {
  readonly scope: Scope.Closeable
  readonly process: ChildProcessSpawner.ChildProcessHandle
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
  readonly startTimeout?: Duration.Input
}): Effect.Effect<RedisTestServerShape, never, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const { dir, port } = options
    const executable = options.executable ?? "redis-server"
    const startTimeout = options.startTimeout ?? Duration.seconds(10)
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    // each run of the process gets a child of this scope: whatever a run leaves open (say, a
    // start interrupted half-way) is closed with the enclosing scope at the latest
    const runs = yield* Scope.fork(yield* Scope.Scope)
    const state = yield* SynchronizedRef.make(Option.none<Running>())
    const redisServer = ChildProcess.make(
      executable,
      [
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
      ],
      // the spawner's own release (scope close, interruption) SIGTERMs, then SIGKILLs after the grace
      { cwd: dir, stdin: "ignore", killSignal: "SIGTERM", forceKillAfter: STOP_GRACE }
    )

    const spawn = Effect.gen(function*() {
      const scope = yield* Scope.fork(runs)
      return yield* Effect.gen(function*() {
        const process = yield* spawner.spawn(redisServer).pipe(
          Scope.provide(scope),
          Effect.mapError(spawnError(executable))
        )
        // both pipes must be drained, or a chatty server blocks on a full pipe
        const output = yield* Ref.make("")
        yield* Effect.forkIn(
          Effect.all([collectTail(process.stdout, output), collectTail(process.stderr, output)], {
            concurrency: "unbounded",
            discard: true
          }),
          scope
        )
        const exited = process.exitCode.pipe(
          Effect.result,
          Effect.flatMap((exit) =>
            Effect.flatMap(Ref.get(output), (text) =>
              Effect.fail(
                new RedisTestError({
                  reason: "StartFailed",
                  message: `redis-server on port ${port} exited during start-up (${
                    Result.isSuccess(exit) ? `code ${exit.success}` : "killed"
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
              : Effect.andThen(Scope.close(running.scope, Exit.void), spawn))
      })).pipe(Effect.withSpan("RedisTestServer.start", { attributes: { port } }))

    const halt = (signal: "SIGTERM" | "SIGKILL") =>
      SynchronizedRef.updateEffect(state, (current) =>
        Option.match(current, {
          onNone: () => Effect.succeed(current),
          onSome: (running) =>
            terminate(running.process, signal).pipe(
              Effect.andThen(Scope.close(running.scope, Exit.void)),
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
  Scope.Scope | FileSystem.FileSystem | ChildProcessSpawner.ChildProcessSpawner
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

/**
 * Spawn `../worker.ts` as a child Node process (`node --import tsx`, workspace packages resolved
 * through `tsconfig.base.json` paths) and follow its JSON-lines output. The child runs on the
 * node binary of this process (`process.execPath`), never on whatever `node` is first on PATH.
 */
import { Duration, Effect, Fiber, type Scope, Stream } from "effect"
import * as ChildProcess from "effect/process/ChildProcess"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { fileURLToPath } from "node:url"

/** The repository root (this file is packages/redis/test/faults/utils/workers.ts). */
export const repoRoot = fileURLToPath(new URL("../../../../../", import.meta.url))

const workerPath = fileURLToPath(new URL("../worker.ts", import.meta.url))

/** One line a worker printed. */
export type WorkerEvent =
  | { readonly event: "ready"; readonly clientId: string; readonly rooms: number }
  | {
    readonly event: "delivery"
    readonly room: string
    readonly id: string
    readonly data: unknown
    readonly kind: "queued" | "out-of-band"
    readonly attempt: number
  }
  | { readonly event: "crashing"; readonly room: string; readonly id: string; readonly attempt: number }
  | { readonly event: "holding"; readonly room: string; readonly id: string }
  | { readonly event: "ejected"; readonly room: string; readonly reason: string }
  | { readonly event: "rejoined"; readonly room: string }
  | { readonly event: "subscribe-failed"; readonly room: string; readonly error: string }
  | { readonly event: "stats"; readonly rss: number; readonly heapUsed: number }
  | { readonly event: "stopped"; readonly clientId: string }
  | { readonly event: "worker-failed"; readonly error: string }

/** An event with the time (ms, `Date.now()` of this process) its line was read. */
export type Timed<E = WorkerEvent> = E & { readonly at: number }

export interface WorkerOptions {
  readonly name: string
  readonly redisUrl: string
  readonly keyPrefix: string
  readonly rooms: ReadonlyArray<string>
  readonly clientTimeout?: Duration.Input
  /** a durable client id (S21–S25, `LOCKSTEP_CLIENT_ID`) */
  readonly clientId?: string
  /** what SIGTERM does to a durable worker's rooms (`LOCKSTEP_ON_CLOSE`) */
  readonly onClose?: "leave" | "detach"
  readonly ackDelayMs?: number
  /** in each room, stop acking after this many acks (the next delivery is held forever) */
  readonly hangAfter?: number
  /** subscribe again after an ejection */
  readonly rejoin?: boolean
  readonly statsMs?: number
  /** SIGKILL itself on a delivery whose data is this value (compared as JSON): a poison message (S28) */
  readonly crashOn?: unknown
  /** run `RoomWorker.make` instead of the hand-written loop (`LOCKSTEP_WORKER_USE_ROOMWORKER`) */
  readonly roomWorker?: boolean
  /** `LOCKSTEP_MAX_DELIVERIES` (S28) */
  readonly maxDeliveries?: number
  /** keep every event in `events` (default true; the soak streams them to `onEvent` instead) */
  readonly keep?: boolean
  readonly onEvent?: (event: Timed) => void
}

export interface Worker {
  readonly name: string
  readonly pid: number
  /** the events seen so far (empty with `keep: false`) */
  readonly events: ReadonlyArray<Timed>
  /** the first event (from the start) satisfying `pred`; dies with the worker's stderr after `timeout` */
  readonly waitFor: <E extends Timed>(
    pred: (event: Timed) => event is E,
    timeout?: Duration.Input
  ) => Effect.Effect<E>
  /** send a signal and wait for the process to exit (SIGKILL after 10 s of a SIGTERM) */
  readonly kill: (signal: "SIGKILL" | "SIGTERM") => Effect.Effect<void>
  /** succeeds with the exit code, or the signal, once the process exited and its output was read */
  readonly exit: Effect.Effect<string>
  /** the last few KiB of stderr (logs) */
  readonly stderr: () => string
}

/** Type guard for `waitFor`: an event of kind `kind` satisfying `pred`. */
export const is = <K extends WorkerEvent["event"]>(
  kind: K,
  pred: (event: Extract<Timed, { event: K }>) => boolean = () => true
) =>
(event: Timed): event is Extract<Timed, { event: K }> =>
  event.event === kind && pred(event as Extract<Timed, { event: K }>)

/** The queued deliveries a worker printed, in order. */
export const queued = (worker: Worker) => worker.events.filter(is("delivery", (e) => e.kind === "queued"))

/** The ids a worker processed (acked, or its handler returned and its RoomWorker acked), in order: its queued deliveries less the ones it holds. */
export const processed = (worker: Worker): ReadonlyArray<string> => {
  const held = new Set(worker.events.filter(is("holding")).map((e) => e.id))
  return queued(worker).map((e) => e.id).filter((id) => !held.has(id))
}

/** The events of trouble (an ejection, a worker that stopped), with the worker's name. */
export const trouble = (workers: ReadonlyArray<Worker>) =>
  workers.flatMap((w) =>
    w.events.filter((e) => e.event === "ejected" || e.event === "worker-failed")
      .map((e) => ({ w: w.name, e }))
  )

/** How long a SIGTERMed worker may take to close its client before it is SIGKILLed. */
const STOP_GRACE = Duration.seconds(10)

/**
 * Spawn a worker in the current scope; it is stopped (SIGTERM to its process group, SIGKILL after
 * `STOP_GRACE`) when the scope closes, if still running.
 */
export const spawnWorker = (
  options: WorkerOptions
): Effect.Effect<Worker, never, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const env: Record<string, string> = {
      TSX_TSCONFIG_PATH: `${repoRoot}tsconfig.base.json`,
      LOCKSTEP_REDIS_URL: options.redisUrl,
      LOCKSTEP_KEY_PREFIX: options.keyPrefix,
      LOCKSTEP_WORKER_ROOMS: JSON.stringify(options.rooms),
      LOCKSTEP_WORKER_ACK_DELAY_MS: String(options.ackDelayMs ?? 0),
      LOCKSTEP_WORKER_REJOIN: String(options.rejoin ?? false),
      LOCKSTEP_WORKER_STATS_MS: String(options.statsMs ?? 0),
      // stdin stays an open pipe: the worker stops when it closes, i.e. when this process dies
      LOCKSTEP_WORKER_EXIT_WITH_PARENT: "1"
    }
    if (options.clientTimeout !== undefined) {
      env.LOCKSTEP_CLIENT_TIMEOUT = `${Duration.toMillis(options.clientTimeout)} millis`
    }
    if (options.hangAfter !== undefined) env.LOCKSTEP_WORKER_HANG_AFTER = String(options.hangAfter)
    if (options.clientId !== undefined) env.LOCKSTEP_CLIENT_ID = options.clientId
    if (options.onClose !== undefined) env.LOCKSTEP_ON_CLOSE = options.onClose
    if (options.crashOn !== undefined) env.LOCKSTEP_WORKER_CRASH_ON = JSON.stringify(options.crashOn)
    if (options.maxDeliveries !== undefined) env.LOCKSTEP_MAX_DELIVERIES = String(options.maxDeliveries)
    if (options.roomWorker === true) env.LOCKSTEP_WORKER_USE_ROOMWORKER = "1"
    const command = ChildProcess.make(process.execPath, ["--import", "tsx", workerPath], {
      cwd: repoRoot,
      env,
      // the rest of this process's environment (PATH, HOME, …) too, as a shell would
      extendEnv: true,
      stdin: "pipe",
      killSignal: "SIGTERM",
      forceKillAfter: STOP_GRACE
    })
    const proc = yield* spawner.spawn(command).pipe(Effect.orDie)
    const keep = options.keep ?? true
    const events: Array<Timed> = []
    const waiters = new Set<() => void>()
    let stderr = ""
    let exited: string | undefined

    const onLine = (line: string) => {
      if (!line.startsWith("{")) return
      let event: Timed
      try {
        event = { ...(JSON.parse(line) as WorkerEvent), at: Date.now() }
      } catch {
        return
      }
      if (keep) events.push(event)
      options.onEvent?.(event)
      for (const wake of [...waiters]) wake()
    }
    const stdoutFiber = yield* proc.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => Effect.sync(() => onLine(line))),
      Effect.ignore,
      Effect.forkScoped
    )
    yield* proc.stderr.pipe(
      Stream.decodeText(),
      Stream.runForEach((text) => Effect.sync(() => (stderr = (stderr + text).slice(-8192)))),
      Effect.ignore,
      Effect.forkScoped
    )
    const exit = proc.exitCode.pipe(
      Effect.map(String),
      // a process that died of a signal has no exit code: the error names the signal
      Effect.catch((e) =>
        Effect.succeed(/\b(SIG[A-Z0-9]+)\b/.exec(`${e.message} ${String(e.cause)}`)?.[1] ?? e.message)
      ),
      // every line is read before the exit is reported
      Effect.tap(Fiber.await(stdoutFiber)),
      Effect.tap((code) => Effect.sync(() => (exited = code)))
    )
    yield* exit.pipe(
      Effect.andThen(Effect.sync(() => {
        for (const wake of [...waiters]) wake()
      })),
      Effect.forkScoped
    )

    const waitFor = <E extends Timed>(
      pred: (event: Timed) => event is E,
      timeout: Duration.Input = "20 seconds"
    ) =>
      Effect.callback<E, Error>((resume) => {
        const check = () => {
          const found = events.find(pred)
          if (found !== undefined) {
            waiters.delete(check)
            resume(Effect.succeed(found))
          } else if (exited !== undefined) {
            waiters.delete(check)
            resume(Effect.fail(new Error(`worker ${options.name} exited (${exited})`)))
          }
        }
        waiters.add(check)
        check()
        return Effect.sync(() => waiters.delete(check))
      }).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () =>
            Effect.fail(
              new Error(
                `worker ${options.name}: no such event within ${Duration.format(Duration.fromInputUnsafe(timeout))}`
              )
            )
        }),
        Effect.catch((e) => Effect.die(new Error(`${e.message}\n--- stderr of ${options.name} ---\n${stderr}`)))
      )

    return {
      name: options.name,
      pid: proc.pid,
      get events() {
        return events
      },
      waitFor,
      kill: (signal) =>
        proc.kill({ killSignal: signal, forceKillAfter: STOP_GRACE }).pipe(
          Effect.ignore,
          Effect.andThen(Effect.ignore(exit))
        ),
      exit,
      stderr: () => stderr
    } satisfies Worker
  })

/**
 * Probes for engine tests on a spawned server: a raw ioredis connection (CLIENT LIST, SCAN,
 * PUBLISH…), a MONITOR recorder with markers to count the commands of exactly one operation, and
 * clients on their own named connections (so CLIENT LIST and MONITOR can tell them apart).
 */
import type { Delivery, QueueConfig, QueueError, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer, type RedisConnection, RedisLayer, type Sharding, ShardLayer } from "@lockstep/redis"
import {
  Config,
  type Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  type LogLevel,
  Queue,
  References,
  Schema,
  Scope,
  Stream
} from "effect"
import { Redis } from "ioredis"
import { createHash } from "node:crypto"
import * as Net from "node:net"
import { operationNamed, operations } from "./operations.js"

/** The name of a lockstep operation (`src/internal/operations/`). */
type ScriptName = string

/** The EVALSHA digest ioredis uses for a lockstep script. */
export const shaOf = (name: ScriptName): string => createHash("sha1").update(operationNamed(name).lua).digest("hex")

/** The script name of a digest, if it is a lockstep script. */
export const scriptOfSha = (sha: string): ScriptName | undefined =>
  [...operations.keys()].find((name) => shaOf(name) === sha)

/** Whether a MONITOR entry is a run of lockstep script `name` (EVALSHA, or EVAL of its body). */
export const isScript = (entry: { readonly command: string; readonly args: ReadonlyArray<string> }, name: ScriptName) =>
  entry.command === "evalsha"
    ? entry.args[1] === shaOf(name)
    : entry.command === "eval" && entry.args[1] === operationNamed(name).lua

/** A plain ioredis connection to the spawned server, closed with the scope. */
export const rawRedis = (port: number, db = 0): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const redis = new Redis({ host: "127.0.0.1", port, db, lazyConnect: true, maxRetriesPerRequest: 1 })
      redis.on("error", () => {})
      await redis.connect()
      return redis
    }),
    (redis) => Effect.promise(() => redis.quit().catch(() => redis.disconnect()))
  )

/** Run one raw command (dies on failure: probes are not under test). */
export const cmd = (redis: Redis, command: string, ...args: Array<string | number>): Effect.Effect<unknown> =>
  Effect.promise(() => redis.call(command, ...args))

/** Every key starting with `prefix` (SCAN, never KEYS). */
export const scanKeys = (redis: Redis, prefix: string): Effect.Effect<ReadonlyArray<string>> =>
  Effect.promise(async () => {
    const keys = new Set<string>()
    let cursor = "0"
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", 1000)
      cursor = next
      for (const key of batch) keys.add(key)
    } while (cursor !== "0")
    return [...keys].sort()
  })

/** One line of CLIENT LIST. */
export interface ClientInfo {
  readonly id: string
  readonly addr: string
  readonly name: string
  readonly user: string
  readonly db: string
  readonly flags: string
}

export const clientList = (redis: Redis): Effect.Effect<ReadonlyArray<ClientInfo>> =>
  Effect.map(
    cmd(redis, "CLIENT", "LIST"),
    (reply) =>
      String(reply).split("\n").filter((line) => line.trim() !== "").map((line) => {
        const fields = new Map<string, string>()
        for (const part of line.trim().split(" ")) {
          const eq = part.indexOf("=")
          if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1))
        }
        return {
          id: fields.get("id") ?? "",
          addr: fields.get("addr") ?? "",
          name: fields.get("name") ?? "",
          user: fields.get("user") ?? "",
          db: fields.get("db") ?? "",
          flags: fields.get("flags") ?? ""
        }
      })
  )

/** Connections currently open under `name` (ioredis `connectionName`). */
export const namedClients = (redis: Redis, name: string): Effect.Effect<ReadonlyArray<ClientInfo>> =>
  Effect.map(clientList(redis), (clients) => clients.filter((c) => c.name === name))

/**
 * The option and the message of a configuration error for a value that was given but is wrong
 * (what `QueueConfig.invalidData` makes: a `Config.ConfigError` whose cause points at the invalid
 * value; Effect 3's `ConfigError.InvalidData`), or `undefined` for any other value.
 */
export const invalidData = (
  error: unknown
): { readonly path: ReadonlyArray<PropertyKey>; readonly message: string } | undefined => {
  if (!(error instanceof Config.ConfigError)) return undefined
  const cause = error.cause
  if (!Schema.isSchemaError(cause) || cause.issue._tag !== "Pointer" || cause.issue.issue._tag !== "InvalidValue") {
    return undefined
  }
  return { path: cause.issue.path, message: String(cause.issue.issue.annotations?.message ?? "") }
}

/** One captured log line: its level (`"Debug"`, `"Info"`, `"Warn"`…) and its message parts joined by spaces. */
export interface LogLine {
  readonly level: LogLevel.LogLevel
  readonly message: string
}

/**
 * Run `effect` with every log line captured instead of printed, from Debug up (also the lines of
 * the fibers it forks, e.g. a connection's background checks, which inherit the loggers).
 */
export const captureLogs = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<readonly [A, ReadonlyArray<LogLine>], E, R> =>
  Effect.gen(function*() {
    const logs: Array<LogLine> = []
    const logger = Logger.make(({ logLevel, message }) => {
      logs.push({ level: logLevel, message: (Array.isArray(message) ? message : [message]).map(String).join(" ") })
    })
    const result = yield* effect.pipe(
      Effect.provideService(References.CurrentLoggers, new Set([logger])),
      Effect.provideService(References.MinimumLogLevel, "Debug")
    )
    return [result, logs] as const
  })

/**
 * The logs of a connection's eviction check (it runs in the background): `logs` once the check
 * said it is done.
 */
export const evictionChecked = (logs: ReadonlyArray<{ readonly message: string }>) =>
  eventually(
    Effect.sync(() => logs),
    (all) => all.some((l) => l.message.includes("maxmemory-policy checked")),
    "the eviction check to finish"
  )

const show = (value: unknown): string => {
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}

/** Poll `check` every 10 ms until it holds; dies after `timeout` with `what`. */
export const eventually = <A>(
  check: Effect.Effect<A>,
  holds: (a: A) => boolean,
  what: string,
  timeout: Duration.Input = "2 seconds"
): Effect.Effect<A> =>
  Effect.suspend(() => {
    let last: { readonly value: A } | undefined
    return check.pipe(
      Effect.tap((a) =>
        Effect.sync(() => {
          last = { value: a }
        })
      ),
      Effect.filterOrFail(holds, () => "not yet" as const),
      Effect.tapError(() => Effect.sleep("10 millis")),
      Effect.eventually,
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.die(
            new Error(
              `timed out after ${Duration.format(Duration.fromInputUnsafe(timeout))}: ${what}` +
                (last === undefined ? "" : ` (last value ${show(last.value)})`)
            )
          )
      })
    )
  })

// -----------------------------------------------------------------------------
// MONITOR
// -----------------------------------------------------------------------------

/** One command seen by MONITOR. `source` is the client address, or "lua" inside a script. */
export interface MonitorEntry {
  readonly time: number
  readonly args: ReadonlyArray<string>
  readonly source: string
  readonly command: string
}

export interface Monitor {
  /**
   * Send a marker (ECHO) and wait until MONITOR shows it; returns its index. Everything a
   * completed operation sent before the marker is recorded before it (MONITOR is in execution order).
   */
  readonly mark: Effect.Effect<number>
  /** Entries strictly between two marks, without Lua-internal commands and the markers' connection. */
  readonly between: (from: number, to: number) => ReadonlyArray<MonitorEntry>
  /** Entries strictly between two marks including the commands scripts ran (source "lua"). */
  readonly withScripts: (from: number, to: number) => ReadonlyArray<MonitorEntry>
  /** Run `effect` between two marks and return its result and the commands it caused. */
  readonly around: <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<{ readonly result: A; readonly commands: ReadonlyArray<MonitorEntry> }, E, R>
  /** Wait until an entry satisfying `pred` is recorded after index `from`; returns its index. */
  readonly await: (
    from: number,
    pred: (entry: MonitorEntry) => boolean,
    timeout: Duration.Input
  ) => Effect.Effect<number>
}

/**
 * One line of MONITOR output (`1700000000.123456 [0 127.0.0.1:5000] "evalsha" "…"`), read as
 * ioredis reads it (arguments split on `" "`, `\\"` unescaped; Redis escapes what is not printable).
 */
const parseMonitorLine = (line: string): MonitorEntry => {
  const space = line.indexOf(" ")
  const quote = line.indexOf("\"")
  const args = line.slice(quote + 1, -1).split("\" \"").map((arg) => arg.replace(/\\"/g, "\""))
  const source = line.slice(space + 2, quote - 2).split(" ")[1] ?? ""
  return { time: Number(line.slice(0, space)), args, source, command: String(args[0] ?? "").toLowerCase() }
}

/**
 * A MONITOR connection of its own (a plain socket speaking RESP2, in the scope) that hands every
 * command the server runs to `onEntry`, from the moment the Effect succeeds. Not ioredis'
 * `monitor()`: it enters monitoring mode only in a promise continuation after the `+OK`, so the
 * lines that arrive in the same chunk as the `+OK` on a busy server are taken for replies to
 * commands it never sent ("Command queue state error", thrown from the socket's data handler).
 */
const monitorSocket = (
  port: number,
  onEntry: (entry: MonitorEntry) => void
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.acquireRelease(
    Effect.callback<Net.Socket>((resume) => {
      const socket = Net.connect({ host: "127.0.0.1", port })
      socket.setEncoding("utf8")
      let monitoring = false
      let buffered = ""
      socket.on("error", (error) => {
        if (!monitoring) resume(Effect.die(error))
      })
      socket.on("data", (chunk: string) => {
        buffered += chunk
        let end = buffered.indexOf("\r\n")
        while (end >= 0) {
          const line = buffered.slice(0, end)
          buffered = buffered.slice(end + 2)
          end = buffered.indexOf("\r\n")
          if (monitoring) {
            if (line.startsWith("+")) onEntry(parseMonitorLine(line.slice(1)))
          } else if (line === "+OK") {
            monitoring = true
            resume(Effect.succeed(socket))
          } else {
            resume(Effect.die(new Error(`MONITOR refused: ${line}`)))
          }
        }
      })
      socket.write("MONITOR\r\n")
      return Effect.sync(() => socket.destroy())
    }),
    (socket) => Effect.sync(() => socket.destroy())
  ))

export const monitor = (port: number): Effect.Effect<Monitor, never, Scope.Scope> =>
  Effect.gen(function*() {
    const marker = yield* rawRedis(port)
    const markerAddr = yield* Effect.map(cmd(marker, "CLIENT", "INFO"), (info) =>
      /addr=(\S+)/.exec(String(info))?.[1] ?? "")
    const entries: Array<MonitorEntry> = []
    const waiters = new Set<() => void>()
    yield* monitorSocket(port, (entry) => {
      entries.push(entry)
      for (const wake of [...waiters]) {
        wake()
      }
    })

    const awaitEntry = (from: number, pred: (entry: MonitorEntry) => boolean, timeout: Duration.Input) =>
      Effect.callback<number>((resume) => {
        const check = () => {
          for (let i = from + 1; i < entries.length; i++) {
            if (pred(entries[i]!)) {
              waiters.delete(check)
              resume(Effect.succeed(i))
              return
            }
          }
        }
        waiters.add(check)
        check()
        return Effect.sync(() =>
          waiters.delete(check)
        )
      }).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () =>
            Effect.die(
              new Error(
                `MONITOR did not show the expected command within ${Duration.format(Duration.fromInputUnsafe(timeout))}`
              )
            )
        })
      )

    let marks = 0
    const mark = Effect.suspend(() => {
      const token = `lockstep-mark-${++marks}-${Math.random().toString(36).slice(2)}`
      return Effect.promise(() => marker.echo(token)).pipe(
        Effect.andThen(awaitEntry(-1, (e) => e.command === "echo" && e.args[1] === token, "2 seconds"))
      )
    })
    const between = (from: number, to: number) =>
      entries.slice(from + 1, to).filter((e) => e.source !== "lua" && e.source !== markerAddr)
    const around = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const from = yield* mark
        const result = yield* effect
        const to = yield* mark
        return { result, commands: between(from, to) }
      })
    const withScripts = (from: number, to: number) => entries.slice(from + 1, to).filter((e) => e.source !== markerAddr)
    return { mark, between, withScripts, around, await: awaitEntry } satisfies Monitor
  })

/** A short description of commands for assertion messages: `evalsha(send) subscribe`. */
export const describeCommands = (commands: ReadonlyArray<MonitorEntry>): string =>
  commands.map((c) => c.command === "evalsha" ? `evalsha(${scriptOfSha(c.args[1] ?? "") ?? c.args[1]})` : c.command)
    .join(" ")

// -----------------------------------------------------------------------------
// clients
// -----------------------------------------------------------------------------

export type EngineContext = Context.Context<RedisConnection.RedisConnection | Sharding.Sharding>
export type Queue_ = SyncFanoutQueue.SyncFanoutQueue["Service"]

/** One RedisConnection (command + subscriber connection) named `name`, in the current scope. */
export const connect = (
  port: number,
  name: string,
  options?: Omit<RedisLayer.RedisOptions, "host" | "port">
): Effect.Effect<EngineContext, never, Scope.Scope> =>
  Layer.build(
    Layer.merge(
      ShardLayer.single,
      RedisLayer.layer({ ...options, host: "127.0.0.1", port, ioredis: { ...options?.ioredis, connectionName: name } })
    )
  ).pipe(Effect.orDie)

/** A lockstep client on `context`, in the current scope. */
export const makeClient = (
  context: EngineContext,
  config: QueueConfig.QueueConfig
): Effect.Effect<Queue_, never, Scope.Scope> => ClientLayer.make(config).pipe(Effect.provide(context), Effect.orDie)

/** A subscription whose deliveries are pulled one by one, with its own closeable scope. */
export interface Sub {
  readonly next: (timeout?: Duration.Input) => Effect.Effect<Delivery.Delivery>
  /** the stream's end: succeeds on a normal end, fails with the ejection */
  readonly done: Deferred.Deferred<void, QueueError.ClientEjected>
  /** close the subscription's scope (leave the room, S6) */
  readonly close: Effect.Effect<void>
}

export const subscribe = (
  queue: Queue_,
  room: string,
  options?: { readonly mode?: "sync" | "async" }
): Effect.Effect<Sub, QueueError.QueueError, Scope.Scope> =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    const scope = yield* Scope.fork(parent, "sequential")
    const stream = yield* queue.subscribe(room, options).pipe(
      Scope.provide(scope),
      Effect.onError(() => Scope.close(scope, Exit.void))
    )
    const inbox = yield* Queue.unbounded<Delivery.Delivery>()
    const done = yield* Deferred.make<void, QueueError.ClientEjected>()
    const fiber = yield* stream.pipe(
      Stream.runForEach((d) => Queue.offer(inbox, d)),
      Effect.exit,
      Effect.flatMap((exit) => Deferred.done(done, exit)),
      Effect.forkIn(scope)
    )
    return {
      next: (timeout = "3 seconds") =>
        Queue.take(inbox).pipe(
          Effect.timeoutOrElse({
            duration: timeout,
            orElse: () =>
              Effect.die(
                new Error(
                  `no delivery on ${JSON.stringify(room)} within ${Duration.format(Duration.fromInputUnsafe(timeout))}`
                )
              )
          })
        ),
      done,
      close: Scope.close(scope, Exit.void).pipe(Effect.andThen(Fiber.await(fiber)), Effect.asVoid)
    } satisfies Sub
  })

let prefixes = 0

/** A key prefix unique to this process and call (S19). */
export const freshPrefix = (label: string): string => `${label}${process.pid}-${++prefixes}`

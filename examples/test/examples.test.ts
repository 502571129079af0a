/**
 * Every example runs here as a child process (`node --import tsx src/<example>.ts`, with the
 * workspace paths of tsconfig.base.json) and its output is checked, so the examples cannot rot.
 * They spawn their own redis-server / cluster through `@lockstep/redis/testing`.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as PlatformError from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Stream from "effect/Stream"
import { mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const examplesDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const tsconfig = path.resolve(examplesDir, "../tsconfig.base.json")

interface Output {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

interface RunOptions {
  readonly env?: Record<string, string>
  readonly timeout?: Duration.Input
  /** send SIGINT once stdout contains this */
  readonly interruptWhen?: string
}

const command = (example: string, env: Record<string, string> = {}) =>
  ChildProcess.make(process.execPath, ["--import", "tsx", `src/${example}.ts`], {
    cwd: examplesDir,
    // LOCKSTEP_REDIS_URL is cleared so every example spawns its own server
    env: { TSX_TSCONFIG_PATH: tsconfig, NO_COLOR: "1", LOCKSTEP_REDIS_URL: "", ...env },
    extendEnv: true,
    stdin: "ignore",
    // should the test end first (a timeout): SIGTERM, then SIGKILL if it does not stop
    forceKillAfter: "10 seconds"
  })

/** Run an example to completion (or interrupt it), collecting its output. */
const run = (
  example: string,
  options: RunOptions = {}
): Effect.Effect<Output, PlatformError.PlatformError | Error, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.scoped(Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const child = yield* spawner.spawn(command(example, options.env))
    let stdout = ""
    let stderr = ""
    const seen = yield* Deferred.make<void>()
    const out = child.stdout.pipe(
      Stream.decodeText(),
      Stream.runForEach((chunk) =>
        Effect.suspend(() => {
          stdout += chunk
          return options.interruptWhen !== undefined && stdout.includes(options.interruptWhen)
            ? Deferred.succeed(seen, undefined)
            : Effect.void
        })
      )
    )
    const err = child.stderr.pipe(
      Stream.decodeText(),
      Stream.runForEach((chunk) => Effect.sync(() => stderr += chunk))
    )
    if (options.interruptWhen !== undefined) {
      yield* Deferred.await(seen).pipe(
        Effect.andThen(Effect.sleep("500 millis")),
        Effect.andThen(child.kill({ killSignal: "SIGINT", forceKillAfter: "20 seconds" })),
        Effect.forkScoped
      )
    }
    const [exitCode] = yield* Effect.all([child.exitCode, out, err], { concurrency: "unbounded" }).pipe(
      Effect.timeoutOrElse({
        duration: options.timeout ?? "60 seconds",
        orElse: () =>
          Effect.fail(new Error(`${example} did not finish in time; stdout so far:\n${stdout}\nstderr:\n${stderr}`))
      })
    )
    return { stdout, stderr, exitCode }
  }))

const expectSuccess = (output: Output) => {
  if (output.exitCode !== 0) {
    throw new Error(`exit code ${output.exitCode}\nstdout:\n${output.stdout}\nstderr:\n${output.stderr}`)
  }
}

/** The "room" row of the demo's summary table: messages, msgs/s. */
const roomRow = (stdout: string) => {
  const match = /^room\s+(\d+)\s+([\d.]+)\s+(\S+ m?s)\s+(\S+ m?s)\s+ejections: (\d+)/m.exec(stdout)
  if (match === null) throw new Error(`no summary row in:\n${stdout}`)
  return { messages: Number(match[1]), rate: Number(match[2]), ejections: Number(match[5]) }
}

/** A summary row of an edge: its messages. */
const edgeMessages = (stdout: string, edge: string) => {
  const match = new RegExp(`^${edge}\\s+~\\d+ ms\\s+(\\d+)\\s`, "m").exec(stdout)
  if (match === null) throw new Error(`no summary row of ${edge} in:\n${stdout}`)
  return Number(match[1])
}

/**
 * The demo's poison story and its summary: edge-slow's handler crashes its process on the poison
 * message for attempts 1, 2 and 3, each time started again under its id (S22, S27); the fourth
 * process gets the next message, the poison is a dead letter of edge-slow (S28), listed with its
 * data, member, attempts and reason (S29); every edge processed the same list, less that letter.
 */
const expectPoisonStory = (stdout: string) => {
  const poison =
    /☠ the producer sent (#\d+) \{"kind":"order","sku":"☠ a malformed order"\} \(p1 order\): edge-slow's handler/
      .exec(stdout)?.[1]
  expect(poison, stdout).toBeDefined()
  const crashes = [...stdout.matchAll(/✖ edge-slow's handler crashed its process on (#\d+) ☠ \(attempt (\d+)\)/g)]
    .map((m) => [m[1], Number(m[2])])
  expect(crashes, stdout).toEqual([[poison, 1], [poison, 2], [poison, 3]])
  expect(stdout.match(/↻ edge-slow started again under its id after 900 ms: it resumed its membership \(S22\)/g))
    .toHaveLength(3)
  expect(stdout).toMatch(
    new RegExp(
      `→ the room moved on: edge-slow got #\\d+, not ${poison}: attempt 4 would exceed maxDeliveries 3, so the ` +
        `server dead-lettered ${poison} for edge-slow after 3 attempts \\(reason max-deliveries, S28\\)`
    )
  )
  // the summary (a live status block has rows like the summary's)
  const summary = stdout.slice(stdout.lastIndexOf("\nsummary"))
  const row = roomRow(summary)
  expect(row.messages).toBeGreaterThan(0)
  expect(row.rate).toBeGreaterThan(0)
  expect(row.ejections).toBe(0)
  expect(edgeMessages(summary, "edge-fast")).toBe(row.messages)
  expect(edgeMessages(summary, "edge-steady")).toBe(row.messages)
  expect(edgeMessages(summary, "edge-slow")).toBe(row.messages - 1)
  expect(summary).toMatch(new RegExp(`^edge-slow .* crashed 3× on ${poison}, back under its id each time$`, "m"))
  expect(summary).toContain(
    "lock-step     ✓ every edge processed the same messages in the same order (less its dead letters); 0 times"
  )
  expect(summary).toMatch(
    new RegExp(
      `^durable {7}✓ edge-slow crashed 3 times \\(attempts 1, 2, 3 of ${poison}\\) and came back under its id ` +
        `each time \\(S22, S27\\); then the room moved on with it, at #\\d+$`,
      "m"
    )
  )
  expect(summary).toContain(
    `dead letters  1 in room "match-1", newest first (RoomAdmin.deadLetters, S29):\n` +
      `              ${poison} {"kind":"order","sku":"☠ a malformed order"} · member edge-slow · attempts 3 · ` +
      "reason max-deliveries\n"
  )
  expect(summary).toMatch(
    new RegExp(
      `^delivery {6}✓ all ${row.messages} messages reached every live edge \\(edge-slow: all but its dead ` +
        `letter ${poison}\\)$`,
      "m"
    )
  )
}

const refusesConnections = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
    socket.once("error", () => resume(Effect.succeed(true)))
    return Effect.sync(() => socket.destroy())
  })

const live = <A, E>(
  name: string,
  effect: () => Effect.Effect<A, E, ChildProcessSpawner.ChildProcessSpawner>,
  timeout = 90_000
) => it.live(name, () => effect().pipe(Effect.provide(NodeServices.layer)), timeout)

describe("examples", () => {
  describe("demo", () => {
    live(
      "runs on a spawned redis-server: lock-step, a broadcast, a poison message that crash-loops a RoomWorker edge " +
        "until maxDeliveries dead-letters it (S22, S27, S28), the letter listed (S29), a summary",
      () =>
        Effect.gen(function*() {
          const output = yield* run("demo", { env: { DEMO_SECONDS: "6" } })
          expectSuccess(output)
          const { stdout } = output
          expect(stdout).toContain("engine: Redis: a redis-server spawned on 127.0.0.1:")
          expect(stdout).toMatch(/out-of-band "maintenance at 03:00 UTC" reached 3\/3 live edges/)
          expectPoisonStory(stdout)
          expect(stdout).toMatch(/stopped the spawned redis-server on port \d+/)
        })
    )

    live(
      "falls back to the in-memory engine when redis-server is not installed (live display forced)",
      () =>
        Effect.gen(function*() {
          // a PATH without redis-server (node is started by absolute path)
          const emptyPath = mkdtempSync(path.join(os.tmpdir(), "lockstep-no-redis-"))
          const output = yield* run("demo", { env: { DEMO_SECONDS: "5", PATH: emptyPath, DEMO_LIVE: "1" } }).pipe(
            Effect.ensuring(Effect.sync(() => rmSync(emptyPath, { recursive: true, force: true })))
          )
          expectSuccess(output)
          // the status block was drawn and redrawn in place (cursor up, clear to end)
          expect(output.stdout).toContain("Ctrl-C stops cleanly")
          expect(output.stdout).toMatch(/\u001b\[\d+F\u001b\[J/)
          expect(output.stdout).toContain("engine: in-memory engine (no redis-server on PATH")
          expect(output.stdout).toContain("running on the in-memory engine")
          expectPoisonStory(output.stdout)
        })
    )

    live(
      "stops cleanly on Ctrl-C (SIGINT) while the poisoned edge is down: partial summary, spawned redis-server stopped",
      () =>
        Effect.gen(function*() {
          const output = yield* run("demo", {
            env: { DEMO_SECONDS: "8" },
            // half a second after the first crash: the edge is down (for 0.9 s), its supervisor waiting
            interruptWhen: "✖ edge-slow's handler crashed its process",
            timeout: "30 seconds"
          })
          const { stdout } = output
          expect(stdout).toContain("interrupted: closing every scope")
          expect(stdout).toContain("summary (interrupted)")
          expect(stdout).toMatch(/^edge-slow .* crashed 1× on #\d+, not back yet$/m)
          expect(stdout).toMatch(
            /^durable {7}– edge-slow crashed once \(attempts 1 of #\d+\); down when the demo stopped$/m
          )
          expect(stdout).toContain(`dead letters  0 in room "match-1"`)
          const port = /stopped the spawned redis-server on port (\d+)/.exec(stdout)?.[1]
          expect(port, stdout).toBeDefined()
          expect(yield* refusesConnections(Number(port))).toBe(true)
        })
    )
  })

  live("standalone: priorities, ack, out-of-band, peek, roomState", () =>
    Effect.gen(function*() {
      const output = yield* run("standalone")
      expectSuccess(output)
      const { stdout } = output
      expect(stdout).toContain(
        "peek  4 queued (not yet released), in delivery order: order 4 (p0), order 2 (p1), order 3 (p1), order 5 (p9)"
      )
      const got = stdout.split("\n").filter((l) => l.startsWith("got "))
      expect(got.map((l) => /\{"(order|notice)":("?[\w ]+"?)\}/.exec(l)?.[2])).toEqual([
        "1",
        "\"prices change at noon\"",
        "4",
        "2",
        "3",
        "5"
      ])
      expect(stdout).toContain("state backlog 0, in flight nothing")
      expect(stdout).toContain("consumer metrics: received 6, invalid 0")
      expect(stdout).toMatch(/stopped the spawned redis-server on port \d+/)
    }))

  live("sharded: 3-master cluster, 16 shards, several rooms in lock-step", () =>
    Effect.gen(function*() {
      const output = yield* run("sharded")
      expectSuccess(output)
      const { stdout } = output
      expect(stdout).toContain("7 rooms on 16 shards")
      const masters = new Set(
        [...stdout.matchAll(/^\S+\s+\d+\s+\{t\d+\}\s+\d+\s+(127\.0\.0\.1:\d+)$/gm)].map((m) => m[1])
      )
      expect(masters.size).toBeGreaterThanOrEqual(2)
      expect(stdout.match(/p4 p0 p1 p2 p3 {3}✓ same order at both consumers/g)?.length).toBe(7)
      expect(stdout).toContain("35 messages × 2 consumers")
    }))

  live("proxy: local clients share one upstream member and ack", () =>
    Effect.gen(function*() {
      const output = yield* run("proxy")
      expectSuccess(output)
      const { stdout } = output
      expect(stdout).toMatch(/the engine sees 1 sync member in "match"/)
      const lines = stdout.split("\n")
      const index = (text: string) => lines.findIndex((l) => l.includes(text))
      for (const who of ["alice", "bob", "carol"]) {
        for (const move of [1, 2, 3]) expect(index(`${who.padEnd(5)} got  match/"move ${move}"`)).toBeGreaterThan(-1)
      }
      // the slowest local client paces the room
      expect(index(`carol acked match/"move 1"`)).toBeLessThan(index(`alice got  match/"move 2"`))
      expect(index(`carol acked match/"move 2"`)).toBeLessThan(index(`alice got  match/"move 3"`))
      expect(index(`alice got  lobby/"welcome"`)).toBeGreaterThan(-1)
    }))

  live("typed: schema encode/decode, an undecodable message counted as invalid", () =>
    Effect.gen(function*() {
      const output = yield* run("typed")
      expectSuccess(output)
      const { stdout } = output
      expect(stdout).toContain("refused order 3 (nothing sent): InvalidArgument")
      expect(stdout).toMatch(/got {3}order 1: 2 × espresso, .*\(decoded: an Order, placedAt a Date\)/)
      expect(stdout).toMatch(/got {3}order 4: 1 × croissant/)
      expect(stdout).not.toMatch(/got {3}order two/)
      expect(stdout).toMatch(/consumer metrics: received \d+, invalid 1/)
      expect(stdout).toContain("lockstep_messages_invalid_total = 1")
      expect(stdout).toContain("backlog 0, the undecodable message did not stall it")
    }))

  live(
    "monitor: @lockstep/monitor's /rooms, /rooms/:room and /metrics (the board: monitor.board.test.ts)",
    () =>
      Effect.gen(function*() {
        const output = yield* run("monitor")
        expectSuccess(output)
        const { stdout } = output
        expect(stdout).toMatch(/serving on http:\/\/127\.0\.0\.1:\d+: the board at/)
        const rooms = /GET \S+\/rooms\n(\{[\s\S]*?\n\})\n/.exec(stdout)?.[1]
        expect(rooms, stdout).toBeDefined()
        const body = JSON.parse(rooms!) as {
          rooms: Array<{ room: string; backlog: number; members: Array<{ id: string; acked: boolean }> }>
          cursor: string | null
        }
        // discovered, not configured (S26)
        expect(body.rooms.map((r) => r.room).sort()).toEqual(["match-1", "match-2"])
        expect(body.cursor).toBeNull()
        const stalled = body.rooms.find((r) => r.room === "match-2")!
        expect(stalled.backlog).toBeGreaterThan(0)
        expect(stalled.members).toHaveLength(1)
        expect(stalled.members[0]!.acked).toBe(false)
        const room = /GET \S+\/rooms\/match-2\?peek=2\n(\{[\s\S]*?\n\})\n/.exec(stdout)?.[1]
        expect(room, stdout).toBeDefined()
        expect((JSON.parse(room!) as { next: Array<unknown> }).next).toHaveLength(2)
        expect(stdout).toContain("# TYPE lockstep_messages_received_total counter")
        // (no labels since effect's PrometheusMetrics: the OpenTelemetry exporter added otel_scope_name)
        expect(stdout).toMatch(/^lockstep_messages_received_total(\{[^}]*\})? [1-9]\d*$/m)
        expect(stdout).toMatch(/^lockstep_messages_invalid_total(\{[^}]*\})? 0$/m)
        expect(stdout).toContain("# TYPE lockstep_delivery_latency_ms histogram")
        expect(stdout).toMatch(/^lockstep_delivery_latency_ms_bucket\{[^}]*le="\+Inf"\} [1-9]\d*$/m)
        expect(stdout).toMatch(/^lockstep_delivery_latency_ms_count(\{[^}]*\})? [1-9]\d*$/m)
      })
  )
})

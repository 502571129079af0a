/**
 * The monitor's JSON and Prometheus endpoints, served on a free port over the memory engine and
 * read with effect's `HttpClient`; the SSE stream read until its first snapshot, and released when
 * its client goes away; an engine failure over a spawned Redis.
 * (The board itself is driven in a real browser by examples/test/monitor.board.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { MemoryLayer, QueueError, SyncFanoutQueue } from "@lockstep/core"
import { Monitor } from "@lockstep/monitor"
import { ClientLayer } from "@lockstep/redis"
import { RedisTestServer } from "@lockstep/redis/testing"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import type { Server } from "node:http"
import { promisify } from "node:util"
import * as Serve from "./utils/serve.js"

interface RoomJson {
  readonly room: string
  readonly backlog: number
  readonly members: ReadonlyArray<{ readonly id: string; readonly acked: boolean }>
  readonly inFlight: { readonly id: string; readonly ageMs: number } | null
}

interface BoardJson {
  readonly rooms: Array<RoomJson>
  readonly stalled: Array<{ readonly room: string; readonly waitingFor: Array<string> }>
}

type Queue = SyncFanoutQueue.SyncFanoutQueue["Service"]

/** Serve `app` for `queue` on a free loopback port until the scope closes (see `utils/serve.ts`). */
const serve = (
  queue: Queue,
  app: Layer.Layer<never, Config.ConfigError, HttpServer.HttpServer | SyncFanoutQueue.SyncFanoutQueue>
) => Serve.serve(app, Context.make(SyncFanoutQueue.SyncFanoutQueue, queue))

/**
 * Three clients on one broker: a holder of `held` that never acks, a producer, the monitor's own;
 * the monitor served for the last (by `app`, default `Monitor.layer`).
 */
const fixture = (
  options: {
    readonly monitor?: Monitor.MonitorOptions
    readonly app?: (
      options: Monitor.MonitorOptions
    ) => Layer.Layer<never, Config.ConfigError, HttpServer.HttpServer | SyncFanoutQueue.SyncFanoutQueue>
    /** what the monitor reads instead of its client (e.g. the client with its calls counted) */
    readonly wrap?: (queue: Queue) => Queue
  } = {}
) =>
  Effect.gen(function*() {
    const broker = yield* MemoryLayer.makeBroker
    const client = (keyPrefix: string) =>
      MemoryLayer.make({ keyPrefix }).pipe(Effect.provideService(MemoryLayer.MemoryBroker, broker))
    const holder = yield* client("t")
    const producer = yield* client("t")
    const queue = yield* client("t")
    yield* holder.subscribe("held")
    yield* holder.subscribe("quiet room/with spaces")
    yield* Effect.forEach([1, 2, 3], (n) => producer.send("held", { n }), { discard: true })
    yield* producer.send("backlog-only", { n: 0 }) // no member: released to nobody (S7), not active
    const app = (options.app ?? Monitor.layer)({ stalledAfter: "0 millis", ...options.monitor })
    const served = yield* serve(options.wrap === undefined ? queue : options.wrap(queue), app)
    return { ...served, holder, producer, queue }
  })

/** The `data:` lines of an event stream (`http` attached to the current scope: closing it hangs up). */
const events = (http: HttpClient.HttpClient, url: string) =>
  Effect.map(
    HttpClient.withScope(http).get(url),
    (response) => ({
      response,
      data: response.stream.pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.filter((line) => line.startsWith("data: ")),
        Stream.map((line) => JSON.parse(line.slice(6)) as unknown)
      )
    })
  )

/** Open sockets of a Node server. */
const connections = (server: Server) =>
  Effect.callback<number>((resume) => {
    server.getConnections((error, count) => resume(error ? Effect.die(error) : Effect.succeed(count)))
  })

const execFileAsync = promisify(execFile)

/** Room names that are markup, break lines, quote, escape or look like URL syntax (S1: all valid). */
const hostileRooms = [
  `<img src=x onerror="alert(1)"><b>bold</b>`,
  `</script><script>alert("x")</script>`,
  `line one\nline two\r\n\r\ndata: {"rooms":[]}\n\n`,
  `quote " backslash \\ apostrophe ' ampersand &amp;`,
  `100% a/b?c=d&e#f %2F ..`
]

/**
 * A line-by-line check of the Prometheus text format 0.0.4: `# HELP name text` (only `\\` and
 * `\n` escaped), `# TYPE name type`, and samples `name{label="value",...} value [timestamp]`
 * whose label values escape only `\\`, `\"` and `\n`; each sample after the TYPE of its family.
 * The failures, one per bad line (empty when the text is valid).
 */
const prometheusErrors = (text: string): Array<string> => {
  const name = "[a-zA-Z_:][a-zA-Z0-9_:]*"
  const labelValue = `"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`
  const label = `[a-zA-Z_][a-zA-Z0-9_]*=${labelValue}`
  const value = `(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]?Inf|NaN)`
  const help = new RegExp(`^# HELP (${name})(?: (?:[^\\\\\\n]|\\\\[\\\\n])*)?$`)
  const type = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`)
  const sample = new RegExp(`^(${name})(?:\\{(?:${label}(?:,${label})*,?)?\\})? ${value}(?: -?\\d+)?$`)
  const errors: Array<string> = []
  if (!text.endsWith("\n")) errors.push("the text does not end with a line feed")
  const types = new Map<string, string>()
  for (const line of text.slice(0, -1).split("\n")) {
    const t = type.exec(line)
    if (t !== null) {
      if (types.has(t[1]!)) errors.push(`a second TYPE for ${t[1]}`)
      types.set(t[1]!, t[2]!)
      continue
    }
    if (help.test(line) || line === "") continue
    const s = sample.exec(line)
    if (s === null) {
      errors.push(`not a HELP, TYPE or sample line: ${JSON.stringify(line)}`)
      continue
    }
    const family = [
      s[1]!,
      ...["_bucket", "_sum", "_count", "_total"].flatMap((suffix) =>
        s[1]!.endsWith(suffix) ? [s[1]!.slice(0, -suffix.length)] : []
      )
    ].find((f) => types.has(f))
    if (family === undefined) errors.push(`a sample without a TYPE before it: ${JSON.stringify(line)}`)
  }
  return errors
}

/** The label values of the samples of `metric`, unescaped as a Prometheus parser reads them. */
const labelValues = (text: string, metric: string, label: string): Array<string> =>
  text.split("\n").flatMap((line) => {
    if (!line.startsWith(`${metric}{`)) return []
    const match = new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`).exec(line)
    return match === null ? [] : [match[1]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))]
  })

/** One server-sent event: its type (`message` unless named) and its data, parsed as JSON. */
interface SseEvent {
  readonly event: string
  readonly data: unknown
}

/** The events of an event stream's bytes (comments and `retry:` skipped). */
const sseEvents = <E>(bytes: Stream.Stream<Uint8Array, E>): Stream.Stream<SseEvent, E> =>
  bytes.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.mapAccum(
      () => ({ event: "message", data: [] as ReadonlyArray<string> }),
      (state, line): readonly [{ event: string; data: ReadonlyArray<string> }, ReadonlyArray<SseEvent>] => {
        if (line === "") {
          const done = state.data.length === 0 ? [] : [{ event: state.event, data: JSON.parse(state.data.join("\n")) }]
          return [{ event: "message", data: [] }, done]
        }
        if (line.startsWith("event: ")) return [{ ...state, event: line.slice(7) }, []]
        if (line.startsWith("data: ")) return [{ ...state, data: [...state.data, line.slice(6)] }, []]
        return [state, []]
      }
    )
  )

/**
 * Open a board's event stream (a connection of the current scope: closing it hangs up) and read
 * it in the background; its events arrive in the queue.
 */
const openBoard = (http: HttpClient.HttpClient, url: string) =>
  Effect.gen(function*() {
    const response = yield* HttpClient.withScope(http).get(url)
    const received = yield* Queue.unbounded<SseEvent>()
    yield* sseEvents(response.stream).pipe(Stream.runForEach((e) => Queue.offer(received, e)), Effect.forkScoped)
    return received
  })

/** The next board snapshot of a board's events (failing the test on a `failure` event). */
const nextBoard = (received: Queue.Queue<SseEvent>) =>
  Effect.map(Queue.take(received), (e) => {
    expect(e.event).toBe("message")
    return e.data as BoardJson
  })

/** `queue` with its `metrics` calls (one per board snapshot) counted in `calls`. */
const countingMetrics = (calls: { count: number }) => (queue: Queue): Queue => ({
  ...queue,
  metrics: (options) =>
    Effect.suspend(() => {
      calls.count++
      return queue.metrics(options)
    })
})

/** The option a `ConfigError` names (`QueueConfig.invalidData`: an invalid value at a path). */
const configErrorPath = (error: Config.ConfigError) => {
  const cause = error.cause
  return Schema.isSchemaError(cause) && cause.issue._tag === "Pointer" ? cause.issue.path : undefined
}

/**
 * A memory client whose `rooms` walk number n (from 1) hangs until interrupted when `hangs(n)`,
 * and says so: `polling` once one hangs, `released` once it is interrupted. One room has a backlog
 * and no member: nothing is active, but the walk runs.
 */
const hangingWalks = (hangs: (walk: number) => boolean) =>
  Effect.gen(function*() {
    const broker = yield* MemoryLayer.makeBroker
    const queue = yield* MemoryLayer.make({ keyPrefix: "t" }).pipe(
      Effect.provideService(MemoryLayer.MemoryBroker, broker)
    )
    yield* queue.send("r", 1)
    const polling = yield* Deferred.make<void>()
    const released = yield* Deferred.make<void>()
    const walks = { count: 0 }
    const watched: Queue = {
      ...queue,
      rooms: (options) =>
        Effect.suspend(() =>
          !hangs(++walks.count) ? queue.rooms(options) : Deferred.succeed(polling, undefined).pipe(
            Effect.andThen(Effect.never),
            Effect.onInterrupt(() => Deferred.succeed(released, undefined))
          )
        )
    }
    return { polling, released, walks, watched }
  })

/** The backlog of `room` on a board. */
const backlogOf = (board: BoardJson, room: string) => board.rooms.find((r) => r.room === room)?.backlog

describe("Monitor", () => {
  it.effect("GET /rooms: every active room with its state, paged by cursor (S26, S14)", () =>
    Effect.gen(function*() {
      const { holder, json } = yield* fixture()
      const all = yield* json("/rooms")
      expect(all.status).toBe(200)
      const body = all.body as { rooms: Array<RoomJson>; cursor: string | null }
      expect(body.cursor).toBeNull()
      expect(body.rooms.map((r) => r.room).sort()).toEqual(["held", "quiet room/with spaces"])
      const held = body.rooms.find((r) => r.room === "held")!
      expect(held.backlog).toBe(2)
      expect(held.members).toEqual([{ id: holder.clientId, acked: false }])
      expect(held.inFlight?.id).toMatch(/:1$/)
      expect(held.inFlight?.ageMs).toBeGreaterThanOrEqual(0)

      const seen: Array<string> = []
      let cursor: string | null = null
      do {
        const page = yield* json(`/rooms?limit=1${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`)
        const p = page.body as { rooms: Array<RoomJson>; cursor: string | null }
        expect(p.rooms.length).toBeLessThanOrEqual(1)
        seen.push(...p.rooms.map((r) => r.room))
        cursor = p.cursor
      } while (cursor !== null)
      expect(seen.sort()).toEqual(["held", "quiet room/with spaces"])
      // a trailing slash lists them too (the router ignores it)
      const slash = yield* json("/rooms/")
      expect(slash.status).toBe(200)
      expect((slash.body as { rooms: Array<RoomJson> }).rooms.map((r) => r.room).sort()).toEqual(
        ["held", "quiet room/with spaces"]
      )
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("GET /rooms: bad input is a 400 with the InvalidArgument message", () =>
    Effect.gen(function*() {
      const { json } = yield* fixture()
      const badLimit = yield* json("/rooms?limit=many")
      expect(badLimit.status).toBe(400)
      expect(badLimit.headers["content-type"]).toMatch(/^application\/json/)
      expect((badLimit.body as { error: string }).error).toMatch(/limit/)
      const negative = yield* json("/rooms?limit=-1")
      expect(negative.status).toBe(400)
      expect((negative.body as { error: string }).error).toMatch(/limit/)
      const tooBig = yield* json("/rooms?limit=5000")
      expect(tooBig.status).toBe(400)
      expect((tooBig.body as { error: string }).error).toMatch(/limit/)
      const badCursor = yield* json("/rooms?cursor=not-a-cursor")
      expect(badCursor.status).toBe(400)
      expect(badCursor.headers["content-type"]).toMatch(/^application\/json/)
      expect(Object.keys(badCursor.body as object)).toEqual(["error"])
      expect((badCursor.body as { error: string }).error.length).toBeGreaterThan(0)
      const badPeek = yield* json("/rooms/held?peek=lots")
      expect(badPeek.status).toBe(400)
      expect((badPeek.body as { error: string }).error).toMatch(/peek/)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("GET /rooms/:room: the state and the next queued messages (S14, S13)", () =>
    Effect.gen(function*() {
      const { holder, json } = yield* fixture()
      const r = yield* json("/rooms/held?peek=1")
      expect(r.status).toBe(200)
      const body = r.body as RoomJson & { next: Array<{ id: string; data: unknown }> }
      expect(body.members).toEqual([{ id: holder.clientId, acked: false }])
      expect(body.next).toHaveLength(1)
      expect(body.next[0]!.data).toEqual({ n: 2 })
      const spaced = yield* json(`/rooms/${encodeURIComponent("quiet room/with spaces")}`)
      expect(spaced.status).toBe(200)
      expect((spaced.body as RoomJson).room).toBe("quiet room/with spaces")
      const invalid = yield* json(`/rooms/${"x".repeat(300)}`)
      expect(invalid.status).toBe(400)
      expect((invalid.body as { error: string }).error).toMatch(/256/)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("hostile room names stay text: exact in JSON, one data line per event, never in the page", () =>
    Effect.gen(function*() {
      const title = `<script>alert("title")</script> & "rooms"`
      const { get, holder, http, base, json, producer } = yield* fixture({ monitor: { title } })
      for (const room of hostileRooms) {
        yield* holder.subscribe(room) // a member: the room is active (S26)
        yield* producer.send(room, { room })
      }

      // JSON: the names come back exactly, as JSON strings
      const all = yield* json("/rooms")
      expect(all.headers["content-type"]).toMatch(/^application\/json/)
      const listed = (all.body as { rooms: Array<RoomJson> }).rooms.map((r) => r.room)
      expect(listed.filter((room) => hostileRooms.includes(room)).sort()).toEqual([...hostileRooms].sort())
      for (const room of hostileRooms) {
        const one = yield* json(`/rooms/${encodeURIComponent(room)}?peek=1`)
        expect(one.status).toBe(200)
        expect(one.headers["content-type"]).toMatch(/^application\/json/)
        expect((one.body as RoomJson).room).toBe(room)
        expect((one.body as RoomJson).members).toEqual([{ id: holder.clientId, acked: false }])
      }

      // SSE: a snapshot is one `data:` line whatever the names hold (no forged events)
      const board = yield* Effect.scoped(
        Effect.flatMap(events(http, `${base}/events`), ({ response }) =>
          response.stream.pipe(
            Stream.decodeText(),
            Stream.splitLines,
            Stream.filter((line) => line !== "" && !line.startsWith(":") && !line.startsWith("retry:")),
            Stream.take(1),
            Stream.runCollect
          ))
      )
      expect(board).toHaveLength(1)
      expect(board[0]!.startsWith("data: ")).toBe(true)
      const snapshot = JSON.parse(board[0]!.slice(6)) as BoardJson
      expect(snapshot.rooms.map((r) => r.room).filter((room) => hostileRooms.includes(room)).sort()).toEqual(
        [...hostileRooms].sort()
      )

      // the page: no room name in it, the title escaped, names reach the DOM only as text
      const page = yield* get("/")
      expect(page.headers["content-type"]).toMatch(/^text\/html/)
      expect(page.text).toContain(
        `<title>&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt; &amp; &quot;rooms&quot;</title>`
      )
      expect(page.text).not.toContain(`<script>alert("title")`)
      for (const room of hostileRooms) expect(page.text).not.toContain(room)
      const script = page.text.slice(page.text.indexOf("<script>"), page.text.lastIndexOf("</script>"))
      expect(script).toContain("textContent")
      expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/)
      expect(page.text.match(/<script>/g)).toHaveLength(1)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("GET /metrics: valid Prometheus text through effect's PrometheusMetrics (S15)", () =>
    Effect.gen(function*() {
      // a service name and a user's own series whose labels and help hold quotes, backslashes, line feeds
      const serviceName = `edge "eu-1"\\blue\nsecond line`
      const hostile = Metric.counter("lockstep_test_hostile_total", {
        description: "a help text with a \\ backslash\nand a second line",
        incremental: true
      })
      for (const room of hostileRooms) yield* Metric.update(Metric.withAttributes(hostile, { room }), 1)
      const { get } = yield* fixture({ monitor: { serviceName } })
      const r = yield* get("/metrics")
      expect(r.status).toBe(200)
      expect(r.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/)
      expect(prometheusErrors(r.text)).toEqual([])
      // the fixture's producer sent 4 messages; a series without labels has no braces
      expect(r.text).toMatch(/^# TYPE lockstep_messages_sent_total counter$/m)
      expect(r.text).toMatch(/^lockstep_messages_sent_total(\{[^}]*\})? 4$/m)
      expect(r.text).toMatch(/^# TYPE lockstep_delivery_latency_ms histogram$/m)
      expect(r.text).toMatch(/^lockstep_delivery_latency_ms_bucket\{le="\+Inf"\} \d+$/m)
      // the escaped labels read back as they were
      expect(labelValues(r.text, "target_info", "service_name")).toEqual([serviceName])
      expect(labelValues(r.text, "lockstep_test_hostile_total", "room").sort()).toEqual([...hostileRooms].sort())
      expect(r.text).toContain(
        `# HELP lockstep_test_hostile_total a help text with a \\\\ backslash\\nand a second line\n`
      )
    }).pipe(
      // a registry of this test's own: the counts are exact
      Effect.provideService(Metric.MetricRegistry, new Map()),
      Effect.provide(FetchHttpClient.layer)
    ))

  it.effect("GET /events: a snapshot of the board, the stalled room with whom it waits for", () =>
    Effect.gen(function*() {
      const { base, holder, http } = yield* fixture()
      const first = yield* Effect.scoped(
        Effect.gen(function*() {
          const { data, response } = yield* events(http, `${base}/events`)
          expect(response.headers["content-type"]).toMatch(/^text\/event-stream/)
          return yield* data.pipe(Stream.take(1), Stream.runCollect)
        })
      )
      const board = first[0] as BoardJson
      expect(board.rooms.map((r) => r.room)).toEqual(["held", "quiet room/with spaces"])
      expect(board.stalled).toEqual([{ room: "held", waitingFor: [holder.clientId] }])
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.live("GET /events: a board that disconnects is released at once (its polling interrupted, its socket closed)", () =>
    Effect.gen(function*() {
      // every walk after the first hangs until interrupted, and says so
      const { polling, released, walks, watched } = yield* hangingWalks((walk) => walk > 1)
      const { base, http, server } = yield* serve(watched, Monitor.layer({ pollInterval: "10 millis" }))
      yield* Effect.scoped(
        Effect.gen(function*() {
          // read in the background: a stream that ends (e.g. `take(1)`) hangs up at once
          const { data } = yield* events(http, `${base}/events`)
          const received = yield* Queue.unbounded<unknown>()
          yield* data.pipe(Stream.runForEach((board) => Queue.offer(received, board)), Effect.forkScoped)
          expect(((yield* Queue.take(received)) as BoardJson).rooms).toEqual([])
          yield* Deferred.await(polling).pipe(Effect.timeout("5 seconds"))
          expect(yield* connections(server)).toBe(1)
        })
      ) // the client hangs up here
      yield* Deferred.await(released).pipe(Effect.timeout("5 seconds"))
      yield* connections(server).pipe(
        Effect.filterOrFail((n) => n === 0),
        Effect.retry(Schedule.spaced("10 millis")),
        Effect.timeout("5 seconds")
      )
      expect(walks.count).toBe(2)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("mounted under a prefix next to the application's own routes, the board and its events are found there", () =>
    Effect.gen(function*() {
      const { base, get, http } = yield* fixture({
        app: (options) =>
          HttpRouter.serve(
            Layer.mergeAll(
              Monitor.router({ ...options, prefix: "/monitor" }),
              HttpRouter.add("GET", "/", HttpServerResponse.text("the application"))
            ),
            { disableLogger: true, disableListenLog: true }
          )
      })
      const page = yield* get("/monitor")
      expect(page.status).toBe(200)
      expect(page.text).toContain("<title>lockstep rooms</title>")
      expect((yield* get("/monitor/")).text).toContain("<title>lockstep rooms</title>")
      const rooms = yield* get("/monitor/rooms")
      expect(rooms.status).toBe(200)
      expect((JSON.parse(rooms.text) as { rooms: Array<RoomJson> }).rooms).toHaveLength(2)
      expect((yield* get("/monitor/rooms/held")).status).toBe(200)
      expect((yield* get("/monitor/metrics")).text).toMatch(/^# TYPE lockstep_messages_sent_total counter$/m)
      const board = yield* Effect.scoped(
        Effect.flatMap(
          events(http, `${base}/monitor/events`),
          ({ data }) => data.pipe(Stream.take(1), Stream.runCollect)
        )
      )
      expect((board[0] as BoardJson).rooms.map((r) => r.room)).toEqual(["held", "quiet room/with spaces"])
      // the application keeps its own routes; nothing of the monitor at the root
      expect((yield* get("/")).text).toBe("the application")
      // below its prefix the monitor answers every path (JSON errors); outside it, the application does
      for (
        const [path, status] of [["/monitor/nope", 404], ["/MONITOR//nope", 404], ["/monitor/rooms/%zz", 400]] as const
      ) {
        const r = yield* get(path)
        expect({ path, status: r.status }).toEqual({ path, status })
        expect(r.headers["content-type"]).toMatch(/^application\/json/)
        expect(Object.keys(JSON.parse(r.text) as object)).toEqual(["error"])
      }
      for (const path of ["/rooms", "/nope", "/monitored", "/rooms/%zz"]) {
        const r = yield* get(path)
        expect({ path, status: r.status, text: r.text }).toEqual({ path, status: 404, text: "" })
      }
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})

describe("Monitor: one poll for every open board", () => {
  it.effect("S26: five open boards cost one snapshot per interval; a late joiner gets the current board at once", () =>
    Effect.gen(function*() {
      const calls = { count: 0 }
      const { base, http, producer } = yield* fixture({
        monitor: { pollInterval: "1 second" },
        wrap: countingMetrics(calls)
      })
      const boards = yield* Effect.forEach([1, 2, 3, 4, 5], () => openBoard(http, `${base}/events`))
      for (const board of boards) expect(backlogOf(yield* nextBoard(board), "held")).toBe(2)
      expect(calls.count).toBe(1)

      // each interval (the clock is a TestClock: nothing moves unless told), one snapshot for all
      for (const [round, backlog] of [[2, 3], [3, 4]] as const) {
        yield* producer.send("held", { round })
        yield* TestClock.adjust("1 second")
        for (const board of boards) expect(backlogOf(yield* nextBoard(board), "held")).toBe(backlog)
        expect(calls.count).toBe(round)
      }

      // a board opened now gets the current snapshot without waiting for (or causing) a poll
      const late = yield* openBoard(http, `${base}/events`)
      expect(backlogOf(yield* nextBoard(late), "held")).toBe(4)
      expect(calls.count).toBe(3)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.live("the poll stops when the last board disconnects and starts again with the next one", () =>
    Effect.gen(function*() {
      // the second walk hangs until interrupted, and says so; the others answer
      const { polling, released, walks, watched } = yield* hangingWalks((walk) => walk === 2)
      const { base, http } = yield* serve(watched, Monitor.layer({ pollInterval: "10 millis" }))
      yield* Effect.scoped(
        Effect.gen(function*() {
          const boards = yield* Effect.forEach([1, 2, 3], () => openBoard(http, `${base}/events`))
          for (const board of boards) expect((yield* nextBoard(board)).rooms).toEqual([])
          yield* Deferred.await(polling).pipe(Effect.timeout("5 seconds"))
          // three boards, one loop: its first walk answered them all, its second is under way
          expect(walks.count).toBe(2)
        })
      ) // the three clients hang up here
      yield* Deferred.await(released).pipe(Effect.timeout("5 seconds"))
      expect(walks.count).toBe(2)
      // a new board starts a new loop: a fresh snapshot, from a walk of its own
      const board = yield* Effect.scoped(Effect.flatMap(openBoard(http, `${base}/events`), nextBoard))
      expect(board.rooms).toEqual([])
      expect(walks.count).toBe(3)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.live("while the engine fails, /events sends the failure once, and the recovery once", () =>
    Effect.gen(function*() {
      let failing = false
      const polls = yield* Queue.unbounded<"ok" | "failed">()
      const { base, http, producer } = yield* fixture({
        monitor: { pollInterval: "10 millis" },
        wrap: (queue) => ({
          ...queue,
          metrics: (options) =>
            Effect.suspend(() =>
              failing
                ? Effect.andThen(
                  Queue.offer(polls, "failed"),
                  Effect.fail(new QueueError.EngineError({ engine: "memory", operation: "metrics", cause: "down" }))
                )
                : Effect.andThen(Queue.offer(polls, "ok"), queue.metrics(options))
            )
        })
      })
      /** Wait for `n` polls with the outcome `outcome`. */
      const polled = (outcome: "ok" | "failed", n: number) =>
        Effect.gen(function*() {
          let seen = 0
          while (seen < n) if ((yield* Queue.take(polls)) === outcome) seen++
        }).pipe(Effect.timeout("5 seconds"))
      const board = yield* openBoard(http, `${base}/events`)
      const first = yield* nextBoard(board)
      expect(backlogOf(first, "held")).toBe(2)

      failing = true
      yield* polled("failed", 5)
      failing = false
      yield* polled("ok", 3)
      // five failed polls: one failure event; then the board again (unchanged, but it recovered), once
      const failure = yield* Queue.take(board)
      expect(failure.event).toBe("failure")
      expect((failure.data as { error: string }).error).toMatch(/^memory: metrics failed/)
      const recovered = yield* nextBoard(board)
      expect({ rooms: recovered.rooms, stalled: recovered.stalled }).toEqual({
        rooms: first.rooms,
        stalled: first.stalled
      })
      // the next event is the next change, not a repeat
      yield* producer.send("held", { n: 4 })
      expect(backlogOf(yield* nextBoard(board), "held")).toBe(3)
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})

describe("Monitor: errors and headers", () => {
  const routes = ["/", "/events", "/rooms", "/rooms/held", "/metrics"]

  it.effect("a wrong method on any route is a 405 with Allow and a JSON error; HEAD answers like GET", () =>
    Effect.gen(function*() {
      const { request } = yield* fixture()
      for (const path of routes) {
        for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const) {
          const r = yield* request(method, path)
          expect({ path, method, status: r.status }).toEqual({ path, method, status: 405 })
          expect(r.headers["allow"]).toBe("GET, HEAD")
          expect(r.headers["content-type"]).toMatch(/^application\/json/)
          expect(r.headers["x-content-type-options"]).toBe("nosniff")
          expect((JSON.parse(r.text) as { error: string }).error).toContain(method)
        }
        const head = yield* request("HEAD", path)
        expect({ path, status: head.status, text: head.text }).toEqual({ path, status: 200, text: "" })
      }
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("an unknown path is a JSON 404; a room whose escapes cannot be decoded a JSON 400", () =>
    Effect.gen(function*() {
      const { get } = yield* fixture()
      for (const path of ["/nope", "/events/more", "/metrics/more", "/%zz", "/rooms-and-more"]) {
        const r = yield* get(path)
        expect({ path, status: r.status }).toEqual({ path, status: 404 })
        expect(r.headers["content-type"]).toMatch(/^application\/json/)
        expect(r.headers["x-content-type-options"]).toBe("nosniff")
        expect(Object.keys(JSON.parse(r.text) as object)).toEqual(["error"])
      }
      // a truncated sequence, a byte that is no UTF-8, an escape that is none, a lone surrogate, a bare %
      for (const path of ["/rooms/%E0%A4%A", "/rooms/%FF", "/rooms/%zz", "/rooms/%ED%A0%80", "/rooms/100%"]) {
        const r = yield* get(path)
        expect({ path, status: r.status }).toEqual({ path, status: 400 })
        expect(r.headers["content-type"]).toMatch(/^application\/json/)
        const body = JSON.parse(r.text) as { error: string }
        expect(Object.keys(body)).toEqual(["error"])
        expect(body.error).toMatch(/^invalid room .*percent-encoded UTF-8/)
      }
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("S1: ';' is part of a room name in the path, not a parameter separator", () =>
    Effect.gen(function*() {
      const { holder, json, producer } = yield* fixture()
      yield* holder.subscribe("a;b")
      yield* holder.subscribe("a")
      yield* Effect.forEach([1, 2, 3], (n) => producer.send("a;b", { n }), { discard: true })
      for (const path of ["/rooms/a;b?peek=1", "/rooms/a%3Bb?peek=1"]) {
        const r = yield* json(path)
        const body = r.body as RoomJson & { next: Array<{ data: unknown }> }
        expect({ path, status: r.status, room: body.room, backlog: body.backlog }).toEqual({
          path,
          status: 200,
          room: "a;b",
          backlog: 2
        })
        expect(body.next.map((m) => m.data)).toEqual([{ n: 2 }])
      }
      expect(((yield* json("/rooms/a")).body as RoomJson).backlog).toBe(0)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("options out of range fail when the monitor is built, with a ConfigError naming the option", () =>
    Effect.gen(function*() {
      const broker = yield* MemoryLayer.makeBroker
      const queue = yield* MemoryLayer.make({ keyPrefix: "t" }).pipe(
        Effect.provideService(MemoryLayer.MemoryBroker, broker)
      )
      const build = (options: Monitor.MonitorOptions) =>
        Layer.build(Monitor.router(options).pipe(Layer.provide(HttpRouter.layer))).pipe(
          Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, queue),
          Effect.scoped
        )
      const cases: ReadonlyArray<readonly [Monitor.MonitorOptions, string]> = [
        [{ peekLimit: 0 }, "peekLimit"],
        [{ peekLimit: 10_001 }, "peekLimit"],
        [{ peekLimit: 2.5 }, "peekLimit"],
        [{ pollInterval: 0 }, "pollInterval"],
        [{ pollInterval: -5 }, "pollInterval"],
        [{ pollInterval: Infinity }, "pollInterval"],
        [{ stalledAfter: -1 }, "stalledAfter"],
        [{ maxRooms: 0 }, "maxRooms"],
        [{ stalledRooms: 1001 }, "stalledRooms"],
        [{ prefix: "monitor" } as unknown as Monitor.MonitorOptions, "prefix"]
      ]
      for (const [options, option] of cases) {
        const error = yield* Effect.flip(build(options))
        expect(error._tag).toBe("ConfigError")
        expect(configErrorPath(error)).toEqual([option])
        expect(error.message).toContain(option)
      }
      for (const options of [{ peekLimit: 1 }, { peekLimit: 10_000 }, { stalledAfter: 0 }, { stalledRooms: 0 }]) {
        yield* build(options)
      }
    }))

  it.effect("the board carries a CSP allowing only its own inline style and script (by hash), nosniff, no framing", () =>
    Effect.gen(function*() {
      const { get } = yield* fixture()
      const page = yield* get("/")
      const inline = (tag: string) =>
        page.text.slice(page.text.indexOf(`<${tag}>`) + tag.length + 2, page.text.indexOf(`</${tag}>`))
      const hash = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`
      const policy = Object.fromEntries(
        String(page.headers["content-security-policy"]).split(";").map((d) => {
          const [name, ...values] = d.trim().split(/\s+/)
          return [name!, values.join(" ")]
        })
      )
      expect(policy).toEqual({
        "default-src": "'none'",
        "script-src": hash(inline("script")),
        "style-src": hash(inline("style")),
        "connect-src": "'self'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'"
      })
      expect(page.headers["x-frame-options"]).toBe("DENY")
      expect(page.headers["x-content-type-options"]).toBe("nosniff")
      // no inline handler or second script the policy would have to allow
      expect(page.text).not.toMatch(/\son[a-z]+=/i)
      expect(page.text.match(/<script/g)).toHaveLength(1)
      for (const path of ["/rooms", "/rooms/held", "/metrics"]) {
        expect((yield* get(path)).headers["x-content-type-options"]).toBe("nosniff")
      }
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})

describe("Monitor over Redis", () => {
  const password = "s3cret-Pa55word"
  it.live("an engine failure is a 502 with the engine's message, never the password", () =>
    Effect.gen(function*() {
      const server = yield* RedisTestServer.RedisTestServer
      // connected as an ACL user with a password, given in the URL
      const url = `redis://monitor:${password}@127.0.0.1:${server.port}`
      const context = yield* Layer.build(ClientLayer.standalone(url, { keyPrefix: "monitor" }))
      const queue = Context.get(context, SyncFanoutQueue.SyncFanoutQueue)
      yield* queue.subscribe("held")
      yield* queue.send("held", 1)
      const { base, http, json } = yield* serve(queue, Monitor.layer({ pollInterval: "50 millis" }))
      const before = yield* json("/rooms")
      expect(before.status).toBe(200)
      expect((before.body as { rooms: Array<RoomJson> }).rooms.map((r) => r.room)).toEqual(["held"])

      yield* server.stop // the engine is gone: its operations fail (EngineError)
      const failed = (yield* json("/rooms")) as { status: number; body: { error: string } }
      const room = (yield* json("/rooms/held")) as { status: number; body: { error: string } }
      for (const r of [failed, room]) {
        expect(r.status).toBe(502)
        expect(Object.keys(r.body)).toEqual(["error"])
        expect(r.body.error).toMatch(/^redis: /)
        expect(r.body.error).not.toContain(password)
      }
      // the board is told too, in a `failure` event, without the password
      const failure = yield* Effect.scoped(
        Effect.flatMap(HttpClient.withScope(http).get(`${base}/events`), (response) =>
          response.stream.pipe(
            Stream.decodeText(),
            Stream.splitLines,
            Stream.dropWhile((line) => line !== "event: failure"),
            Stream.take(2),
            Stream.runCollect
          ))
      )
      expect(failure[0]).toBe("event: failure")
      expect((JSON.parse(failure[1]!.slice(6)) as { error: string }).error).toMatch(/^redis: /)
      expect(failure.join("\n")).not.toContain(password)
    }).pipe(
      Effect.provide(FetchHttpClient.layer),
      Effect.provide(
        RedisTestServer.layer({ extraArgs: ["--user", "monitor", "on", `>${password}`, "~*", "&*", "+@all"] })
      )
    ), 30_000)

  it.live(
    "S26: 50 open boards cost Redis what one costs (commands per 2 s on a 20-room prefix, printed)",
    () =>
      Effect.gen(function*() {
        const server = yield* RedisTestServer.RedisTestServer
        const client = Effect.map(
          Layer.build(ClientLayer.standalone(server.url, { keyPrefix: "load" })),
          (context) => Context.get(context, SyncFanoutQueue.SyncFanoutQueue)
        )
        const [holder, producer, monitor] = yield* Effect.all([client, client, client])
        for (let i = 0; i < 20; i++) {
          yield* holder.subscribe(`room-${i}`) // a member that never acks: a message in flight, one queued
          yield* producer.send(`room-${i}`, 1)
          yield* producer.send(`room-${i}`, 2)
        }
        const snapshots = { count: 0 } // the monitor's `metrics` calls: one per snapshot
        const { base, http } = yield* serve(countingMetrics(snapshots)(monitor), Monitor.layer()) // polls every 500 ms
        /** Commands the server ran so far (INFO commandstats, without the INFO calls themselves). */
        const commands = Effect.map(
          Effect.tryPromise(() => execFileAsync("redis-cli", ["-p", String(server.port), "INFO", "commandstats"])),
          ({ stdout }) =>
            [...stdout.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)]
              .filter((m) => m[1] !== "info")
              .reduce((sum, m) => sum + Number(m[2]), 0)
        )
        /** Commands and snapshots in 2 s with `boards` boards open (each one has received its first snapshot). */
        const load = (boards: number) =>
          Effect.scoped(Effect.gen(function*() {
            const open = yield* Effect.forEach(Array.from({ length: boards }), () => openBoard(http, `${base}/events`))
            for (const board of open) expect((yield* nextBoard(board)).rooms).toHaveLength(20)
            const [before, snapshotsBefore] = [yield* commands, snapshots.count]
            yield* Effect.sleep("2 seconds") // a measuring window, not a wait for something to happen
            return { commands: (yield* commands) - before, snapshots: snapshots.count - snapshotsBefore }
          }))
        const [none, one, fifty] = [yield* load(0), yield* load(1), yield* load(50)]
        yield* Effect.log(
          `Redis commands per 2 s, 20 rooms, poll every 500 ms: ${none.commands} with no board open, ${one.commands} with 1 (${one.snapshots} snapshots), ${fifty.commands} with 50 (${fifty.snapshots} snapshots)`
        )
        // one loop whatever the number of boards: at most one snapshot per 500 ms (one per board would be 50 times that)
        expect(none.snapshots).toBe(0)
        for (const { snapshots } of [one, fifty]) expect(snapshots).toBeLessThanOrEqual(5)
        // and a snapshot costs the same: a window also catches keepalives, a housekeeping pass (22
        // commands) and the parts of the snapshots under way at its edges (a 4-snapshot window cost
        // 173.5 per snapshot under load against 126.5 for a 4-snapshot one, without a board extra)
        expect(fifty.commands / fifty.snapshots).toBeLessThan(1.5 * one.commands / one.snapshots)
      }).pipe(
        Effect.provide(FetchHttpClient.layer),
        Effect.provide(RedisTestServer.layer())
      ),
    60_000
  )
})

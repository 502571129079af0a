/**
 * The monitor's JSON and Prometheus endpoints, served on a free port over the memory engine and
 * read with effect's `HttpClient`; the SSE stream read until its first snapshot, and released when
 * its client goes away; an engine failure over a spawned Redis.
 * (The board itself is driven in a real browser by examples/test/monitor.board.test.ts.)
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { describe, expect, it } from "@effect/vitest"
import { MemoryLayer, SyncFanoutQueue } from "@lockstep/core"
import { Monitor } from "@lockstep/monitor"
import { ClientLayer } from "@lockstep/redis"
import { RedisTestServer } from "@lockstep/redis/testing"
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
import * as NetAddress from "effect/net/NetAddress"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { createServer, type Server } from "node:http"
import type { Socket } from "node:net"

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

/**
 * Serve `app` for `queue` on a free loopback port until the scope closes; the Node server (to
 * count its open connections) and a client for it.
 */
const serve = (
  queue: Queue,
  app: Layer.Layer<never, never, HttpServer.HttpServer | SyncFanoutQueue.SyncFanoutQueue>
) =>
  Effect.gen(function*() {
    const server = createServer()
    // undici may open a connection it never sends a request on (beside an event stream it aborted),
    // and closing a Node server waits for every connection: such a one held a test up until the
    // client dropped it (3 s). Closed before the server, they are the only ones this fixture ends.
    const sockets = new Set<Socket>()
    const used = new WeakSet<Socket>()
    server.on("connection", (socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.on("request", (request) => used.add(request.socket))
    const context = yield* Layer.build(
      app.pipe(Layer.provideMerge(NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1" })))
    ).pipe(Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, queue))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const socket of sockets) if (!used.has(socket)) socket.destroy()
      })
    )
    const base = Result.getOrThrow(NetAddress.formatUrl(Context.get(context, HttpServer.HttpServer).address))
    const http = yield* HttpClient.HttpClient
    const get = (path: string) =>
      http.get(`${base}${path}`).pipe(
        Effect.flatMap((r) => Effect.map(r.text, (text) => ({ status: r.status, headers: r.headers, text })))
      )
    const json = (path: string) =>
      Effect.map(get(path), (r) => ({ status: r.status, headers: r.headers, body: JSON.parse(r.text) as unknown }))
    return { base, server, http, get, json }
  })

/**
 * Three clients on one broker: a holder of `held` that never acks, a producer, the monitor's own;
 * the monitor served for the last (by `app`, default `Monitor.layer`).
 */
const fixture = (
  options: {
    readonly monitor?: Monitor.MonitorOptions
    readonly app?: (
      options: Monitor.MonitorOptions
    ) => Layer.Layer<never, never, HttpServer.HttpServer | SyncFanoutQueue.SyncFanoutQueue>
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
    const served = yield* serve(queue, app)
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
      const broker = yield* MemoryLayer.makeBroker
      const queue = yield* MemoryLayer.make({ keyPrefix: "t" }).pipe(
        Effect.provideService(MemoryLayer.MemoryBroker, broker)
      )
      yield* queue.send("r", 1) // no member: nothing active, but the walk runs
      // every walk after the first hangs until interrupted, and says so
      const polling = yield* Deferred.make<void>()
      const released = yield* Deferred.make<void>()
      let walks = 0
      const watched: Queue = {
        ...queue,
        rooms: (options) =>
          Effect.suspend(() => {
            walks++
            return walks === 1 ? queue.rooms(options) : Deferred.succeed(polling, undefined).pipe(
              Effect.andThen(Effect.never),
              Effect.onInterrupt(() => Deferred.succeed(released, undefined))
            )
          })
      }
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
      expect(walks).toBe(2)
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
      expect((yield* get("/rooms")).status).toBe(404)
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
})

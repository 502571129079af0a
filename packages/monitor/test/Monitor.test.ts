/**
 * The monitor's JSON and Prometheus endpoints, served on a free port over the memory engine and
 * read with `@effect/platform`'s `HttpClient`; the SSE stream read until its first snapshot.
 * (The board itself is driven in a real browser by examples/test/monitor.board.test.ts.)
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import { MemoryLayer, SyncFanoutQueue } from "@lockstep/core"
import { Monitor } from "@lockstep/monitor"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"

interface RoomJson {
  readonly room: string
  readonly backlog: number
  readonly members: ReadonlyArray<{ readonly id: string; readonly acked: boolean }>
  readonly inFlight: { readonly id: string; readonly ageMs: number } | null
}

/** Three clients on one broker: a holder of `held` that never acks, a producer, the monitor's own. */
const fixture = (mount: (router: HttpRouter.HttpRouter) => HttpRouter.HttpRouter = (r) => r) =>
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
    const router = yield* Monitor.router({ stalledAfter: "0 millis" }).pipe(
      Effect.provideService(SyncFanoutQueue.SyncFanoutQueue, queue)
    )
    const server = yield* Layer.build(
      HttpServer.serve(mount(router)).pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
    )
    const address = Context.get(server, HttpServer.HttpServer).address
    const base = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
    const http = yield* HttpClient.HttpClient
    const get = (path: string) =>
      http.get(`${base}${path}`).pipe(
        Effect.flatMap((r) => Effect.map(r.text, (text) => ({ status: r.status, headers: r.headers, text })))
      )
    const json = (path: string) =>
      Effect.map(get(path), (r) => ({ status: r.status, body: JSON.parse(r.text) as unknown }))
    return { base, http, get, json, holder }
  }).pipe(Effect.provide(FetchHttpClient.layer))

describe("Monitor", () => {
  it.scoped("GET /rooms: every active room with its state, paged by cursor (S26, S14)", () =>
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
    }))

  it.scoped("GET /rooms: bad input is a 400 with the InvalidArgument message", () =>
    Effect.gen(function*() {
      const { json } = yield* fixture()
      const badLimit = yield* json("/rooms?limit=many")
      expect(badLimit.status).toBe(400)
      expect((badLimit.body as { error: string }).error).toMatch(/limit/)
      const tooBig = yield* json("/rooms?limit=5000")
      expect(tooBig.status).toBe(400)
      const badCursor = yield* json("/rooms?cursor=not-a-cursor")
      expect(badCursor.status).toBe(400)
      expect((badCursor.body as { error: string }).error.length).toBeGreaterThan(0)
    }))

  it.scoped("GET /rooms/:room: the state and the next queued messages (S14, S13)", () =>
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
    }))

  it.scoped("GET /metrics: Prometheus text through the OpenTelemetry serializer (S15)", () =>
    Effect.gen(function*() {
      const { get } = yield* fixture()
      const r = yield* get("/metrics")
      expect(r.status).toBe(200)
      expect(r.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/)
      expect(r.text).toMatch(/^# TYPE lockstep_messages_sent_total counter$/m)
      expect(r.text).toMatch(/^lockstep_messages_sent_total\{[^}]*\} \d+$/m)
    }))

  it.scoped("GET /events: a snapshot of the board, the stalled room with whom it waits for", () =>
    Effect.gen(function*() {
      const { base, holder, http } = yield* fixture()
      const response = yield* http.get(`${base}/events`)
      expect(response.headers["content-type"]).toMatch(/^text\/event-stream/)
      const first = yield* response.stream.pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.filter((line) => line.startsWith("data: ")),
        Stream.take(1),
        Stream.runCollect,
        Effect.timeout("5 seconds")
      )
      const board = JSON.parse([...first][0]!.slice(6)) as {
        rooms: Array<RoomJson>
        stalled: Array<{ room: string; waitingFor: Array<string> }>
      }
      expect(board.rooms.map((r) => r.room)).toEqual(["held", "quiet room/with spaces"])
      expect(board.stalled).toEqual([{ room: "held", waitingFor: [holder.clientId] }])
    }))

  it.scoped("mounted under a prefix, the board and its events are found there", () =>
    Effect.gen(function*() {
      const { get } = yield* fixture((router) => HttpRouter.empty.pipe(HttpRouter.mount("/monitor", router)))
      const page = yield* get("/monitor")
      expect(page.status).toBe(200)
      expect(page.text).toContain("<title>lockstep rooms</title>")
      const rooms = yield* get("/monitor/rooms")
      expect(rooms.status).toBe(200)
    }))
})

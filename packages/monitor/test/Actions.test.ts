/**
 * Board actions (S29, S30) over HTTP on the memory engine: off by default; refused with a 403 and
 * without touching the room unless the request is same-origin, carries a page token of this
 * monitor and is approved by `authorize`; when accepted they change the room as `RoomAdmin` does.
 * (The buttons are clicked in a real browser by examples/test/monitor.board.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { MemoryLayer, QueueError, RoomAdmin, SyncFanoutQueue } from "@lockstep/core"
import { Monitor } from "@lockstep/monitor"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Serve from "./utils/serve.js"

type Admin = RoomAdmin.RoomAdmin["Service"]

/** The admin with its calls counted. */
const counting = (calls: { count: number }) => (admin: Admin): Admin => {
  const counted =
    <A extends ReadonlyArray<unknown>, B>(f: (...args: A) => Effect.Effect<B, QueueError.QueueError>) => (...args: A) =>
      Effect.suspend(() => {
        calls.count++
        return f(...args)
      })
  return {
    eject: counted(admin.eject),
    pause: counted(admin.pause),
    resume: counted(admin.resume),
    skip: counted(admin.skip),
    purge: counted(admin.purge),
    deadLetters: counted(admin.deadLetters),
    redrive: counted(admin.redrive),
    dropDeadLetters: counted(admin.dropDeadLetters)
  }
}

/** Who may act, in the tests that use a service for it: the `authorize` hook's requirement. */
class Operators extends Context.Service<Operators, { readonly names: ReadonlySet<string> }>()("test/Operators") {}

/** The hook of most tests: an `x-operator` header naming an operator of `Operators`. */
const byHeader = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const operators = yield* Operators
    return operators.names.has(request.headers["x-operator"] ?? "")
  })

interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: { readonly error?: string } & Record<string, unknown>
}

/**
 * A holder of `held` that never acks (its deliveries and the end of its stream recorded), a
 * producer that sent 3 messages there, and the monitor's own client, served with `app` (default:
 * actions approved for the operator "ada" by `byHeader`).
 */
const fixture = (
  options: {
    readonly app?: Layer.Layer<
      never,
      Config.ConfigError,
      HttpServer.HttpServer | SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin | Operators
    >
    readonly admin?: (admin: Admin) => Admin
  } = {}
) =>
  Effect.gen(function*() {
    const broker = yield* MemoryLayer.makeBroker
    const client = MemoryLayer.makeClient({ keyPrefix: "t" }).pipe(
      Effect.provideService(MemoryLayer.MemoryBroker, broker)
    )
    const holder = (yield* client).queue
    const producer = (yield* client).queue
    const { admin, queue } = yield* client
    const received = yield* Queue.unbounded<string>()
    const stream = yield* holder.subscribe("held")
    const ended = yield* stream.pipe(Stream.runForEach((d) => Queue.offer(received, d.id)), Effect.forkScoped)
    const sent = yield* Effect.forEach([1, 2, 3], (n) => producer.send("held", { n }))
    expect(yield* Queue.take(received)).toBe(sent[0])
    const app = options.app ?? Monitor.layer({ stalledAfter: "0 millis", actions: { authorize: byHeader } })
    const served = yield* Serve.serve(
      app,
      Context.make(SyncFanoutQueue.SyncFanoutQueue, queue).pipe(
        Context.add(RoomAdmin.RoomAdmin, (options.admin ?? ((a) => a))(admin)),
        Context.add(Operators, { names: new Set(["ada"]) })
      )
    )
    /** A board page's token, as its script reads it (none when the page has no actions). */
    const pageToken = (headers: Readonly<Record<string, string>> = { "x-operator": "ada" }) =>
      Effect.map(
        served.request("GET", "/", { headers }),
        (page) => Option.fromNullishOr(/<meta name="lockstep-token" content="([^"]+)">/.exec(page.text)?.[1])
      )
    const token = Option.getOrElse(yield* pageToken(), () => "")
    const answer = (r: { status: number; headers: Readonly<Record<string, string | undefined>>; text: string }) => ({
      status: r.status,
      headers: r.headers,
      body: JSON.parse(r.text) as Answer["body"]
    })
    /**
     * POST an action as the board's script does (same origin, the page token, the operator
     * header); `headers` replace those (a header set to `null` is left out).
     */
    const act = (
      action: string,
      room: string,
      body: unknown = {},
      headers: Readonly<Record<string, string | null>> = {}
    ): Effect.Effect<Answer, unknown> => {
      const all: Record<string, string | null> = {
        origin: served.base,
        "x-lockstep-token": token,
        "x-operator": "ada",
        ...headers
      }
      const sent = Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== null))
      return Effect.map(
        served.request("POST", `/rooms/${encodeURIComponent(room)}/${action}`, {
          headers: sent,
          body: JSON.stringify(body)
        }),
        answer
      )
    }
    const read = (path: string, headers: Readonly<Record<string, string>> = { "x-operator": "ada" }) =>
      Effect.map(served.request("GET", path, { headers }), answer)
    return { ...served, act, admin, ended, holder, pageToken, producer, queue, read, received, sent, token }
  })

/** The answer is a 403 JSON error. */
const forbidden = (r: Answer, why: RegExp) => {
  expect({ status: r.status, keys: Object.keys(r.body) }).toEqual({ status: 403, keys: ["error"] })
  expect(r.headers["content-type"]).toMatch(/^application\/json/)
  expect(r.headers["x-content-type-options"]).toBe("nosniff")
  expect(r.body.error).toMatch(why)
}

/** The room's state as `/rooms/:room` shows it. */
const roomOf = (read: (path: string) => Effect.Effect<Answer, unknown>, room: string) =>
  Effect.map(read(`/rooms/${encodeURIComponent(room)}?peek=10`), (r) =>
    r.body as {
      readonly backlog: number
      readonly paused: boolean
      readonly members: ReadonlyArray<{ readonly id: string }>
      readonly inFlight: { readonly id: string } | null
      readonly next: ReadonlyArray<{ readonly id: string; readonly data: unknown }>
    })

describe("Monitor actions", () => {
  it.effect("off by default: no buttons, no token, POST is a 405 and /dead-letters a 404", () =>
    Effect.gen(function*() {
      const { act, get, pageToken, queue } = yield* fixture({ app: Monitor.layer({ stalledAfter: "0 millis" }) })
      expect(yield* pageToken()).toEqual(Option.none())
      const page = yield* get("/")
      expect(page.text).not.toContain("<button")
      for (const action of ["pause", "eject", "skip", "purge", "redrive", "resume"]) {
        const r = yield* act(action, "held")
        expect({ action, status: r.status }).toEqual({ action, status: 405 })
        expect(r.headers["allow"]).toBe("GET, HEAD")
      }
      for (const path of ["/dead-letters/held", "/dead-letters/%FF"]) expect((yield* get(path)).status).toBe(404)
      expect((yield* queue.roomState("held")).paused).toBe(false)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("S30: refused with a 403 unless same-origin, with a page token of this monitor, authorized; the room untouched", () =>
    Effect.gen(function*() {
      const calls = { count: 0 }
      const { act, base, pageToken, queue, read, token } = yield* fixture({ admin: counting(calls) })
      // a token of another monitor (another key), and this one's with its tag changed
      const other = yield* fixture()
      const [nonce, tag] = token.split(".") as [string, string]
      const tampered = `${nonce}.${tag.startsWith("A") ? "B" : "A"}${tag.slice(1)}`
      const cases: ReadonlyArray<readonly [string, Readonly<Record<string, string | null>>, RegExp]> = [
        ["no origin", { origin: null }, /names no origin/],
        ["another origin", { origin: "http://evil.example" }, /evil\.example/],
        ["the right host on another port", { origin: base.replace(/:\d+$/, ":1") }, /not from this server/],
        ["an opaque origin", { origin: "null" }, /origin "null"/],
        ["cross-site by Sec-Fetch-Site", { "sec-fetch-site": "cross-site" }, /cross-site request/],
        ["same-site by Sec-Fetch-Site", { "sec-fetch-site": "same-site" }, /same-site request/],
        ["no token", { "x-lockstep-token": null }, /no page token/],
        ["a token not from a page", { "x-lockstep-token": "let-me-in" }, /reload the board/],
        ["a tampered token", { "x-lockstep-token": tampered }, /reload the board/],
        ["another monitor's token", { "x-lockstep-token": other.token }, /reload the board/],
        ["not authorized", { "x-operator": "mallory" }, /^not authorized$/],
        ["no operator", { "x-operator": null }, /^not authorized$/]
      ]
      for (const [label, headers, why] of cases) {
        for (const action of ["pause", "skip", "purge"]) {
          const r = yield* act(action, "held", {}, headers)
          expect({ label, action, status: r.status }).toEqual({ label, action, status: 403 })
          forbidden(r, why)
        }
        forbidden(yield* act("eject", "held", { client: "anyone" }, headers), why)
      }
      // nothing reached the engine: the room is as it was
      expect(calls.count).toBe(0)
      const room = yield* roomOf(read, "held")
      expect({ paused: room.paused, backlog: room.backlog, members: room.members.length }).toEqual({
        paused: false,
        backlog: 2,
        members: 1
      })
      // a viewer the hook refuses gets a board without token (no buttons) and no dead letters
      expect(yield* pageToken({ "x-operator": "mallory" })).toEqual(Option.none())
      forbidden(yield* read("/dead-letters/held", { "x-operator": "mallory" }), /^not authorized$/)
      expect(calls.count).toBe(0)
      // Sec-Fetch-Site: same-origin passes without Origin
      const paused = yield* act("pause", "held", {}, { origin: null, "sec-fetch-site": "same-origin" })
      expect({ status: paused.status, body: paused.body }).toEqual({
        status: 200,
        body: { room: "held", paused: true, changed: true }
      })
      expect((yield* queue.roomState("held")).paused).toBe(true)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("every page is issued a token of its own; each is good for actions", () =>
    Effect.gen(function*() {
      const { act, pageToken } = yield* fixture()
      const tokens = yield* Effect.forEach([1, 2, 3], () => Effect.map(pageToken(), Option.getOrThrow))
      expect(new Set(tokens).size).toBe(3)
      const answers = yield* Effect.forEach(tokens, (t) => act("resume", "held", {}, { "x-lockstep-token": t }))
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200])
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("an origin of trustedOrigins may act (a proxy that rewrites Host)", () =>
    Effect.gen(function*() {
      const { act, queue } = yield* fixture({
        app: Monitor.layer({
          actions: { authorize: byHeader, trustedOrigins: ["https://ops.example.com"] }
        })
      })
      forbidden(yield* act("pause", "held", {}, { origin: "https://other.example.com" }), /other\.example\.com/)
      expect((yield* act("pause", "held", {}, { origin: "https://ops.example.com" })).status).toBe(200)
      expect((yield* queue.roomState("held")).paused).toBe(true)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("S30: pause and resume the room; the board's JSON shows it paused", () =>
    Effect.gen(function*() {
      const { act, queue, read } = yield* fixture()
      const paused = yield* act("pause", "held")
      expect({ status: paused.status, body: paused.body }).toEqual({
        status: 200,
        body: { room: "held", paused: true, changed: true }
      })
      expect((yield* queue.roomState("held")).paused).toBe(true)
      expect((yield* roomOf(read, "held")).paused).toBe(true)
      // idempotent: a second pause changes nothing
      expect((yield* act("pause", "held")).body).toEqual({ room: "held", paused: true, changed: false })
      expect((yield* act("resume", "held")).body).toEqual({ room: "held", paused: false, changed: true })
      expect((yield* queue.roomState("held")).paused).toBe(false)
      expect((yield* act("resume", "held")).body).toEqual({ room: "held", paused: false, changed: false })
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("S30: eject ends the member's stream (ClientEjected operator); a non-member is a 404", () =>
    Effect.gen(function*() {
      const { act, ended, holder, read } = yield* fixture()
      const r = yield* act("eject", "held", { client: holder.clientId })
      expect({ status: r.status, body: r.body }).toEqual({
        status: 200,
        body: { room: "held", client: holder.clientId, ejected: true }
      })
      const exit = yield* Fiber.await(ended)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(exit)
      expect(error).toBeInstanceOf(QueueError.ClientEjected)
      expect(error.reason).toBe("operator")
      expect((yield* roomOf(read, "held")).members).toEqual([])
      const again = yield* act("eject", "held", { client: holder.clientId })
      expect(again.status).toBe(404)
      expect(again.body.error).toContain("is not a member")
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("S30, S29: skip dead-letters the in-flight message (listed, paged), redrive queues a copy", () =>
    Effect.gen(function*() {
      const { act, holder, read, received, sent } = yield* fixture()
      const skipped = yield* act("skip", "held")
      expect(skipped.body).toEqual({ room: "held", skipped: sent[0] })
      // the room moved on: the holder got the next message
      expect(yield* Queue.take(received)).toBe(sent[1])
      const letters = yield* read("/dead-letters/held")
      expect(letters.status).toBe(200)
      expect(letters.body).toMatchObject({
        room: "held",
        cursor: null,
        letters: [{ message: { id: sent[0], data: { n: 1 } }, member: holder.clientId, reason: "skipped", attempts: 1 }]
      })
      // a second letter; pages of one, newest first
      expect((yield* act("skip", "held")).body).toEqual({ room: "held", skipped: sent[1] })
      const first = yield* read("/dead-letters/held?limit=1")
      const cursor = first.body["cursor"] as string
      expect((first.body["letters"] as Array<{ message: { id: string } }>).map((l) => l.message.id)).toEqual([sent[1]])
      const second = yield* read(`/dead-letters/held?limit=1&cursor=${encodeURIComponent(cursor)}`)
      expect((second.body["letters"] as Array<{ message: { id: string } }>).map((l) => l.message.id)).toEqual([sent[0]])

      // redrive the first: a copy (new id, same data) is queued, its letter gone
      const backlog = (yield* roomOf(read, "held")).backlog
      const redriven = yield* act("redrive", "held", { id: sent[0] })
      expect(redriven.status).toBe(200)
      const copy = redriven.body["redriven"] as string
      expect(redriven.body).toEqual({ room: "held", id: sent[0], redriven: copy })
      expect(copy).not.toBe(sent[0])
      const room = yield* roomOf(read, "held")
      expect(room.backlog).toBe(backlog + 1)
      expect(room.next.find((m) => m.id === copy)?.data).toEqual({ n: 1 })
      const left = yield* read("/dead-letters/held")
      expect((left.body["letters"] as Array<{ message: { id: string } }>).map((l) => l.message.id)).toEqual([sent[1]])
      // no letter of it left: a 404, nothing queued
      const again = yield* act("redrive", "held", { id: sent[0] })
      expect(again.status).toBe(404)
      expect((yield* roomOf(read, "held")).backlog).toBe(backlog + 1)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("S30: purge drops the backlog, not the in-flight message; skip with nothing in flight is null", () =>
    Effect.gen(function*() {
      const { act, read, sent } = yield* fixture()
      expect((yield* act("purge", "held")).body).toEqual({ room: "held", purged: 2 })
      const room = yield* roomOf(read, "held")
      expect({ backlog: room.backlog, inFlight: room.inFlight?.id }).toEqual({ backlog: 0, inFlight: sent[0] })
      expect((yield* act("skip", "empty room")).body).toEqual({ room: "empty room", skipped: null })
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("room names are read from the path as /rooms/:room is; hostile names act and come back exact", () =>
    Effect.gen(function*() {
      const { act, holder, producer, queue, request, token, base } = yield* fixture()
      const hostile = `</script><img src=x onerror="alert(1)">/a;b?c#d %2F`
      yield* holder.subscribe(hostile)
      yield* producer.send(hostile, 1)
      const r = yield* act("pause", hostile)
      expect(r.body).toEqual({ room: hostile, paused: true, changed: true })
      expect((yield* queue.roomState(hostile)).paused).toBe(true)
      // a literal slash in the name: the action is the last segment
      yield* holder.subscribe("a/b")
      const headers = { origin: base, "x-lockstep-token": token, "x-operator": "ada" }
      const slashed = yield* request("POST", "/rooms/a/b/pause", { headers })
      expect(JSON.parse(slashed.text)).toEqual({ room: "a/b", paused: true, changed: true })
      expect((yield* queue.roomState("a/b")).paused).toBe(true)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("bad input: 400 (body, room, limit), 404 (no such action), 405 with Allow on other methods", () =>
    Effect.gen(function*() {
      const { act, base, read, request, token } = yield* fixture()
      const headers = { origin: base, "x-lockstep-token": token, "x-operator": "ada" }
      for (const body of [{}, { client: 7 }, "not json"]) {
        const r = yield* act("eject", "held", body)
        expect(r.status).toBe(400)
        expect(r.body.error).toMatch(/"client"/)
      }
      const broken = yield* request("POST", "/rooms/held/redrive", { headers, body: "{" })
      expect(broken.status).toBe(400)
      expect((yield* request("POST", "/rooms/held/redrive", { headers, body: "x".repeat(20_000) })).status).toBe(400)
      expect((yield* act("pause", "x".repeat(300))).status).toBe(400)
      expect((yield* request("POST", "/rooms/%zz/pause", { headers })).status).toBe(400)
      for (const path of ["/rooms/held/explode", "/rooms/held"]) {
        const r = yield* request("POST", path, { headers })
        expect({ path, status: r.status }).toEqual({ path, status: 404 })
        expect(JSON.parse(r.text).error).toMatch(/no such action/)
      }
      // the room route answers POST too now; /rooms and the rest still only read
      for (const [path, allow] of [["/rooms/held/pause", "GET, HEAD, POST"], ["/rooms", "GET, HEAD"]] as const) {
        for (const method of ["PUT", "DELETE", "OPTIONS"] as const) {
          const r = yield* request(method, path, { headers })
          expect({ path, method, status: r.status, allow: r.headers["allow"] }).toEqual({
            path,
            method,
            status: 405,
            allow
          })
        }
      }
      expect((yield* request("POST", "/rooms", { headers })).status).toBe(405)
      const badLimit = yield* read("/dead-letters/held?limit=many")
      expect(badLimit.status).toBe(400)
      expect(badLimit.body.error).toMatch(/limit/)
      expect((yield* read("/dead-letters/held?cursor=nope")).status).toBe(400)
      expect((yield* read("/dead-letters/%FF")).status).toBe(400)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("options: a bad trustedOrigins, an authorize that is no function, no RoomAdmin: a ConfigError", () =>
    Effect.gen(function*() {
      const broker = yield* MemoryLayer.makeBroker
      const { admin, queue } = yield* MemoryLayer.makeClient({ keyPrefix: "t" }).pipe(
        Effect.provideService(MemoryLayer.MemoryBroker, broker)
      )
      const build = <R>(
        options: Monitor.MonitorOptionsWithActions<R>,
        services: Context.Context<SyncFanoutQueue.SyncFanoutQueue | R>
      ) =>
        Layer.build(Monitor.router(options).pipe(Layer.provide(HttpRouter.layer))).pipe(
          Effect.provideContext(services as Context.Context<SyncFanoutQueue.SyncFanoutQueue | RoomAdmin.RoomAdmin | R>),
          Effect.scoped,
          Effect.flip
        )
      const services = Context.make(SyncFanoutQueue.SyncFanoutQueue, queue).pipe(
        Context.add(RoomAdmin.RoomAdmin, admin)
      )
      const yes = () => Effect.succeed(true)
      for (
        const origin of ["ops.example.com", "https://ops.example.com/", "https://ops.example.com/board", "ftp://x"]
      ) {
        const error = yield* build({ actions: { authorize: yes, trustedOrigins: [origin] } }, services)
        expect(error.message).toContain("actions.trustedOrigins")
      }
      const noHook = yield* build({ actions: {} as Monitor.MonitorActions }, services)
      expect(noHook.message).toContain("actions.authorize")
      const noAdmin = yield* build(
        { actions: { authorize: yes } },
        Context.make(SyncFanoutQueue.SyncFanoutQueue, queue)
      )
      expect(noAdmin.message).toContain("RoomAdmin")
      expect(Schema.isSchemaError(noAdmin.cause)).toBe(true)
    }))
})

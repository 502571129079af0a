/**
 * The Redis engine's resource contract on a spawned server: one round trip per operation
 * (DESIGN §4), no keys left behind (S18), isolation (S19), shutdown (S20), NOSCRIPT, operation
 * timeouts and local loss detection (S10), and hostile frames on a room channel (S16).
 */
import { describe, expect, layer } from "@effect/vitest"
import { type Delivery, type QueueError, SyncFanoutQueue } from "@lockstep/core"
import { ClientLayer } from "@lockstep/redis"
import { RedisTestServer, TcpProxy } from "@lockstep/redis/testing"
import {
  type Config,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  Option,
  Queue,
  References,
  Schedule,
  Scope,
  Stream
} from "effect"
import { redisFixture } from "./utils/redisFixture.js"
import {
  clientList,
  cmd,
  connect,
  describeCommands,
  eventually,
  freshPrefix,
  invalidData,
  makeClient,
  monitor,
  type MonitorEntry,
  namedClients,
  rawRedis,
  scanKeys,
  scriptOfSha,
  shaOf,
  subscribe
} from "./utils/redisProbe.js"

/** Long timeouts: no keepalive or housekeeping run falls inside a measured window. */
const quiet = { clientTimeout: "60 seconds" } as const

const evalshas = (commands: ReadonlyArray<MonitorEntry>) => commands.filter((c) => c.command === "evalsha")

/** Exactly one script call, an EVALSHA of `script`, plus only `others` (e.g. SUBSCRIBE). */
const expectOneRoundTrip = (
  commands: ReadonlyArray<MonitorEntry>,
  script: Parameters<typeof shaOf>[0],
  others: ReadonlyArray<string> = []
) => {
  const what = describeCommands(commands)
  expect(evalshas(commands).map((c) => c.args[1]), what).toEqual([shaOf(script)])
  expect(commands.filter((c) => c.command === "eval"), what).toEqual([])
  expect(commands.filter((c) => c.command !== "evalsha").map((c) => c.command), what).toEqual(others)
}

const base = (prefix: string) => `${prefix}:{0}:`

describe("ClientLayer on a spawned redis-server", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
    it.effect("one EVALSHA per send, ack, join, leave and out-of-band (DESIGN §4)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const mon = yield* monitor(port)
        const config = { keyPrefix: freshPrefix("rt"), ...quiet }
        const a = yield* makeClient(yield* connect(port, "rt-a"), config)
        const p = yield* makeClient(yield* connect(port, "rt-p"), config)

        // warm-up: ioredis sends EVAL the first time a script runs on a socket, EVALSHA after
        const warm = yield* subscribe(a, "warm")
        yield* p.send("warm", 0)
        yield* p.sendOutOfBand("warm", "oob")
        yield* Effect.flatMap(warm.next(), (d) => d.ack)
        yield* warm.next()
        yield* warm.close

        const join = yield* mon.around(subscribe(a, "room"))
        expectOneRoundTrip(join.commands, "join", ["subscribe"])
        const sub = join.result

        const released = yield* mon.around(p.send("room", 1))
        expectOneRoundTrip(released.commands, "send")
        const queued = yield* mon.around(p.send("room", 2))
        expectOneRoundTrip(queued.commands, "send")

        const d1 = yield* sub.next()
        expect(d1.data).toBe(1)
        // the ack releases message 2 inside the same script (no later poll); an ack does not wait
        // for the server's reply, so the window closes once message 2 arrived
        const ack = yield* mon.around(Effect.andThen(d1.ack, sub.next()))
        expectOneRoundTrip(ack.commands, "ack")
        const d2 = ack.result
        expect(d2.data).toBe(2)
        // the last one releases nothing: the window closes once MONITOR saw the ack
        const ack2 = yield* mon.around(Effect.gen(function*() {
          const from = yield* mon.mark
          yield* d2.ack
          yield* mon.await(from, (e) => e.command === "evalsha" && e.args[1] === shaOf("ack"), "5 seconds")
        }))
        expectOneRoundTrip(ack2.commands, "ack")

        const oob = yield* mon.around(p.sendOutOfBand("room", "now"))
        expectOneRoundTrip(oob.commands, "outOfBand")
        expect((yield* sub.next()).kind).toBe("out-of-band")

        const leave = yield* mon.around(sub.close)
        expectOneRoundTrip(leave.commands, "leave", ["unsubscribe"])
      }))

    it.effect("the acks of one event-loop turn leave in one EVALSHA, and each one counts (DESIGN §4, S3, S4)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const mon = yield* monitor(port)
        const config = { keyPrefix: freshPrefix("batch"), ...quiet }
        const a = yield* makeClient(yield* connect(port, "batch-a"), config)
        const p = yield* makeClient(yield* connect(port, "batch-p"), config)
        const rooms = ["b1", "b2", "b3"]
        const inbox = yield* Queue.unbounded<Delivery.Delivery>()
        yield* (yield* a.subscribeMany(rooms)).pipe(
          Stream.runForEach((d) => Queue.offer(inbox, d)),
          Effect.forkScoped
        )
        for (const room of rooms) {
          yield* p.send(room, `${room}/0`)
          yield* p.send(room, `${room}/1`)
          yield* p.send(room, `${room}/2`)
        }
        // warm-up: ioredis sends EVAL the first time a script runs on a socket, EVALSHA after
        const zeros = yield* Effect.forEach(rooms, () => Queue.take(inbox))
        yield* Effect.forEach(zeros, (d) => d.ack, { discard: true })
        const firsts = yield* Effect.forEach(rooms, () => Queue.take(inbox))
        // acked in one go, as a consumer does with the chunk it was handed
        const from = yield* mon.mark
        yield* Effect.forEach([...firsts, firsts[0]!], (d) => d.ack, { discard: true }) // one twice (S4)
        const seconds = yield* Effect.forEach(rooms, () => Queue.take(inbox))
        expect(seconds.map((d) => d.data).sort()).toEqual(rooms.map((r) => `${r}/2`))
        const to = yield* mon.mark
        const acks = evalshas(mon.between(from, to)).filter((c) => c.args[1] === shaOf("ack"))
        expect(acks, describeCommands(mon.between(from, to))).toHaveLength(1)
        // the triples of key base, room and message id, after the routing key and the head (base,
        // publish command, client, epoch: "" for a client that is not durable)
        const b = base(config.keyPrefix)
        expect(acks[0]!.args.slice(4, 8)).toEqual([b, "PUBLISH", a.clientId, ""])
        expect(acks[0]!.args.slice(8)).toEqual([...firsts, firsts[0]!].flatMap((d) => [b, d.room, d.id]))
      }))

    it.effect("the sends and out-of-band messages of one turn leave in one EVALSHA each, in order (DESIGN §4, S2, S9)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const mon = yield* monitor(port)
        const config = { keyPrefix: freshPrefix("sendbatch"), ...quiet }
        const a = yield* makeClient(yield* connect(port, "sendbatch-a"), config)
        const p = yield* makeClient(yield* connect(port, "sendbatch-p"), config)
        const sub = yield* subscribe(a, "room")
        // warm-up: ioredis sends EVAL the first time a script runs on a socket, EVALSHA after
        yield* p.send("room", "warm")
        yield* p.sendOutOfBand("room", "warm")
        yield* Effect.flatMap(sub.next(), (d) => d.ack)
        yield* sub.next()
        // concurrent producers: their calls are made in one event-loop turn
        const sent = yield* mon.around(Effect.all([
          ...["m1", "m2", "m3", "m4"].map((m) => p.send("room", m)),
          p.sendOutOfBand("room", "o1"),
          p.sendOutOfBand("room", "o2")
        ], { concurrency: "unbounded" }))
        const scripts = evalshas(sent.commands).map((c) => scriptOfSha(c.args[1] ?? ""))
        expect(scripts.sort(), describeCommands(sent.commands)).toEqual(["outOfBand", "send"])
        // m1 is released at once, m2..m4 queued behind it in send order (S2); o1, o2 at once (S9)
        const first = [yield* sub.next(), yield* sub.next(), yield* sub.next()]
        expect(first.map((d) => d.data).sort()).toEqual(["m1", "o1", "o2"])
        yield* Effect.forEach(first, (d) => d.ack, { discard: true })
        for (const m of ["m2", "m3", "m4"]) {
          const d = yield* sub.next()
          expect(d.data).toBe(m)
          yield* d.ack
        }
      }))

    it.effect("a send made after an ack in the same turn reaches the server after it (S2, S3)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const a = yield* makeClient(yield* connect(port, "order-a"), { keyPrefix: freshPrefix("order"), ...quiet })
        const sub = yield* subscribe(a, "room")
        yield* a.send("room", "m0")
        const d0 = yield* sub.next()
        // one turn: a send (priority 5) from one fiber, then from another the ack of m0 and a send
        // (priority 0). x is queued behind m0, the ack releases x, y comes after: x, then y. Had y
        // joined x's batch, written before the ack, both would be queued and y (priority 0) first.
        yield* Effect.all([
          a.send("room", "x", { priority: 5 }),
          Effect.andThen(d0.ack, a.send("room", "y", { priority: 0 }))
        ], { concurrency: "unbounded" })
        const next = yield* sub.next()
        expect(next.data).toBe("x")
        yield* next.ack
        expect((yield* sub.next()).data).toBe("y")
      }))

    it.effect("one EVALSHA per keepalive tick, one per shard with subscriptions (DESIGN §4, S10)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const mon = yield* monitor(port)
        const name = "rt-keepalive"
        const prefix = freshPrefix("ka")
        const q = yield* makeClient(yield* connect(port, name), {
          keyPrefix: prefix,
          clientTimeout: "60 seconds",
          keepaliveInterval: "250 millis",
          housekeepingInterval: "60 seconds"
        })
        yield* subscribe(q, "k1")
        yield* subscribe(q, "k2")
        const addrs = new Set((yield* namedClients(raw, name)).map((c) => c.addr))
        expect(addrs.size).toBe(2)

        const mine = (e: MonitorEntry) => addrs.has(e.source)
        const isKeepalive = (e: MonitorEntry) => mine(e) && e.command === "evalsha" && e.args[1] === shaOf("keepalive")
        const from = yield* mon.mark
        let last = from
        for (let i = 0; i < 3; i++) last = yield* mon.await(last, isKeepalive, "2 seconds")
        const to = yield* mon.mark
        const commands = mon.between(from, to).filter(mine)
        // nothing but keepalives, each tick a single EVALSHA for the one shard of both rooms
        expect(describeCommands(commands)).toBe(commands.map(() => "evalsha(keepalive)").join(" "))
        expect(commands.length).toBeGreaterThanOrEqual(3)
        for (let i = 1; i < commands.length; i++) {
          expect(commands[i]!.time - commands[i - 1]!.time).toBeGreaterThan(0.2)
        }
        // routed by the shard's clients zset, for this client
        expect(commands[0]!.args.slice(2, 7)).toEqual([
          "1",
          `${base(prefix)}clients`,
          base(prefix),
          "PUBLISH",
          q.clientId
        ])
      }))

    it.effect("S18: no keys left after the last member leaves and the queue drains", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const prefix = freshPrefix("gc")
        const B = base(prefix)
        const clientsScope = yield* Scope.make()
        const ctx = yield* connect(port, "gc").pipe(Scope.provide(clientsScope))
        const a = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet, ackTimeout: "30 seconds" }).pipe(
          Scope.provide(clientsScope)
        )
        const b = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet, housekeepingInterval: "1 second" }).pipe(
          Scope.provide(clientsScope)
        )
        const p = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet }).pipe(Scope.provide(clientsScope))
        const live = new Set([a.clientId, b.clientId, p.clientId])

        /** every key is owned (room with members, live client, shard bookkeeping) or expires */
        const checkOwnership = (rooms: ReadonlyArray<string>) =>
          Effect.gen(function*() {
            const keys = yield* scanKeys(raw, prefix)
            for (const key of keys) {
              expect(key.startsWith(B), key).toBe(true)
              const rest = key.slice(B.length)
              const pttl = Number(yield* cmd(raw, "PTTL", key))
              const kind = /^(m|mem|sy|h|a|q|p):(.*)$/.exec(rest)
              // shard bookkeeping: the indexes (S15, S11, S26) hold only rooms with state, and vanish empty
              const owned = rest === "clients" || rest === "backlog" || rest === "deadlines" || rest === "ev" ||
                rest === "rooms" || rest === "inflight" ||
                (rest.startsWith("cr:") && live.has(rest.slice(3))) ||
                (kind !== null && rooms.includes(kind[2]!))
              if (rest === "hk") {
                expect(pttl, key).toBeGreaterThan(0)
                expect(pttl, key).toBeLessThanOrEqual(500)
              } else {
                expect(owned, `${key} has no owner`).toBe(true)
              }
            }
            return keys
          })

        // r1: two sync members, one in flight and a backlog of two, ack deadlines on
        const a1 = yield* subscribe(a, "r1")
        const b1 = yield* subscribe(b, "r1")
        yield* p.send("r1", 1)
        yield* p.send("r1", 2)
        yield* p.send("r1", 3, { priority: 5 })
        const m1a = yield* a1.next()
        const m1b = yield* b1.next()
        const busy = yield* checkOwnership(["r1"])
        for (const kind of ["m", "mem", "sy", "h", "q", "p"]) expect(busy).toContain(`${B}${kind}:r1`)
        expect(busy).toContain(`${B}backlog`)
        expect(busy).toContain(`${B}deadlines`)
        expect(busy).toContain(`${B}cr:${a.clientId}`)

        // the housekeeping lock is written with a TTL
        yield* eventually(cmd(raw, "EXISTS", `${B}hk`), (n) => n === 1, "hk lock to appear", "3 seconds")
        yield* checkOwnership(["r1"])

        yield* m1a.ack
        yield* m1b.ack
        expect((yield* a1.next()).data).toBe(2)
        // the last member leaves while holding 2 with 3 still queued: the backlog drains to nobody
        yield* a1.close
        yield* b1.close

        // r2: async member only, queued and out-of-band traffic
        const a2 = yield* subscribe(a, "r2", { mode: "async" })
        yield* p.send("r2", "x")
        yield* p.sendOutOfBand("r2", "y")
        yield* a2.next()
        yield* a2.next()
        yield* a2.close

        // r3: a member that never acks and leaves; a room nobody joined
        const b3 = yield* subscribe(b, "r3")
        yield* p.send("r3", 1)
        yield* p.send("r3", 2)
        yield* b3.next()
        yield* b3.close
        yield* p.send("ghost", 1)
        yield* p.sendOutOfBand("ghost", 1)

        const left = yield* checkOwnership([])
        expect(left.filter((k) => k !== `${B}hk`).sort()).toEqual([`${B}clients`, `${B}ev`])
        expect(yield* p.roomState("r1")).toMatchObject({ backlog: 0, members: [], inFlight: Option.none() })
        const metrics = yield* p.metrics()
        expect(metrics.knownRooms).toBe(0)
        expect(metrics.knownClients).toBe(3)

        // all clients gone: nothing with the prefix but the shard's frame counter, which is kept for
        // good so that frame numbers never start again (S5); the hk lock expires by itself
        yield* Scope.close(clientsScope, Exit.void)
        yield* eventually(
          scanKeys(raw, prefix),
          (keys) => keys.length === 1 && keys[0] === `${B}ev`,
          "no keys with the prefix but the frame counter"
        )
      }))

    it.effect("S19: two prefixes on one server never see each other", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const px = freshPrefix("iso")
        const py = `${px}:x` // a prefix that extends the other one
        const ctx = yield* connect(port, "iso")
        const x = yield* makeClient(ctx, { keyPrefix: px, ...quiet })
        const y = yield* makeClient(ctx, { keyPrefix: py, ...quiet })
        const y2 = yield* makeClient(ctx, { keyPrefix: py, ...quiet })
        const sx = yield* subscribe(x, "shared")
        const sy = yield* subscribe(y, "shared")

        yield* y2.send("shared", "from-y")
        yield* y2.sendOutOfBand("shared", "oob-y")
        yield* x.send("shared", "from-x")
        // frames arrive in publish order on a connection: a leak would come first
        expect((yield* sx.next()).data).toBe("from-x")
        expect((yield* sy.next()).data).toBe("from-y")
        expect((yield* sy.next()).data).toBe("oob-y")

        const stateX = yield* x.roomState("shared")
        const stateY = yield* y.roomState("shared")
        expect(stateX.members).toEqual([x.clientId])
        expect(stateY.members).toEqual([y.clientId])
        expect((yield* x.metrics()).knownClients).toBe(1)
        expect((yield* y.metrics()).knownClients).toBe(2)

        // a backlog in y is invisible to x
        yield* y2.send("shared", "queued-y")
        expect((yield* y.peek("shared")).map((m) => m.data)).toEqual(["queued-y"])
        expect(yield* x.peek("shared")).toEqual([])
        expect((yield* x.metrics()).knownRooms).toBe(0)
        expect((yield* y.metrics()).knownRooms).toBe(1)

        const keysX = yield* scanKeys(raw, `${px}:{`)
        const keysY = yield* scanKeys(raw, `${py}:{`)
        expect(keysX.length).toBeGreaterThan(0)
        expect(keysY.length).toBeGreaterThan(0)
        expect(keysX.filter((k) => keysY.includes(k))).toEqual([])
        // and nothing of y ever reaches x
        const leak = yield* Effect.exit(sx.next("200 millis"))
        expect(Exit.isFailure(leak)).toBe(true)
      }))

    it.effect(
      "S1, S19: a room with a lone surrogate never meets its U+FFFD namesake: InvalidRoom, nothing sent; the namesake works",
      () =>
        Effect.gen(function*() {
          const { port } = yield* RedisTestServer.RedisTestServer
          const raw = yield* rawRedis(port)
          const watch = yield* monitor(port)
          const prefix = freshPrefix("surrogate")
          const a = yield* makeClient(yield* connect(port, `${prefix}-a`), { keyPrefix: prefix, ...quiet })
          const b = yield* makeClient(yield* connect(port, `${prefix}-b`), { keyPrefix: prefix, ...quiet })
          // ioredis writes a lone surrogate as U+FFFD: before S1 refused it, "lone-\uD800" was this room
          const namesake = "lone-\uFFFD"
          const sb = yield* subscribe(b, namesake)
          const roomKeys = Effect.map(scanKeys(raw, prefix), (keys) => keys.filter((key) => key.includes("lone-")))
          const before = yield* roomKeys
          expect(before.some((key) => key.endsWith(namesake))).toBe(true)
          const lone = "lone-\uD800"
          const attempts: ReadonlyArray<Effect.Effect<unknown, QueueError.QueueError>> = [
            a.send(lone, "x"),
            a.sendOutOfBand(lone, "x"),
            Effect.scoped(a.subscribe(lone)),
            Effect.scoped(a.subscribe(lone, { mode: "async" })),
            Effect.scoped(a.subscribeMany([namesake, lone])),
            a.peek(lone),
            a.roomState(lone)
          ]
          const { commands, result } = yield* watch.around(Effect.forEach(attempts, Effect.flip))
          for (const error of result) expect(error).toMatchObject({ _tag: "InvalidRoom", room: lone })
          // nothing reached Redis: no command names a room, the namesake's keys are as they were
          expect(commands.filter((c) => c.args.some((arg) => arg.includes("lone-")))).toEqual([])
          expect(yield* roomKeys).toEqual(before)
          expect(yield* b.roomState(namesake)).toMatchObject({ members: [b.clientId], backlog: 0 })
          expect(Exit.isFailure(yield* Effect.exit(sb.next("50 millis")))).toBe(true)

          // the namesake is an ordinary room: its messages, state and discovery are its own
          const m = yield* a.send(namesake, "to the namesake")
          const d = yield* sb.next()
          expect([d.id, d.room, d.data]).toEqual([m, namesake, "to the namesake"])
          expect((yield* a.rooms()).rooms).toEqual([namesake])
          expect((yield* a.metrics()).stalled.map((r) => [r.room, r.waitingFor])).toEqual([[namesake, [b.clientId]]])
          yield* d.ack
        })
    )

    it.effect("S19: a keyPrefix with a lone surrogate is a configuration error; nothing is written", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const prefix = freshPrefix("surrogate")
        const ctx = yield* connect(port, `${prefix}-bad`)
        // "<prefix>\uD800" would be written as "<prefix>\uFFFD": another prefix's keys
        const error = yield* ClientLayer.make({ keyPrefix: `${prefix}\uD800`, ...quiet }).pipe(
          Effect.provide(ctx),
          Effect.flip
        )
        expect(invalidData(error)).toMatchObject({ path: ["keyPrefix"] })
        expect(invalidData(error)?.message).toContain("lone surrogate")
        expect(yield* scanKeys(raw, prefix)).toEqual([])
      }))

    it.effect("S20: at most 2 connections per process, all closed with the scope, rooms left", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const prefix = freshPrefix("s20")
        const name = `s20-${process.pid}`
        const before = (yield* clientList(raw)).length
        const observer = yield* makeClient(yield* connect(port, "s20-observer"), { keyPrefix: prefix, ...quiet })
        const watch = yield* subscribe(observer, "room")

        const scope = yield* Scope.make()
        const ctx = yield* connect(port, name).pipe(Scope.provide(scope))
        const c1 = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet }).pipe(Scope.provide(scope))
        const c2 = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet }).pipe(Scope.provide(scope))
        const s1 = yield* subscribe(c1, "room").pipe(Scope.provide(scope))
        yield* subscribe(c2, "room").pipe(Scope.provide(scope))
        yield* subscribe(c2, "other", { mode: "async" }).pipe(Scope.provide(scope))
        yield* c1.send("room", "m1")
        yield* c1.send("room", "m2")

        const mine = yield* namedClients(raw, name)
        expect(mine.length).toBe(2) // one command + one subscriber connection, shared by both clients
        expect(mine.filter((c) => c.flags.includes("P")).length).toBe(1) // the pub/sub one
        expect((yield* clientList(raw)).length).toBe(before + 4) // + the observer's two

        // c1 and c2 hold m1; the observer acks it; closing the scope must release m2 at once
        const m1 = yield* watch.next()
        expect((yield* s1.next()).data).toBe("m1")
        yield* m1.ack
        expect((yield* observer.roomState("room")).members).toEqual(
          [observer.clientId, c1.clientId, c2.clientId].sort()
        )

        yield* Scope.close(scope, Exit.void)
        const m2 = yield* watch.next("1 second") // far below clientTimeout: the departed clients left
        expect(m2.data).toBe("m2")
        expect((yield* observer.roomState("room")).members).toEqual([observer.clientId])
        expect((yield* observer.metrics()).knownClients).toBe(1)
        yield* eventually(namedClients(raw, name), (cs) => cs.length === 0, "the client's connections to close")
        expect((yield* clientList(raw)).length).toBe(before + 2)
        const keys = yield* scanKeys(raw, prefix)
        expect(keys.filter((k) => k.includes(c1.clientId) || k.includes(c2.clientId) || k.endsWith(":other")))
          .toEqual([])
      }))

    it.effect("a connection given ioredis' stringNumbers: true still runs every operation (its replies are read as numbers)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const ctx = yield* connect(port, "string-numbers", { ioredis: { stringNumbers: true } })
        const config = { keyPrefix: freshPrefix("strnum"), ...quiet }
        const [a, p] = [yield* makeClient(ctx, config), yield* makeClient(ctx, config)]
        const s = yield* subscribe(a, "room")
        yield* p.send("room", 1)
        yield* p.send("room", 2)
        const d1 = yield* s.next()
        expect(d1.data).toBe(1)
        yield* d1.ack
        expect((yield* s.next()).data).toBe(2)
        const state = yield* p.roomState("room")
        expect(state.members).toEqual([a.clientId])
        expect(yield* p.rooms()).toMatchObject({ rooms: ["room"] })
      }))

    it.effect("NOSCRIPT: operations still succeed after SCRIPT FLUSH (EVALSHA falls back to EVAL)", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const mon = yield* monitor(port)
        const config = { keyPrefix: freshPrefix("ns"), ...quiet }
        const ctx = yield* connect(port, "noscript")
        const a = yield* makeClient(ctx, config)
        const p = yield* makeClient(ctx, config)
        const s = yield* subscribe(a, "room")
        yield* p.send("room", "warm")
        yield* Effect.flatMap(s.next(), (d) => d.ack)
        // an ack leaves at the end of the turn and is not awaited: flushing before it ran would
        // make its EVALSHA fall back to EVAL inside the window watched below
        yield* eventually(
          Effect.orDie(p.roomState("room")),
          (state) => Option.isNone(state.inFlight),
          "the warm-up's ack ran"
        )

        yield* cmd(raw, "SCRIPT", "FLUSH")
        const sent = yield* mon.around(p.send("room", 1))
        expect(describeCommands(sent.commands)).toBe(`evalsha(send) eval`)
        yield* p.send("room", 2)
        const d1 = yield* s.next()
        expect(d1.data).toBe(1)
        yield* d1.ack
        const d2 = yield* s.next()
        expect(d2.data).toBe(2)
        yield* d2.ack
        expect((yield* p.roomState("room")).inFlight).toEqual(Option.none())
        // the EVAL loaded the script again: back to one EVALSHA
        const again = yield* mon.around(p.send("room", 3))
        expectOneRoundTrip(again.commands, "send")
        expect((yield* s.next()).data).toBe(3)
      }))

    it.effect("S10: a black-holed connection gives OperationTimeout, then the client ejects itself", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const proxy = yield* TcpProxy.make({ targetPort: port })
        const q = yield* makeClient(yield* connect(proxy.port, "blackhole"), {
          keyPrefix: freshPrefix("bh"),
          clientTimeout: "1 second",
          operationTimeout: "500 millis"
        })
        const s = yield* subscribe(q, "room")
        yield* q.send("room", "before")
        expect((yield* s.next()).data).toBe("before")
        // heal the network before the scope closes so the unregister goes through
        yield* Effect.addFinalizer(() => proxy.restore)

        yield* proxy.blackhole
        const started = Date.now()
        const [elapsed, error] = yield* Effect.timed(Effect.flip(q.send("room", "lost")))
        expect(error._tag).toBe("OperationTimeout")
        expect(Duration.toMillis(elapsed)).toBeGreaterThanOrEqual(450)
        expect(Duration.toMillis(elapsed)).toBeLessThan(1500)

        const ejected = yield* Deferred.await(s.done).pipe(
          Effect.flip,
          Effect.timeoutOrElse({
            duration: "3 seconds",
            orElse: () => Effect.die(new Error("the stream did not fail"))
          })
        )
        const afterBlackhole = Date.now() - started
        expect(ejected).toMatchObject({
          _tag: "ClientEjected",
          room: "room",
          clientId: q.clientId,
          reason: "keepalive-timeout"
        })
        // clientTimeout plus at most two keepalive periods (one timed-out attempt and one pause)
        expect(afterBlackhole).toBeLessThan(1000 + 2 * 334 + 500)
      }))

    it.effect("S16: garbage published on a room channel is counted as invalid, the stream goes on", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const prefix = freshPrefix("hostile")
        const ctx = yield* connect(port, "hostile")
        const sub = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet })
        const p = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet })
        const s = yield* subscribe(sub, "room")
        const big = "x".repeat(100_000)
        const garbage = [
          "not json at all",
          "1|not json",
          "|{}",
          "99999999999999999999999|{}",
          "-1|{}",
          "2|null",
          "3|[]",
          "4|\"a string\"",
          "5|{\"k\":\"q\"}",
          `6|${JSON.stringify({ k: "q", p: "x", s: -1, pr: 0, t: 0, d: null })}`,
          `7|${JSON.stringify({ k: "zz", d: big })}`,
          `8|${JSON.stringify({ k: "q", p: big, s: 1.5, pr: "0", t: "now", d: 1 })}`,
          big,
          `9|${big}`,
          "\u0000\uffff\ud800"
        ]
        for (const frame of garbage) yield* cmd(raw, "PUBLISH", `${prefix}:{0}:c:room`, frame)
        yield* p.send("room", "real")
        yield* p.send("room", "next")
        const d1 = yield* s.next()
        expect(d1.data).toBe("real")
        expect((yield* sub.metrics()).invalid).toBe(garbage.length)
        yield* d1.ack
        const d2 = yield* s.next()
        expect(d2.data).toBe("next")
        yield* d2.ack
        const metrics = yield* sub.metrics()
        expect(metrics.received).toBe(2)
        expect(metrics.invalid).toBe(garbage.length)
      }))

    it.effect("S16: a flood of distinct garbage neither floods the log nor is retained", () =>
      Effect.gen(function*() {
        const { port } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const prefix = freshPrefix("flood")
        const warnings: Array<string> = []
        const capture = Logger.make(({ logLevel, message }) => {
          if (logLevel === "Warn") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
        })
        const ctx = yield* connect(port, "flood")
        const sub = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet }).pipe(
          Effect.provideService(References.CurrentLoggers, new Set([capture]))
        )
        const p = yield* makeClient(ctx, { keyPrefix: prefix, ...quiet })
        const s = yield* subscribe(sub, "room")
        const n = 200
        for (let i = 0; i < n; i++) {
          // every frame fails differently: the decode error quotes the (10 kB) offending value
          yield* cmd(
            raw,
            "PUBLISH",
            `${prefix}:{0}:c:room`,
            `${i + 1}|${JSON.stringify({ k: `${i}`.padEnd(10_000, "x") })}`
          )
        }
        yield* p.send("room", "real")
        expect((yield* s.next()).data).toBe("real")
        expect((yield* sub.metrics()).invalid).toBe(n)
        yield* Effect.yieldNow
        const invalidLogs = warnings.filter((w) => w.includes("invalid message"))
        expect(invalidLogs.length).toBeGreaterThan(0)
        expect(invalidLogs.length).toBeLessThanOrEqual(5)
        for (const line of invalidLogs) expect(line.length).toBeLessThan(4_000)
      }))

    it.effect("a send that failed while the connection was down is never delivered later (no offline replay)", () =>
      Effect.gen(function*() {
        const f = yield* redisFixture()
        const producer = yield* f.client({ operationTimeout: "400 millis" })
        const consumer = yield* f.client()
        const stream = yield* consumer.subscribe("no-replay", { mode: "async" })
        const received: Array<unknown> = []
        yield* stream.pipe(Stream.runForEach((d) => Effect.sync(() => received.push(d.data))), Effect.forkScoped)
        yield* f.cut(producer.clientId)
        const started = Date.now()
        const failed = yield* Effect.exit(producer.send("no-replay", "lost"))
        expect(Exit.isFailure(failed)).toBe(true)
        expect(Date.now() - started).toBeLessThan(1_500)
        // a subscribe while down fails within its operation timeout too, not after the connect timeout
        const subscribeStarted = Date.now()
        expect(Exit.isFailure(yield* Effect.exit(Effect.scoped(producer.subscribe("other"))))).toBe(true)
        expect(Date.now() - subscribeStarted).toBeLessThan(1_500)
        yield* f.restore(producer.clientId)
        // once the producer works again, a marker sent after the restore arrives alone
        yield* Effect.retry(
          producer.send("no-replay", "after"),
          Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: "5 seconds" }))
        )
        yield* Effect.retry(
          Effect.suspend(() => received.includes("after") ? Effect.void : Effect.fail("not yet")),
          Schedule.spaced("20 millis").pipe(Schedule.upTo({ duration: "5 seconds" }))
        )
        expect(received).toEqual(["after"])
      }))

    it.effect(
      "an interrupted send has an unknown outcome: interrupted in the turn that issued it, it is still applied",
      () =>
        Effect.gen(function*() {
          const f = yield* redisFixture()
          const producer = yield* f.client()
          const consumer = yield* f.client()
          const stream = yield* consumer.subscribe("interrupted", { mode: "async" })
          const received: Array<unknown> = []
          yield* stream.pipe(Stream.runForEach((d) => Effect.sync(() => received.push(d.data))), Effect.forkScoped)
          // the send is issued (its command waits for the end of this event-loop turn) and
          // interrupted before the turn ends: the interruption does not withdraw it
          const sending = yield* Effect.forkChild(producer.send("interrupted", "sent anyway"))
          yield* Effect.yieldNow
          yield* Fiber.interrupt(sending)
          yield* producer.send("interrupted", "marker")
          yield* Effect.retry(
            Effect.suspend(() => received.includes("marker") ? Effect.void : Effect.fail("not yet")),
            Schedule.spaced("20 millis").pipe(Schedule.upTo({ duration: "5 seconds" }))
          )
          expect(received).toEqual(["sent anyway", "marker"])
        })
    )

    it.effect("ClientLayer.standalone: one call builds a client with its own connection; it sends and receives", () =>
      Effect.gen(function*() {
        const { port, url } = yield* RedisTestServer.RedisTestServer
        const raw = yield* rawRedis(port)
        const prefix = freshPrefix("one")
        const before = (yield* clientList(raw)).length
        const scope = yield* Scope.make()
        const Live: Layer.Layer<SyncFanoutQueue.SyncFanoutQueue, QueueError.QueueError | Config.ConfigError> =
          ClientLayer.standalone(url, { keyPrefix: prefix, ...quiet })
        const queue = Context.get(yield* Layer.buildWithScope(Live, scope), SyncFanoutQueue.SyncFanoutQueue)
        const other = Context.get(
          yield* Layer.buildWithScope(
            ClientLayer.standalone({ host: "127.0.0.1", port }, { keyPrefix: prefix }),
            scope
          ),
          SyncFanoutQueue.SyncFanoutQueue
        )
        const s = yield* subscribe(queue, "room").pipe(Scope.provide(scope))
        const id = yield* other.send("room", "one call")
        const d = yield* s.next()
        expect([d.id, d.data]).toEqual([id, "one call"])
        yield* d.ack
        expect((yield* clientList(raw)).length).toBe(before + 4) // two connections per client
        yield* Scope.close(scope, Exit.void)
        yield* eventually(Effect.map(clientList(raw), (cs) => cs.length), (n) => n === before, "connections closed")
        // a URL that cannot be read is a configuration error
        const error = yield* Effect.flip(Layer.build(ClientLayer.standalone("redis://[oops", { keyPrefix: prefix })))
        expect(invalidData(error)?.path).toEqual(["url"])
      }))
  })
})

/**
 * The monitor's board in a real browser: the example's server (internal/monitorApp.ts, on the
 * memory engine, on a free port) and the system's headless Chromium driven by `playwright-core`
 * (no browser download; `.ci/run` installs Debian's `chromium` when missing). The board lists rooms
 * nobody configured, shows the stalled room first with its holder marked, and follows within 2 s
 * when the holder acks and when it is ejected, without a reload; a room name with markup is shown
 * as text; all of it under the page's Content-Security-Policy, which refuses nothing the board
 * needs. Saves packages/monitor/docs/board.png.
 *
 * With board actions (S29, S30) and an operator's header the page shows buttons: pause (the card
 * says PAUSED), skip the in-flight message, browse the room's dead letters, redrive one, resume,
 * eject the holder; each click changes the room on the server and the board follows through its
 * event stream. A hostile room name and hostile message data stay text in the cards and the
 * dead-letter list. Saves packages/monitor/docs/board-actions.png.
 */
import { describe, expect, it } from "@effect/vitest"
import { MemoryLayer } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import * as Schedule from "effect/Schedule"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import * as Engine from "../src/internal/engine.js"
import * as MonitorApp from "../src/internal/monitorApp.js"

const executablePath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p))
const docs = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../packages/monitor/docs")
const screenshot = path.join(docs, "board.png")

const browser = Effect.acquireRelease(
  Effect.promise(() => chromium.launch({ executablePath: executablePath!, args: ["--no-sandbox"] })),
  (b: Browser) => Effect.promise(() => b.close())
)

/**
 * Wait (deterministically: the page is polled every 50 ms until a deadline) until `expression`, a
 * JavaScript expression evaluated in the page (browser code: a string, this project has no DOM
 * types), is true. Evaluated from the outside (DevTools' `Runtime.evaluate`), not with
 * `page.waitForFunction`, which evaluates a string with `eval` in the page: the board's CSP
 * refuses that, as it should.
 */
const waitFor = (page: Page, label: string, timeoutMs: number, expression: string) =>
  Effect.promise(() => page.evaluate(`Boolean(${expression})`) as Promise<boolean>).pipe(
    Effect.filterOrFail((done) => done, () => "not yet" as const),
    Effect.retry({ while: (e) => e === "not yet", schedule: Schedule.spaced("50 millis") }),
    Effect.timeoutOrElse({
      duration: timeoutMs,
      orElse: () => Effect.fail(new Error(`${label}: not within ${timeoutMs} ms`))
    })
  )

interface Card {
  readonly room: string
  readonly stalled: boolean
  readonly inFlight: string
  readonly members: ReadonlyArray<readonly [string, string]>
}

/** The board's room cards, in order: name, stalled flag, in-flight id, members and their states. */
const cards = (page: Page) =>
  Effect.promise(() =>
    page.evaluate(`[...document.querySelectorAll("main article")].map((el) => ({
      room: el.dataset.room,
      stalled: el.dataset.stalled === "true",
      inFlight: el.dataset.inflight,
      members: [...el.querySelectorAll("li[data-member]")].map((li) => [li.dataset.member, li.dataset.state])
    }))`) as Promise<ReadonlyArray<Card>>
  )

describe.skipIf(executablePath === undefined)("monitor board in Chromium", () => {
  it.live(
    "lists discovered rooms, the stalled one first with its holder, and follows acks and ejections",
    () =>
      Effect.gen(function*() {
        const engine = yield* Engine.memory("browser test")
        const { monitor, stuck } = yield* MonitorApp.traffic(engine, "board-test")
        const base = yield* MonitorApp.serve(monitor, {
          port: 0,
          host: "127.0.0.1",
          monitor: { stalledAfter: "1 second", pollInterval: "250 millis" }
        })
        const b = yield* browser
        const page = yield* Effect.promise(() => b.newPage({ viewport: { width: 420, height: 640 } }))
        // what the page's Content-Security-Policy refused (Chromium reports it on the console)
        const refused: Array<string> = []
        page.on("console", (message) => {
          if (/Content Security Policy/i.test(message.text())) refused.push(message.text())
        })
        const response = yield* Effect.promise(() => page.goto(`${base}/`))
        // the board runs under its CSP (its own script and style allowed by hash, nothing else):
        // the live updates below would not render if the policy blocked its script
        expect(response?.headers()["content-security-policy"]).toMatch(/script-src 'sha256-[^']+'/)
        expect(response?.headers()["content-security-policy"]).not.toMatch(/unsafe-inline/)

        // rooms nobody configured, the stalled one first, its holder marked
        yield* waitFor(
          page,
          "match-2 shown stalled first",
          5_000,
          `document.querySelector("main article")?.dataset.room === "match-2" &&
            document.querySelector("main article").dataset.stalled === "true"`
        )
        const before = yield* cards(page)
        expect(before.map((c) => c.room)).toEqual(["match-2", "match-1"])
        expect(before[0]!.members).toEqual([[stuck.clientId, "holding"]])
        expect(before[1]!.stalled).toBe(false)
        // a monitor without actions is read-only: no button, no token
        expect(
          yield* Effect.promise(() =>
            page.evaluate(
              `document.querySelectorAll("button").length + document.querySelectorAll("meta[name='lockstep-token']").length`
            )
          )
        ).toBe(0)
        yield* Effect.promise(() => page.screenshot({ path: screenshot, fullPage: true }))

        // the holder acks: the next message is in flight on the board within 2 s, no reload
        const held = before[0]!.inFlight!
        yield* stuck.ackOne
        const ackedAt = Date.now()
        yield* waitFor(
          page,
          "the board follows the ack",
          2_000,
          `((card) => card !== null && card.dataset.inflight !== "" && card.dataset.inflight !== ${
            JSON.stringify(held)
          })(
            document.querySelector("main article[data-room='match-2']"))`
        )
        const ackSeenMs = Date.now() - ackedAt

        // the holder crashes: once the server ejected it (S10), the board shows it gone within 2 s
        yield* stuck.cut
        const http = yield* HttpClient.HttpClient
        yield* http.get(`${base}/rooms/match-2`).pipe(
          Effect.flatMap((response) => response.json),
          Effect.flatMap((body) =>
            ((body as { members?: Array<unknown> }).members ?? []).length > 0
              ? Effect.fail("still a member" as const)
              : Effect.void
          ),
          Effect.retry({ while: (e) => e === "still a member", schedule: Schedule.spaced("50 millis") }),
          Effect.timeout("10 seconds")
        )
        const ejectedAt = Date.now()
        yield* waitFor(
          page,
          "the board shows the ejected holder",
          2_000,
          `document.querySelector(${JSON.stringify(`#gone-list li[data-client='${stuck.clientId}']`)}) !== null &&
          document.querySelector("main article[data-room='match-2'][data-stalled='true']") === null`
        )
        const ejectSeenMs = Date.now() - ejectedAt

        // a room name is user data: markup in it is shown as text, never parsed as HTML
        const hostile = `<img src=x onerror="window.__lockstepPwned=1"><b>bold</b>"'&amp;`
        yield* monitor.subscribe(hostile) // a member: the room is active (S26)
        yield* monitor.send(hostile, { move: 0 })
        yield* waitFor(
          page,
          "the hostile room shown",
          5_000,
          `[...document.querySelectorAll("main article")].some((el) => el.dataset.room === ${JSON.stringify(hostile)})`
        )
        const rendered = yield* Effect.promise(() =>
          page.evaluate(`(() => {
            const card = [...document.querySelectorAll("main article")]
              .find((el) => el.dataset.room === ${JSON.stringify(hostile)})
            return {
              name: card.querySelector("h2 span").textContent,
              markup: document.querySelectorAll("main img, main b").length,
              ran: window.__lockstepPwned !== undefined
            }
          })()`) as Promise<{ readonly name: string; readonly markup: number; readonly ran: boolean }>
        )
        expect(rendered).toEqual({ name: hostile, markup: 0, ran: false })
        expect(refused).toEqual([])
        expect(
          yield* Effect.promise(() => page.evaluate(`performance.getEntriesByType("navigation").length`))
        ).toBe(1)
        yield* Effect.log(`board followed the ack in ${ackSeenMs} ms, the ejection in ${ejectSeenMs} ms`)
      }).pipe(Effect.provide(FetchHttpClient.layer)),
    60_000
  )

  it.live(
    "with actions: pause, skip, browse dead letters, redrive, resume and eject from the board; hostile data stays text",
    () =>
      Effect.gen(function*() {
        const broker = yield* MemoryLayer.makeBroker
        const engine = Engine.memoryOn("browser test")(broker)
        const { monitor, stuck } = yield* MonitorApp.traffic(engine, "actions-test")
        // the operator's side: a client of the prefix of its own
        const { admin } = yield* MemoryLayer.makeClient({ keyPrefix: "actions-test" }).pipe(
          Effect.provideService(MemoryLayer.MemoryBroker, broker)
        )
        const base = yield* MonitorApp.serve(monitor, {
          port: 0,
          host: "127.0.0.1",
          monitor: { stalledAfter: "1 second", pollInterval: "250 millis" },
          // the operator header a proxy in front of the board would set once it authenticated someone
          actions: { admin, authorize: (request) => Effect.succeed(request.headers["x-operator"] === "ada") }
        })
        const b = yield* browser
        const page = yield* Effect.promise(() => b.newPage({ viewport: { width: 900, height: 760 } }))
        yield* Effect.promise(() => page.setExtraHTTPHeaders({ "x-operator": "ada" }))
        const refused: Array<string> = []
        page.on("console", (message) => {
          if (/Content Security Policy/i.test(message.text())) refused.push(message.text())
        })
        // eject, skip and purge ask first
        const asked: Array<string> = []
        page.on("dialog", (dialog) => {
          asked.push(dialog.message())
          void dialog.accept()
        })
        yield* Effect.promise(() => page.goto(`${base}/`))
        const card = (room: string) => `main article[data-room=${JSON.stringify(room)}]`
        /** The expression for the first element matching `selector` (in the page). */
        const q = (selector: string) => `document.querySelector(${JSON.stringify(selector)})`
        const click = (selector: string) => Effect.promise(() => page.click(selector, { timeout: 5_000 }))
        const server = (room: string) => monitor.roomState(room)
        yield* waitFor(
          page,
          "match-2 with its buttons",
          5_000,
          q(`${card("match-2")} button[data-action='pause']`)
        )

        // pause: the server's room is paused and the card says so
        yield* click(`${card("match-2")} button[data-action='pause']`)
        yield* waitFor(
          page,
          "match-2 shown paused",
          2_000,
          q(`${card("match-2")}[data-paused='true'] .badge.paused`)
        )
        expect((yield* server("match-2")).paused).toBe(true)
        const backlog = (yield* server("match-2")).backlog

        // skip the in-flight message: a dead letter for the holder; paused, nothing else is released
        const skipped = (yield* Effect.promise(() => page.evaluate(`${q(card("match-2"))}.dataset.inflight`))) as string
        yield* click(`${card("match-2")} button[data-action='skip']`)
        yield* waitFor(
          page,
          "the skip done",
          2_000,
          `${q(card("match-2"))}.dataset.inflight === ""`
        )
        expect((yield* server("match-2")).backlog).toBe(backlog)

        // browse the room's dead letters: the skipped message, for the holder
        yield* click(`${card("match-2")} button[data-action='letters']`)
        yield* waitFor(page, "the letters shown", 2_000, `document.querySelector("#letters-list li[data-id]")`)
        const letters = yield* Effect.promise(() =>
          page.evaluate(
            `[...document.querySelectorAll("#letters-list li[data-id]")].map((li) => [li.dataset.id, li.dataset.member, li.dataset.reason])`
          )
        )
        expect(letters).toEqual([[skipped, stuck.clientId, "skipped"]])
        yield* Effect.promise(() => page.screenshot({ path: path.join(docs, "board-actions.png"), fullPage: true }))

        // redrive it: a copy is queued (the room is paused: it waits), the letter is gone
        yield* click(`#letters-list li[data-id=${JSON.stringify(skipped)}] button[data-action='redrive']`)
        yield* waitFor(
          page,
          "the letter redriven",
          2_000,
          `document.querySelector("#letters-list li[data-id]") === null &&
          document.querySelector("#said").textContent.includes("redriven")`
        )
        expect((yield* server("match-2")).backlog).toBe(backlog + 1)
        yield* waitFor(
          page,
          "the backlog on the board",
          2_000,
          `${q(`${card("match-2")} dd.backlog`)}.textContent === "${backlog + 1}"`
        )

        // resume: the next message is released to the holder
        yield* click(`${card("match-2")} button[data-action='resume']`)
        yield* waitFor(
          page,
          "match-2 resumed, a message in flight",
          2_000,
          `((c) => c.dataset.paused === "false" && c.dataset.inflight !== "")(
          ${q(card("match-2"))})`
        )
        expect((yield* server("match-2")).paused).toBe(false)

        // eject the holder: it is no member any more, on the server and on the board
        yield* click(`${card("match-2")} li[data-member=${JSON.stringify(stuck.clientId)}] button[data-action='eject']`)
        yield* waitFor(
          page,
          "the holder ejected",
          2_000,
          `${q(`${card("match-2")} li[data-member]`)} === null`
        )
        expect((yield* server("match-2")).members).toEqual([])
        expect(asked.map((question) => question.split(" ")[0])).toEqual(["Skip", "Eject"])

        // a hostile room, with a member holding hostile data: skip its message from its card, list
        // its letters; nothing of it is markup
        const hostile = `<img src=x onerror="window.__lockstepPwned=1"><b>room</b>`
        const hostileData = { html: `<img src=y onerror="window.__lockstepPwned=2"><i>data</i>` }
        yield* monitor.subscribe(hostile)
        yield* monitor.send(hostile, hostileData)
        yield* click(`${card(hostile)} button[data-action='skip']`)
        yield* click(`${card(hostile)} button[data-action='letters']`)
        yield* waitFor(
          page,
          "the hostile letter shown",
          2_000,
          `document.querySelector("#letters").dataset.room === ${JSON.stringify(hostile)} &&
          document.querySelector("#letters-list li[data-id]") !== null`
        )
        const rendered = (yield* Effect.promise(() =>
          page.evaluate(`({
            room: document.querySelector("#letters-room").textContent,
            data: document.querySelector("#letters-list li[data-id] code").textContent,
            markup: document.querySelectorAll("main img, main b, #letters img, #letters i").length,
            ran: window.__lockstepPwned !== undefined
          })`)
        )) as { readonly room: string; readonly data: string; readonly markup: number; readonly ran: boolean }
        expect(rendered).toEqual({ room: hostile, data: JSON.stringify(hostileData), markup: 0, ran: false })
        expect(refused).toEqual([])
        expect(yield* Effect.promise(() => page.evaluate(`performance.getEntriesByType("navigation").length`))).toBe(1)
      }).pipe(Effect.provide(FetchHttpClient.layer)),
    60_000
  )
})

/**
 * The board served at `/`: one HTML document with its CSS and script inline (no bundler, no
 * assets). It listens to `events` (server-sent events, relative to where the router is mounted)
 * and redraws from each snapshot; ages tick in the page between snapshots. Room names, client
 * ids, reasons and message data are user data: they only ever reach the DOM as text
 * (`textContent`), never as HTML. With board actions, a page for a viewer who may act carries its
 * token in a `<meta>` element and shows buttons; one click listener per section acts (no inline
 * handler), by `fetch` with the token in a header.
 *
 * The page is served with a Content-Security-Policy that allows exactly its own style and script
 * (by their SHA-256 hashes), event streams from its origin and nothing else: no other script, no
 * inline event handler, no image, no frame around it.
 */
import * as Digest from "effect/crypto/Digest"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"
import * as Option from "effect/Option"

const style = `
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1d2330; --muted: #667085;
  --line: #d9dde5; --stall: #c62828; --stall-bg: #fdecea; --ok: #2e7d32; --ok-bg: #e8f5e9; --hold: #b26a00; --hold-bg: #fff4e0; }
@media (prefers-color-scheme: dark) { :root { --bg: #12151b; --card: #1b2029; --fg: #e6e9ef; --muted: #98a2b3;
  --line: #2c3340; --stall-bg: #3a1d1d; --ok-bg: #173222; --hold-bg: #3a2c12; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; gap: .25rem 1rem; align-items: baseline; padding: .75rem 1rem; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.1rem; margin: 0; }
#status { color: var(--muted); font-size: .85rem; }
#status.down { color: var(--stall); font-weight: 600; }
main { padding: 1rem; display: grid; gap: .75rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 280px), 1fr)); }
.room { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .6rem .75rem; min-width: 0; }
.room.stalled { border: 2px solid var(--stall); background: var(--stall-bg); }
.room h2 { font-size: 1rem; margin: 0 0 .35rem; display: flex; gap: .5rem; align-items: center; overflow-wrap: anywhere; }
.badge { font-size: .7rem; font-weight: 700; letter-spacing: .04em; padding: .05rem .4rem; border-radius: 4px; background: var(--stall); color: #fff; }
dl { display: grid; grid-template-columns: auto 1fr; gap: .1rem .6rem; margin: 0 0 .4rem; font-size: .85rem; }
dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
ul.members { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: .3rem; }
ul.members li { font-size: .8rem; padding: .1rem .45rem; border-radius: 999px; overflow-wrap: anywhere; }
li.acked { background: var(--ok-bg); color: var(--ok); }
li.holding { background: var(--hold-bg); color: var(--hold); font-weight: 600; }
li.idle { background: transparent; border: 1px solid var(--line); color: var(--muted); }
section#gone { padding: 0 1rem 1rem; }
section#gone h2 { font-size: .95rem; margin: .25rem 0; }
section#gone ol { margin: 0; padding-left: 1.25rem; font-size: .85rem; color: var(--muted); }
.empty { color: var(--muted); }
ol li.empty { list-style: none; margin-left: -1.25rem; }
.badge.paused { background: var(--hold); }
#said { font-size: .85rem; color: var(--ok); overflow-wrap: anywhere; }
#said.down { color: var(--stall); font-weight: 600; }
button { font: inherit; font-size: .75rem; padding: .05rem .45rem; border-radius: 4px; border: 1px solid var(--line);
  background: var(--card); color: var(--fg); cursor: pointer; }
button:hover { border-color: var(--muted); }
ul.members li button { margin-left: .35rem; padding: 0 .3rem; font-size: .7rem; }
.tools { display: flex; flex-wrap: wrap; gap: .3rem; margin-top: .45rem; }
section#letters { margin: 0 1rem 1rem; padding: .6rem .75rem; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
section#letters h2 { font-size: .95rem; margin: 0 0 .35rem; overflow-wrap: anywhere; }
section#letters ol { margin: 0 0 .4rem; padding-left: 1.25rem; font-size: .85rem; }
section#letters li { margin-bottom: .35rem; overflow-wrap: anywhere; }
section#letters code { display: block; color: var(--muted); margin: .1rem 0; }
`

const script = `
const base = location.pathname.replace(/\\/$/, "");
const main = document.querySelector("main"), status = document.getElementById("status"), gone = document.getElementById("gone-list");
const tokenMeta = document.querySelector('meta[name="lockstep-token"]'), token = tokenMeta === null ? null : tokenMeta.content;
const said = document.getElementById("said"), letters = document.getElementById("letters") ?? document.createElement("section");
const lettersRoom = document.getElementById("letters-room"), lettersList = document.getElementById("letters-list"), lettersMore = document.getElementById("letters-more");
let board = null, offset = 0, layout = "", lettersOf = null, lettersCursor = null;
const el = (tag, props, ...children) => { const e = document.createElement(tag); Object.assign(e, props);
  for (const c of children) if (c !== null) e.append(c); return e; };
const button = (action, text, data) => { const b = el("button", { type: "button", textContent: text });
  b.dataset.action = action; Object.assign(b.dataset, data); return b; };
const age = (iso) => Math.max(0, Date.now() - offset - Date.parse(iso));
const fmt = (ms) => ms < 1000 ? ms + " ms" : ms < 60000 ? (ms / 1000).toFixed(1) + " s" : Math.floor(ms / 60000) + " min " + Math.floor(ms % 60000 / 1000) + " s";
const flight = (f) => f.id + " · " + fmt(age(f.releasedAt));
const isStalled = (r) => r.inFlight !== null && board.stalled.some((s) => s.room === r.room) && age(r.inFlight.releasedAt) >= board.stalledAfterMs;
const layoutOf = () => board.rooms.map((r) => isStalled(r) ? "!" : ".").join("");
function render() {
  if (board === null) return;
  layout = layoutOf();
  const order = new Map(board.stalled.map((s, i) => [s.room, i]));
  const rooms = board.rooms.map((r) => ({ r, stalled: isStalled(r) }));
  rooms.sort((a, b) => a.stalled !== b.stalled ? (a.stalled ? -1 : 1)
    : a.stalled ? order.get(a.r.room) - order.get(b.r.room) : (a.r.room < b.r.room ? -1 : a.r.room > b.r.room ? 1 : 0));
  const cards = rooms.map(({ r, stalled }) => {
    const h = el("h2", {}, el("span", { textContent: r.room }));
    if (stalled) h.append(el("span", { className: "badge", textContent: "STALLED" }));
    if (r.paused) h.append(el("span", { className: "badge paused", textContent: "PAUSED" }));
    const inflight = el("dd", { className: "inflight", textContent: r.inFlight === null ? "—" : flight(r.inFlight) });
    if (r.inFlight !== null) { inflight.dataset.id = r.inFlight.id; inflight.dataset.released = r.inFlight.releasedAt; }
    const dl = el("dl", {}, el("dt", { textContent: "backlog" }), el("dd", { textContent: String(r.backlog), className: "backlog" }),
      el("dt", { textContent: "in flight" }), inflight);
    const members = el("ul", { className: "members" }, ...r.members.map((m) => {
      const state = r.inFlight === null ? "idle" : m.acked ? "acked" : "holding";
      const li = el("li", { className: state, textContent: m.id + (state === "idle" ? "" : " · " + state) });
      if (token !== null) li.append(button("eject", "eject", { client: m.id }));
      li.dataset.member = m.id; li.dataset.state = state; return li;
    }));
    if (r.members.length === 0) members.append(el("li", { className: "idle", textContent: "no sync members" }));
    const tools = token === null ? null : el("div", { className: "tools" },
      r.paused ? button("resume", "resume", {}) : button("pause", "pause", {}),
      r.inFlight === null ? null : button("skip", "skip in-flight", {}),
      r.backlog === 0 ? null : button("purge", "purge backlog", {}),
      button("letters", "dead letters", {}));
    const card = el("article", { className: "room" + (stalled ? " stalled" : "") }, h, dl, members, tools);
    card.dataset.room = r.room; card.dataset.stalled = String(stalled); card.dataset.paused = String(r.paused === true);
    card.dataset.inflight = r.inFlight === null ? "" : r.inFlight.id;
    return card;
  });
  main.replaceChildren(...(cards.length > 0 ? cards : [el("p", { className: "empty", textContent: "no active rooms" })]));
  gone.replaceChildren(...board.departures.map((d) => { const li = el("li", { textContent:
    new Date(d.at).toLocaleTimeString() + " — " + d.client + " gone from " + d.room + " while holding " + d.message });
    li.dataset.room = d.room; li.dataset.client = d.client; return li; }));
  if (board.departures.length === 0) gone.append(el("li", { className: "empty", textContent: "none seen since this page opened" }));
}
function tick() {
  if (board === null) return;
  if (layoutOf() !== layout) return render();
  for (const dd of main.querySelectorAll("dd.inflight[data-id]")) dd.textContent = flight({ id: dd.dataset.id, releasedAt: dd.dataset.released });
}
const tell = (text, failed) => { said.className = failed ? "down" : ""; said.textContent = text; };
const roomPath = (room) => base + "/rooms/" + encodeURIComponent(room);
const headers = token === null ? {} : { "content-type": "application/json", "x-lockstep-token": token };
async function call(method, url, body) {
  try {
    const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin", cache: "no-store" });
    const answer = await r.json();
    if (r.ok) return answer;
    tell(r.status + ": " + answer.error, true);
  } catch (e) { tell("failed: " + e.message, true); }
  return null;
}
const done = {
  eject: (a) => a.client + " ejected from " + a.room,
  pause: (a) => a.room + (a.changed ? " paused" : " was paused already"),
  resume: (a) => a.room + (a.changed ? " resumed" : " was not paused"),
  skip: (a) => a.skipped === null ? "nothing in flight in " + a.room : a.skipped + " skipped in " + a.room,
  purge: (a) => a.purged + " queued messages dropped from " + a.room,
  redrive: (a) => a.id + " redriven into " + a.room + " as " + a.redriven
};
const asks = {
  eject: (room, b) => "Eject " + b.dataset.client + " from " + room + "? What it holds is released as for a leave; a durable client does not resume this membership.",
  skip: (room) => "Skip the in-flight message of " + room + "? It becomes a dead letter for every member that has not acked it.",
  purge: (room) => "Drop every queued message of " + room + "?"
};
async function act(action, room, body) {
  tell(action + " " + room + "…", false);
  const answer = await call("POST", roomPath(room) + "/" + action, body);
  if (answer !== null) tell(done[action](answer), false);
  if (lettersOf === room) await browse(room, null);
}
async function browse(room, cursor) {
  const answer = await call("GET", base + "/dead-letters/" + encodeURIComponent(room) + "?limit=20" + (cursor === null ? "" : "&cursor=" + encodeURIComponent(cursor)));
  if (answer === null) return;
  if (cursor === null) lettersList.replaceChildren();
  lettersOf = room; lettersCursor = answer.cursor; lettersRoom.textContent = room; letters.hidden = false; letters.dataset.room = room;
  for (const l of answer.letters) {
    const data = JSON.stringify(l.message.data);
    const li = el("li", {}, el("div", { textContent: l.message.id + " · " + l.reason + " · member " + l.member + " · attempts " + l.attempts
      + " · " + new Date(l.at).toLocaleString() }), el("code", { textContent: data.length > 500 ? data.slice(0, 500) + "…" : data }),
      button("redrive", "redrive", { id: l.message.id }));
    li.dataset.id = l.message.id; li.dataset.member = l.member; li.dataset.reason = l.reason; lettersList.append(li);
  }
  if (lettersList.children.length === 0) lettersList.append(el("li", { className: "empty", textContent: "no dead letters" }));
  lettersMore.hidden = answer.cursor === null;
}
main.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-action]"); if (b === null) return;
  const room = b.closest("article").dataset.room, action = b.dataset.action;
  if (action === "letters") return void browse(room, null);
  if (asks[action] !== undefined && !confirm(asks[action](room, b))) return;
  void act(action, room, action === "eject" ? { client: b.dataset.client } : {});
});
letters.addEventListener("click", (e) => {
  const b = e.target.closest("button"); if (b === null || lettersOf === null) return;
  if (b.id === "letters-close") { letters.hidden = true; lettersOf = null; return; }
  if (b.id === "letters-more") return void browse(lettersOf, lettersCursor);
  if (b.dataset.action === "redrive") void act("redrive", lettersOf, { id: b.dataset.id });
});
const events = new EventSource(base + "/events");
events.onmessage = (e) => { board = JSON.parse(e.data); offset = Date.now() - Date.parse(board.now);
  status.className = ""; status.textContent = board.rooms.length + " active rooms" + (board.truncated ? " (first " + board.rooms.length + " shown)" : "")
    + " · " + board.knownClients + " clients · updated " + new Date().toLocaleTimeString();
  document.body.dataset.updated = board.now; render(); };
events.addEventListener("failure", (e) => { status.className = "down"; status.textContent = "queue error: " + JSON.parse(e.data).error; });
events.onerror = () => { status.className = "down"; status.textContent = "disconnected, retrying…"; };
setInterval(tick, 500);
`

const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** The dead-letter panel of a board with actions (hidden until a room's letters are asked for). */
const letters = `<section id="letters" hidden><h2>Dead letters of <span id="letters-room"></span> \
<button type="button" id="letters-close">close</button></h2>
<ol id="letters-list"></ol><button type="button" id="letters-more" hidden>more</button></section>
`

/** The board document; with a token (board actions, for a viewer who may act) it shows the buttons. */
export const page = (title: string, token: Option.Option<string>): string =>
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${
    Option.match(token, {
      onNone: () => "",
      onSome: (t) => `<meta name="lockstep-token" content="${escapeHtml(t)}">\n`
    })
  }<title>${escapeHtml(title)}</title>
<style>${style}</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1><span id="status">connecting…</span><span id="said" role="status"></span></header>
<main><p class="empty">waiting for the first snapshot…</p></main>
${Option.isSome(token) ? letters : ""}
<section id="gone"><h2>Holders gone (left or ejected while the room waited for them)</h2><ol id="gone-list"></ol></section>
<script>${script}</script>
</body>
</html>
`

const encoder = new TextEncoder()

/** The CSP source of an inline element's exact text. */
const hashSource = (digest: Digest.Digest["Service"], text: string) =>
  Effect.map(digest.digest(Digest.sha256, encoder.encode(text)), (hash) => `'sha256-${Base64.encode(hash)}'`)

/**
 * The headers of the board: a Content-Security-Policy naming the hashes of its inline style and
 * script, `nosniff`, and frame protection (CSP `frame-ancestors` and `X-Frame-Options` for older
 * browsers).
 */
export const headers: Effect.Effect<Readonly<Record<string, string>>> = Effect.gen(function*() {
  const digest = yield* Digest.Digest
  const policy = [
    "default-src 'none'",
    `script-src ${yield* hashSource(digest, script)}`,
    `style-src ${yield* hashSource(digest, style)}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join("; ")
  return {
    "content-security-policy": policy,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    // a page carries a token of its own (with actions): never served from a cache
    "cache-control": "no-store"
  }
}).pipe(Effect.provide(Digest.layerWebCrypto))

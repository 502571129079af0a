/**
 * The board served at `/`: one HTML document with its CSS and script inline (no bundler, no
 * assets). It listens to `events` (server-sent events, relative to where the router is mounted)
 * and redraws from each snapshot; ages tick in the page between snapshots. Room names and client
 * ids are user data: they only ever reach the DOM as text (`textContent`), never as HTML.
 *
 * The page is served with a Content-Security-Policy that allows exactly its own style and script
 * (by their SHA-256 hashes), event streams from its origin and nothing else: no other script, no
 * inline event handler, no image, no frame around it.
 */
import * as Digest from "effect/crypto/Digest"
import * as Effect from "effect/Effect"
import * as Base64 from "effect/encoding/Base64"

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
`

const script = `
const base = location.pathname.replace(/\\/$/, "");
const main = document.querySelector("main"), status = document.getElementById("status"), gone = document.getElementById("gone-list");
let board = null, offset = 0;
const el = (tag, props, ...children) => { const e = document.createElement(tag); Object.assign(e, props);
  for (const c of children) e.append(c); return e; };
const age = (iso) => Math.max(0, Date.now() - offset - Date.parse(iso));
const fmt = (ms) => ms < 1000 ? ms + " ms" : ms < 60000 ? (ms / 1000).toFixed(1) + " s" : Math.floor(ms / 60000) + " min " + Math.floor(ms % 60000 / 1000) + " s";
function render() {
  if (board === null) return;
  const order = new Map(board.stalled.map((s, i) => [s.room, i]));
  const isStalled = (r) => r.inFlight !== null && order.has(r.room) && age(r.inFlight.releasedAt) >= board.stalledAfterMs;
  const rooms = board.rooms.map((r) => ({ r, stalled: isStalled(r) }));
  rooms.sort((a, b) => a.stalled !== b.stalled ? (a.stalled ? -1 : 1)
    : a.stalled ? order.get(a.r.room) - order.get(b.r.room) : (a.r.room < b.r.room ? -1 : a.r.room > b.r.room ? 1 : 0));
  const cards = rooms.map(({ r, stalled }) => {
    const h = el("h2", {}, el("span", { textContent: r.room }));
    if (stalled) h.append(el("span", { className: "badge", textContent: "STALLED" }));
    const dl = el("dl", {}, el("dt", { textContent: "backlog" }), el("dd", { textContent: String(r.backlog), className: "backlog" }),
      el("dt", { textContent: "in flight" }), el("dd", { className: "inflight",
        textContent: r.inFlight === null ? "—" : r.inFlight.id + " · " + fmt(age(r.inFlight.releasedAt)) }));
    const members = el("ul", { className: "members" }, ...r.members.map((m) => {
      const state = r.inFlight === null ? "idle" : m.acked ? "acked" : "holding";
      const li = el("li", { className: state, textContent: m.id + (state === "idle" ? "" : " · " + state) });
      li.dataset.member = m.id; li.dataset.state = state; return li;
    }));
    if (r.members.length === 0) members.append(el("li", { className: "idle", textContent: "no sync members" }));
    const card = el("article", { className: "room" + (stalled ? " stalled" : "") }, h, dl, members);
    card.dataset.room = r.room; card.dataset.stalled = String(stalled);
    card.dataset.inflight = r.inFlight === null ? "" : r.inFlight.id;
    return card;
  });
  main.replaceChildren(...(cards.length > 0 ? cards : [el("p", { className: "empty", textContent: "no active rooms" })]));
  gone.replaceChildren(...board.departures.map((d) => { const li = el("li", { textContent:
    new Date(d.at).toLocaleTimeString() + " — " + d.client + " gone from " + d.room + " while holding " + d.message });
    li.dataset.room = d.room; li.dataset.client = d.client; return li; }));
  if (board.departures.length === 0) gone.append(el("li", { className: "empty", textContent: "none seen since this page opened" }));
}
const events = new EventSource(base + "/events");
events.onmessage = (e) => { board = JSON.parse(e.data); offset = Date.now() - Date.parse(board.now);
  status.className = ""; status.textContent = board.rooms.length + " active rooms" + (board.truncated ? " (first " + board.rooms.length + " shown)" : "")
    + " · " + board.knownClients + " clients · updated " + new Date().toLocaleTimeString();
  document.body.dataset.updated = board.now; render(); };
events.addEventListener("failure", (e) => { status.className = "down"; status.textContent = "queue error: " + JSON.parse(e.data).error; });
events.onerror = () => { status.className = "down"; status.textContent = "disconnected, retrying…"; };
setInterval(render, 500);
`

const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** The board document. */
export const page = (title: string): string =>
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1><span id="status">connecting…</span></header>
<main><p class="empty">waiting for the first snapshot…</p></main>
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
    "referrer-policy": "no-referrer"
  }
}).pipe(Effect.provide(Digest.layerWebCrypto))

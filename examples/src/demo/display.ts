/**
 * The demo's output: on a terminal (or with `DEMO_LIVE=1`) a live status block redrawn in place
 * under the log lines, plain timestamped lines otherwise (`DEMO_PLAIN` forces them). Effect's log
 * lines (e.g. the worker's warnings) go through the same channel, dimmed.
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { dim, truncate } from "../internal/format.js"

/** Where Effect log lines go: stderr until a display takes over. */
let logSink = (line: string) => {
  process.stderr.write(line + "\n")
}

/** The demo's logger: one line per log, through the current display. */
export const logger = Logger.make(({ logLevel, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map((m) =>
    typeof m === "string" ? m : m instanceof Error ? m.message : JSON.stringify(m)
  ).join(" ")
  logSink(`${logLevel.toLowerCase()}: ${text}`)
})

export interface Display {
  /** a live block is drawn (terminal), else plain lines */
  readonly tty: boolean
  /** seconds since the display was made */
  readonly elapsed: () => number
  /** terminal width (at least 20) */
  readonly columns: () => number
  /** write raw text (header lines, the summary) */
  readonly write: (text: string) => void
  /** a timestamped line above the block */
  readonly say: (line: string) => Effect.Effect<void>
  /** what the block shows, called at each redraw */
  readonly setBlock: (render: () => string) => void
  /** draw the block again */
  readonly redraw: Effect.Effect<void>
  /** take the block off the screen for good (before the summary) */
  readonly clear: () => void
}

export const make = (): Display => {
  const tty = (process.stdout.isTTY === true || process.env["DEMO_LIVE"] === "1") &&
    process.env["DEMO_PLAIN"] === undefined
  const t0 = performance.now()
  const elapsed = () => (performance.now() - t0) / 1000
  const stamp = () => dim(`${elapsed().toFixed(1).padStart(5)}s`)
  /** a pty without a size reports 0 */
  const columns = () => Math.max(20, process.stdout.columns || 80)
  const write = (text: string) => {
    process.stdout.write(text)
  }
  let blockLines = 0
  let renderBlock: () => string = () => ""
  const clearBlock = () => {
    if (blockLines > 0) write(`\u001b[${blockLines}F\u001b[J`)
    blockLines = 0
  }
  const drawBlock = () => {
    const block = renderBlock()
    if (block === "") return
    // one terminal row per line, or the cursor-up count would be off
    const lines = block.split("\n").map((line) => truncate(line, columns()))
    write(lines.join("\n") + "\n")
    blockLines = lines.length
  }
  const line = (text: string) => {
    if (tty) clearBlock()
    write(`${stamp()}  ${text}\n`)
    if (tty) drawBlock()
  }
  logSink = (text) => line(dim(text))
  return {
    tty,
    elapsed,
    columns,
    write,
    say: (text) => Effect.sync(() => line(text)),
    setBlock: (render) => {
      renderBlock = render
    },
    redraw: Effect.sync(() => {
      clearBlock()
      drawBlock()
    }),
    clear: () => {
      clearBlock()
      renderBlock = () => ""
    }
  }
}

/**
 * Text for a terminal: user data shown safely on one line (`shown`), durations and times, and
 * aligned tables. Pure functions; the command views (`views.ts`) are built from them.
 */
import { displayWidth } from "effect/cli/CliOutput"

/**
 * Characters that would break a line or a table, or change how the terminal shows what follows:
 * C0 and C1 controls (escape sequences, newlines), format characters (bidirectional overrides,
 * zero-width characters) and the Unicode line and paragraph separators.
 */
const unsafe = /[\p{Cc}\p{Cf}\u2028\u2029]/u
const unsafeGlobal = /[\p{Cc}\p{Cf}\u2028\u2029]/gu

/**
 * A user-given string (a room name, a client id, a reason) as it can be printed in a table:
 * unchanged when it is plain text without blanks at either end, else quoted as a JSON string with
 * every unsafe character escaped (`"a\nb"`, `"\u202eevil"`), so that what is printed can be told
 * apart and typed back.
 */
export const shown = (text: string): string =>
  unsafe.test(text) || text !== text.trim() || text === "" || text.startsWith("\"")
    ? escapeUnsafe(JSON.stringify(text))
    : text

/** Escape what `JSON.stringify` leaves raw but a terminal would act on (format characters, C1). */
const escapeUnsafe = (json: string): string =>
  json.replace(unsafeGlobal, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * JSON data on one line, at most `max` characters (cut with `…`), with unsafe characters escaped:
 * the data column of `peek` and `dead-letters`.
 */
export const dataPreview = (data: unknown, max = 60): string => {
  const json = escapeUnsafe(JSON.stringify(data) ?? "null")
  return json.length <= max ? json : `${json.slice(0, Math.max(0, max - 1))}…`
}

/** A duration in milliseconds, short: `850ms`, `12.4s`, `3m 05s`, `2h 03m`, `3d 04h`. */
export const age = (ms: number): string => {
  if (!Number.isFinite(ms) || ms < 0) return "0ms"
  if (ms < 1000) return `${Math.floor(ms)}ms`
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`
  const two = (n: number) => String(n).padStart(2, "0")
  const s = Math.floor(ms / 1000)
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${two(Math.floor(s / 60) % 60)}m`
  return `${Math.floor(s / 86_400)}d ${two(Math.floor(s / 3600) % 24)}h`
}

/** A time as ISO 8601 in UTC, to the millisecond. */
export const time = (date: Date): string => date.toISOString()

/** A column of a table: its header and whether its cells are right-aligned (numbers). */
export interface Column {
  readonly header: string
  readonly align?: "left" | "right" | undefined
}

/**
 * Rows under headers, each column as wide as its widest cell (by display width: wide characters
 * count two), two spaces apart, no trailing blanks. Cells are printed as given: pass user data
 * through `shown` first.
 */
export const table = (columns: ReadonlyArray<Column>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = columns.map((column, i) =>
    Math.max(displayWidth(column.header), ...rows.map((row) => displayWidth(row[i] ?? "")))
  )
  const line = (cells: ReadonlyArray<string>) =>
    columns.map((column, i) => {
      const cell = cells[i] ?? ""
      const pad = " ".repeat(widths[i]! - displayWidth(cell))
      return column.align === "right" ? pad + cell : cell + pad
    }).join("  ").trimEnd()
  return [line(columns.map((column) => column.header)), ...rows.map(line)].join("\n")
}

/** `1 message`, `2 messages`. */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`

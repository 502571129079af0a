/**
 * Small text helpers shared by the examples: durations, percentiles, aligned tables, colors.
 */

/** Colors only on a terminal, and never when `NO_COLOR` is set. */
export const colors = process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined

const paint = (code: string) => (text: string) => colors ? `\u001b[${code}m${text}\u001b[0m` : text
export const bold = paint("1")
export const dim = paint("2")
export const red = paint("31")
export const green = paint("32")
export const yellow = paint("33")
export const cyan = paint("36")

const ansi = /\u001b\[[0-9;]*m/g
/** Visible width of a string (ANSI codes do not count). */
export const width = (text: string): number => text.replace(ansi, "").length

/** Cut `text` to `columns` visible characters (ANSI codes kept, colors reset after a cut). */
export const truncate = (text: string, columns: number): string => {
  if (width(text) <= columns) return text
  let out = ""
  let visible = 0
  for (let i = 0; i < text.length && visible < columns - 1;) {
    const escape = /^\u001b\[[0-9;]*m/.exec(text.slice(i))
    if (escape !== null) {
      out += escape[0]
      i += escape[0].length
    } else {
      out += text[i]
      visible++
      i++
    }
  }
  return `${out}…${colors ? "\u001b[0m" : ""}`
}

/** Milliseconds for humans: `0.42 ms`, `4.2 ms`, `118 ms`, `1.23 s`. */
export const ms = (value: number | undefined): string => {
  if (value === undefined || !Number.isFinite(value)) return "–"
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`
  if (value >= 10) return `${Math.round(value)} ms`
  if (value >= 1) return `${value.toFixed(1)} ms`
  return `${value.toFixed(2)} ms`
}

/** The q-quantile (0..1) of `values`, nearest rank; undefined when empty. */
export const percentile = (values: ReadonlyArray<number>, q: number): number | undefined => {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

/**
 * Render rows as an aligned table. Columns listed in `right` are right-aligned; the first row is
 * the header.
 */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>, right: ReadonlyArray<number> = []): string => {
  const widths: Array<number> = []
  for (const row of rows) row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, width(cell)))
  return rows.map((row) =>
    row.map((cell, i) => {
      const pad = " ".repeat((widths[i] ?? 0) - width(cell))
      return right.includes(i) ? pad + cell : i === row.length - 1 ? cell : cell + pad
    }).join("   ").trimEnd()
  ).join("\n")
}

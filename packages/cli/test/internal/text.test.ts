/**
 * The text primitives of the command's output: user data shown safely on one line, durations,
 * tables aligned by display width.
 */
import { describe, expect, it } from "@effect/vitest"
import { age, dataPreview, plural, shown, table } from "../../src/internal/text.js"

describe("shown", () => {
  it("keeps plain text as it is", () => {
    expect(shown("orders")).toBe("orders")
    expect(shown("eu-1/kitchen β")).toBe("eu-1/kitchen β")
    expect(shown("a b")).toBe("a b")
  })

  it("quotes and escapes what would break a line or fool the terminal", () => {
    expect(shown("a\nb")).toBe("\"a\\nb\"")
    expect(shown("\u001b[31mred")).toBe("\"\\u001b[31mred\"")
    // a right-to-left override would reverse what follows it on the terminal
    expect(shown("evil\u202egnp.exe")).toBe("\"evil\\u202egnp.exe\"")
    expect(shown("zero\u200bwidth")).toBe("\"zero\\u200bwidth\"")
    expect(shown("line\u2028sep")).toBe("\"line\\u2028sep\"")
    expect(shown("c1\u0085")).toBe("\"c1\\u0085\"")
  })

  it("quotes what would be ambiguous: blanks at either end, a leading quote, the empty string", () => {
    expect(shown(" padded")).toBe("\" padded\"")
    expect(shown("padded ")).toBe("\"padded \"")
    expect(shown("\"quoted\"")).toBe("\"\\\"quoted\\\"\"")
    expect(shown("")).toBe("\"\"")
  })
})

describe("dataPreview", () => {
  it("is the JSON of the data, cut at the width with an ellipsis", () => {
    expect(dataPreview({ id: 1 })).toBe("{\"id\":1}")
    const long = dataPreview({ text: "x".repeat(100) }, 20)
    expect(long).toHaveLength(20)
    expect(long.endsWith("…")).toBe(true)
    expect(dataPreview("x".repeat(18), 20)).toBe(`"${"x".repeat(18)}"`)
  })

  it("escapes what JSON leaves raw but a terminal acts on", () => {
    expect(dataPreview("a\u202eb")).toBe("\"a\\u202eb\"")
    expect(dataPreview("a\nb")).toBe("\"a\\nb\"")
    expect(dataPreview(null)).toBe("null")
  })
})

describe("age", () => {
  it("is short at every scale", () => {
    expect(age(0)).toBe("0ms")
    expect(age(999)).toBe("999ms")
    expect(age(1000)).toBe("1.0s")
    expect(age(12_449)).toBe("12.4s")
    expect(age(59_999)).toBe("59.9s")
    expect(age(60_000)).toBe("1m 00s")
    expect(age(3_599_999)).toBe("59m 59s")
    expect(age(3_600_000)).toBe("1h 00m")
    expect(age(86_399_999)).toBe("23h 59m")
    expect(age(86_400_000 * 3 + 3_600_000 * 4)).toBe("3d 04h")
    expect(age(-5)).toBe("0ms")
  })
})

describe("table", () => {
  it("aligns columns by display width, numbers to the right, with no trailing blanks", () => {
    const text = table(
      [{ header: "ROOM" }, { header: "N", align: "right" }, { header: "NOTE" }],
      [["orders", "3", ""], ["厨房", "12", "wide"]]
    )
    expect(text.split("\n")).toEqual([
      "ROOM     N  NOTE",
      "orders   3",
      "厨房    12  wide"
    ])
  })

  it("is the header line alone without rows", () => {
    expect(table([{ header: "A" }, { header: "B" }], [])).toBe("A  B")
  })
})

it("plural", () => {
  expect(plural(1, "message")).toBe("1 message")
  expect(plural(0, "message")).toBe("0 messages")
  expect(plural(2, "dead letter")).toBe("2 dead letters")
})

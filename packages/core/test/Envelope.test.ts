import { describe, expect, it } from "@effect/vitest"
import { Envelope } from "@lockstep/core"
import * as Gen from "@lockstep/engine-suite/arbitrary"
import { Arbitrary, Result, Schema } from "effect"

const message = (d: unknown, k: "q" | "o" = "q"): Envelope.MessageEnvelope => ({
  k,
  p: "0123456789ab",
  s: 7,
  pr: -3,
  t: 1_700_000_000_000,
  d
})

const encoded = (envelope: Envelope.MessageEnvelope) => Result.getOrThrow(Envelope.encodeMessage(envelope))

describe("Envelope", () => {
  it("round-trips a message through encode, decode and decodeFrame", () => {
    for (const d of [null, 0, -1.5, "", "é🎉|{}", [], [1, [2]], { a: { b: [true, null] } }]) {
      for (const k of ["q", "o"] as const) {
        const json = encoded(message(d, k))
        expect(Envelope.decode(json)).toEqual(Result.succeed(message(d, k)))
        expect(Envelope.decodeFrame(`42|${json}`)).toEqual(Result.succeed({ event: 42, envelope: message(d, k) }))
      }
    }
  })

  it("round-trips an ejection notice", () => {
    for (const why of ["keepalive-timeout", "ack-timeout", "slow-consumer"] as const) {
      const frame = `0|${Envelope.encodeEject("client-1", why)}`
      expect(Envelope.decodeFrame(frame)).toEqual(
        Result.succeed({ event: 0, envelope: { k: "e", c: "client-1", why } })
      )
    }
  })

  it("refuses data that is not JSON", () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    for (const d of [undefined, () => 1, Symbol("s"), BigInt(1), { big: BigInt(2) }, circular]) {
      const result = Envelope.encodeMessage(message(d))
      expect(Result.isFailure(result)).toBe(true)
      expect(Result.getFailure(result).pipe((l) => l._tag === "Some" && l.value.includes("not JSON-serialisable")))
        .toBe(true)
    }
  })

  it("turns garbage into a Failure with a reason", () => {
    const good = encoded(message("x"))
    const frames = [
      "",
      "|",
      "no bar",
      `|${good}`,
      `x|${good}`,
      `-1|${good}`,
      `1.5|${good}`,
      `${"9".repeat(25)}|${good}`,
      `${2 ** 60}|${good}`,
      "1|not json",
      "1|",
      "1|null",
      "1|[]",
      "1|{}",
      "1|{\"k\":\"z\"}",
      `1|${JSON.stringify({ ...message("x"), s: -1 })}`,
      `1|${JSON.stringify({ ...message("x"), s: 1.5 })}`,
      `1|${JSON.stringify({ ...message("x"), pr: "high" })}`,
      `1|${JSON.stringify({ ...message("x"), p: 1 })}`,
      `1|${JSON.stringify({ k: "q", p: "a", s: 1, pr: 0, t: 0 })}`.replace("}", ",\"d\":}"),
      "1|{\"k\":\"e\",\"c\":\"x\",\"why\":\"bored\"}",
      "1|{\"k\":\"e\",\"why\":\"ack-timeout\"}"
    ]
    for (const frame of frames) {
      const result = Envelope.decodeFrame(frame)
      expect(Result.isFailure(result), frame).toBe(true)
      expect(typeof Result.getFailure(result).pipe((l) => (l._tag === "Some" ? l.value : undefined))).toBe("string")
    }
    expect(Result.isFailure(Envelope.decode("{"))).toBe(true)
    expect(Envelope.decode("{")).toEqual(Result.fail("not JSON"))
  })

  it.prop("decodeFrame never throws on arbitrary strings", [Gen.string, Gen.fullUnicodeString], ([a, b]) => {
    for (const frame of [a, b, `1|${a}`, `${b}|${a}`]) {
      const result = Envelope.decodeFrame(frame)
      expect(Result.isFailure(result) || Result.isSuccess(result)).toBe(true)
    }
  })

  it.prop(
    "decode never throws on arbitrary JSON",
    [Gen.jsonValue, Gen.nat()],
    ([value, event]) => {
      const json = JSON.stringify(value)
      expect(() => Envelope.decode(json)).not.toThrow()
      expect(() => Envelope.decodeFrame(`${event}|${json}`)).not.toThrow()
    }
  )

  it.prop(
    "any JSON data round-trips",
    {
      d: Gen.jsonValue,
      k: Gen.constantFrom("q", "o"),
      p: Arbitrary.schema(Schema.String.check(Schema.isBetweenLength(1, 20))),
      s: Gen.nat(),
      pr: Gen.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
      event: Gen.nat()
    },
    ({ d, event, k, p, pr, s }) => {
      const envelope = { k, p, s, pr, t: 1_700_000_000_000, d }
      const frame = `${event}|${encoded(envelope)}`
      const expected = { ...envelope, d: JSON.parse(JSON.stringify(d)) }
      expect(Envelope.decodeFrame(frame)).toEqual(Result.succeed({ event, envelope: expected }))
    }
  )
  describe("redriven (S29)", () => {
    const template = { producer: "admin-1", sequence: 42, sentAt: 1_800_000_000_000 }

    it("writes a queued header of the template with the letter's priority, and its data text byte for byte", () => {
      // data whose text JSON.stringify would not give back: spacing, key order, number forms, escapes
      const dataText = `{ "z": 1.50, "a": [1e3, "\\u00e9", "é🎉"], "d": "x,\\"d\\":y" }`
      for (const k of ["q", "o"]) {
        const letter = `{"k":"${k}","p":"0123456789ab","s":7,"pr":-3,"t":1700000000000,"d":${dataText}}`
        const redriven = Result.getOrThrow(Envelope.redriven(letter, template))
        expect(redriven).toBe(`{"k":"q","p":"admin-1","s":42,"pr":-3,"t":1800000000000,"d":${dataText}}`)
        expect(Envelope.decode(redriven)).toEqual(
          Result.succeed({ k: "q", p: "admin-1", s: 42, pr: -3, t: 1_800_000_000_000, d: JSON.parse(dataText) })
        )
      }
    })

    it("keeps the data of every message encodeMessage makes", () => {
      for (const d of [null, 0, "", "é🎉|{}", [], { a: { b: [true, null] } }, ",\"d\":"]) {
        const redriven = Result.getOrThrow(Envelope.redriven(encoded(message(d)), template))
        expect(Envelope.decode(redriven)).toEqual(
          Result.succeed({ k: "q", p: "admin-1", s: 42, pr: -3, t: 1_800_000_000_000, d })
        )
      }
    })

    it("fails on what is not a message envelope", () => {
      for (const letter of ["", "{oops", "[]", Envelope.encodeEject("c", "operator"), `{"k":"q","p":"p","s":1}`]) {
        expect(Result.isFailure(Envelope.redriven(letter, template))).toBe(true)
      }
    })
  })
})

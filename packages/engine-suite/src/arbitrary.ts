/**
 * The few generators the property tests need, on Effect's own property testing (`effect/Arbitrary`,
 * run by `it.prop` / `it.effect.prop` of `@effect/vitest`). Effect 4 no longer bundles fast-check:
 * these are the fast-check combinators the tests used (`fc.integer`, `fc.constantFrom`, weighted
 * `fc.oneof`, `fc.record`, ...), written over `Arbitrary`'s primitives. Every value shrinks: an
 * integer towards its minimum, a choice towards its first alternative, an array by dropping
 * elements.
 */
import { Arbitrary, Schema } from "effect"

/** Integers from `min` to `max`, both included. */
export const integer = (range: { readonly min: number; readonly max: number }): Arbitrary.Arbitrary<number> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: range.min, maximum: range.max })))

/** Integers from 0 to `max` (default 2^31 - 1, as fast-check's `nat`). */
export const nat = (max: number = 0x7fffffff): Arbitrary.Arbitrary<number> => integer({ min: 0, max })

/**
 * One of `values`; a value listed twice is drawn twice as often (as with fast-check's
 * `constantFrom`). Shrinks towards the first one.
 */
export const constantFrom = <const A extends ReadonlyArray<unknown>>(...values: A): Arbitrary.Arbitrary<A[number]> => {
  if (values.length === 0) throw new RangeError("constantFrom: no value to choose from")
  return Arbitrary.map(integer({ min: 0, max: values.length - 1 }), (i) => values[i] as A[number])
}

/** An alternative of `oneof`, drawn in proportion to its weight (a positive integer). */
export interface Weighted<A> {
  readonly weight: number
  readonly arbitrary: Arbitrary.Arbitrary<A>
}

/**
 * One of the alternatives, each drawn in proportion to its weight (as fast-check's weighted
 * `oneof`). Shrinks towards the first alternative, then within the one drawn.
 */
export const oneof = <A>(...alternatives: ReadonlyArray<Weighted<A>>): Arbitrary.Arbitrary<A> => {
  const ends: Array<number> = []
  let total = 0
  for (const { weight } of alternatives) {
    if (!Number.isSafeInteger(weight) || weight < 0) throw new RangeError(`oneof: bad weight ${weight}`)
    total += weight
    ends.push(total)
  }
  if (total === 0) throw new RangeError("oneof: no alternative with a positive weight")
  return Arbitrary.flatMap(
    integer({ min: 0, max: total - 1 }),
    (draw) => alternatives[ends.findIndex((end) => draw < end)]!.arbitrary
  )
}

/** Strings of `unit`s (e.g. a `constantFrom` of characters), at most `maxLength` of them. */
export const stringOf = (
  unit: Arbitrary.Arbitrary<string>,
  options: { readonly maxLength: number }
): Arbitrary.Arbitrary<string> =>
  Arbitrary.map(Arbitrary.array(unit, { maxLength: options.maxLength }), (units) => units.join(""))

/** Strings as `Schema.String` generates them: mostly printable ASCII, with tricky ones ("__proto__", "\n"). */
export const string: Arbitrary.Arbitrary<string> = Arbitrary.schema(Schema.String)

/**
 * Strings of any Unicode code points, from U+0000 to U+10FFFF, lone surrogates included (a
 * superset of fast-check's `fullUnicodeString`, which leaves the surrogates out).
 */
export const fullUnicodeString: Arbitrary.Arbitrary<string> = Arbitrary.map(
  Arbitrary.array(
    oneof(
      // mostly the Basic Multilingual Plane, where the delimiters and most text are
      { weight: 3, arbitrary: integer({ min: 0, max: 0xffff }) },
      { weight: 1, arbitrary: integer({ min: 0x10000, max: 0x10ffff }) }
    )
  ),
  (codePoints) => String.fromCodePoint(...codePoints)
)

/** JSON values (what `JSON.parse` may give), as `Schema.Json` generates them. */
export const jsonValue: Arbitrary.Arbitrary<Schema.Json> = Arbitrary.schema(Schema.Json)

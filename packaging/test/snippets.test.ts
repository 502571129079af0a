/**
 * The snippet step of `pnpm lint` (`packaging/src/snippets.ts`): which blocks of a document it
 * type-checks, and where it reports an error.
 */
import { describe, expect, it } from "@effect/vitest"
import { extract, mapErrors } from "../src/snippets.js"

const doc = [
  "# Title", //                                 1
  "```ts", //                                   2
  "import { Effect } from \"effect\"", //       3
  "const x: number = \"no\"", //                4
  "```", //                                     5
  "```ts", //                                   6
  "// fragment: inside an Effect.gen", //       7
  "const queue = yield* Queue", //              8
  "```", //                                     9
  "```sh", //                                  10
  "pnpm test", //                              11
  "```", //                                    12
  "```typescript", //                          13
  "export const y = 1", //                     14
  "```" //                                     15
].join("\n")

describe("docs' TypeScript blocks", () => {
  it("takes every ts/typescript block with the line of its first code line, and leaves out fragments and other languages", () => {
    const snippets = extract("README.md", doc)
    expect(snippets.map((s) => [s.line, s.code])).toEqual([
      [3, "import { Effect } from \"effect\"\nconst x: number = \"no\""],
      [14, "export const y = 1"]
    ])
  })

  it("reports a compile error at the Markdown line it comes from", () => {
    const [first] = extract("packages/core/README.md", doc)
    const snippets = new Map([["packages-core-README.md-3.ts", first!]])
    // the generated file has a header line: its line 3 is the block's second line (Markdown line 4)
    expect(mapErrors(
      "examples/.snippets/packages-core-README.md-3.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\nsomething else",
      snippets
    )).toEqual([
      "packages/core/README.md:4:7: error TS2322: Type 'string' is not assignable to type 'number'.",
      "something else"
    ])
  })
})

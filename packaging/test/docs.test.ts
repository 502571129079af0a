/**
 * The blocks of `docs/testing.md` are tests: each is written out as a module (next to the
 * snippets `pnpm lint` type-checks, `examples/.snippets/`) and imported here, so the `it.effect`
 * calls it makes run as tests of this file.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { extract } from "../src/snippets.js"
import { root } from "../src/Workspace.js"

const document = "docs/testing.md"
const dir = path.join(root, "examples", ".snippets", "run")
fs.rmSync(dir, { recursive: true, force: true })
fs.mkdirSync(dir, { recursive: true })
const blocks = extract(document, fs.readFileSync(path.join(root, document), "utf8"))
if (blocks.length < 5) throw new Error(`${document}: expected its five test blocks, found ${blocks.length}`)
for (const block of blocks) {
  const file = path.join(dir, `testing-md-${block.line}.ts`)
  fs.writeFileSync(file, `${block.code}\nexport {}\n`)
  await import(file)
}

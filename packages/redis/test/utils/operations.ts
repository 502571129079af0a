/**
 * Every lockstep operation, loaded from `src/internal/operations/` (one module each, one operation
 * each): a connection registers them as it runs them, so the full list is only known here, for
 * the MONITOR probes (which script a digest is) and the derivation tests.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { type Any, isOperation } from "../../src/internal/operation.js"

/** The directory of the operation modules. */
export const operationsDir = path.join(import.meta.dirname, "../../src/internal/operations")

/** Each module of the directory (file name without `.ts`) and the operations it exports. */
export const modules: ReadonlyArray<{ readonly file: string; readonly operations: ReadonlyArray<Any> }> = await Promise
  .all(
    fs.readdirSync(operationsDir).filter((file) => file.endsWith(".ts")).sort().map(async (file) => {
      const exports = (await import(path.join(operationsDir, file))) as Record<string, unknown>
      return { file: file.slice(0, -3), operations: Object.values(exports).filter(isOperation) }
    })
  )

/** Every operation, by name. */
export const operations: ReadonlyMap<string, Any> = new Map(
  modules.flatMap((module) => module.operations).map((operation) => [operation.name, operation])
)

/** The operation named `name` (dies for an unknown name: a typo in a test). */
export const operationNamed = (name: string): Any => {
  const operation = operations.get(name)
  if (operation === undefined) throw new Error(`no operation named ${name}`)
  return operation
}

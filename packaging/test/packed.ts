/** The packages packed by the project's global setup (`globalSetup.ts`), for a test file. */
import { inject } from "vitest"
import type * as Workspace from "../src/Workspace.js"
import { key } from "./globalSetup.js"

/** The packed packages of this run (`@lockstep/core`, `@lockstep/redis`, …, dependencies first). */
export const packed = (): ReadonlyArray<Workspace.Packed> =>
  inject(key).map((pkg) => ({ ...pkg, files: new Set(pkg.files) }))

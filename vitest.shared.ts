import * as path from "node:path"
import type { ViteUserConfig } from "vitest/config"

const root = path.dirname(new URL(import.meta.url).pathname)
/** the engine suites: a private workspace package, sources only (`packages/engine-suite`) */
const engineSuite = path.join(root, "packages/engine-suite/src")

/** Resolve workspace packages to their TypeScript sources, so tests never need a build. */
export const shared: ViteUserConfig = {
  resolve: {
    alias: [
      { find: /^@lockstep\/engine-suite$/, replacement: path.join(engineSuite, "index.ts") },
      { find: /^@lockstep\/engine-suite\/arbitrary$/, replacement: path.join(engineSuite, "arbitrary.ts") },
      { find: /^@lockstep\/engine-suite\/model$/, replacement: path.join(engineSuite, "model/index.ts") },
      { find: /^@lockstep\/redis\/testing$/, replacement: path.join(root, "packages/redis/src/testing/index.ts") },
      { find: /^@lockstep\/(core|redis|proxy|monitor|cli)$/, replacement: path.join(root, "packages/$1/src/index.ts") }
    ]
  }
}

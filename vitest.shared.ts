import * as path from "node:path"
import type { ViteUserConfig } from "vitest/config"

const root = path.dirname(new URL(import.meta.url).pathname)

/** Resolve workspace packages to their TypeScript sources, so tests never need a build. */
export const shared: ViteUserConfig = {
  resolve: {
    alias: [
      { find: /^@lockstep\/redis\/testing$/, replacement: path.join(root, "packages/redis/src/testing/index.ts") },
      { find: /^@lockstep\/(core|redis|proxy|monitor)$/, replacement: path.join(root, "packages/$1/src/index.ts") }
    ]
  }
}

import { defineConfig } from "vitest/config"
import { shared } from "./vitest.shared.js"

export default defineConfig({
  test: {
    projects: [
      { ...shared, test: { name: "core", include: ["packages/core/test/**/*.test.ts"] } },
      {
        ...shared,
        test: {
          name: "redis",
          include: ["packages/redis/test/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      },
      { ...shared, test: { name: "proxy", include: ["packages/proxy/test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 } },
      { ...shared, test: { name: "examples", include: ["examples/test/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 60_000 } }
    ]
  }
})

import { configDefaults, defineConfig } from "vitest/config"
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
          // the process-level fault tests run in their own project (`vitest run --project faults`)
          exclude: [...configDefaults.exclude, "packages/redis/test/faults/**"],
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      },
      {
        ...shared,
        test: {
          name: "faults",
          include: ["packages/redis/test/faults/**/*.test.ts"],
          setupFiles: ["packages/redis/test/faults/setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 60_000
        }
      },
      {
        ...shared,
        test: { name: "proxy", include: ["packages/proxy/test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 }
      },
      {
        ...shared,
        // drives the system's Chromium (playwright-core, no browser download)
        test: {
          name: "monitor",
          include: ["packages/monitor/test/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      },
      {
        ...shared,
        // the lockstep command run as a child process against a spawned redis-server
        test: { name: "cli", include: ["packages/cli/test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 }
      },
      {
        ...shared,
        test: { name: "examples", include: ["examples/test/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 60_000 }
      },
      {
        // the packed packages installed into projects outside the workspace (globalSetup builds and packs them once)
        test: {
          name: "packaging",
          include: ["packaging/test/**/*.test.ts"],
          globalSetup: ["packaging/test/globalSetup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000
        }
      }
    ]
  }
})

/**
 * ioredis options made from ours (`src/internal/connectionOptions.ts`): the reconnect delays.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConnectionOptions from "../../src/internal/connectionOptions.js"

describe("connection options", () => {
  it("reconnects after a drop 50 ms more per attempt, at most about 2 s (ioredis 6 alone waits up to 5 s)", () => {
    const { retryStrategy } = ConnectionOptions.toIoredis({ host: "127.0.0.1" })
    const delays = [1, 2, 10, 40, 41, 1000].map((times) => retryStrategy!(times))
    for (const [i, base] of [50, 100, 500, 2000, 2000, 2000].entries()) {
      expect(delays[i]).toBeGreaterThanOrEqual(base)
      expect(delays[i]).toBeLessThan(base + 100)
    }
  })

  it("an application's own ioredis.retryStrategy wins", () => {
    const own = (times: number) => times * 1000
    expect(ConnectionOptions.toIoredis({ host: "127.0.0.1", ioredis: { retryStrategy: own } }).retryStrategy).toBe(own)
  })
})

/**
 * The messages of the typed failures (DESIGN §3): readable, and never a failure of their own.
 */
import { describe, expect, it } from "@effect/vitest"
import { QueueError } from "@lockstep/core"

describe("QueueError", () => {
  it("an EngineError says the engine, the operation and the cause", () => {
    const error = new QueueError.EngineError({ engine: "redis", operation: "send", cause: new Error("refused") })
    expect(error.message).toBe("redis: send failed: refused")
  })

  it("an EngineError's message never throws, whatever its cause (no toString, a message field, a string)", () => {
    const bare = Object.create(null) as object
    expect(new QueueError.EngineError({ engine: "redis", operation: "ack", cause: bare }).message).toBe(
      "redis: ack failed: [object Object]"
    )
    expect(new QueueError.EngineError({ engine: "redis", operation: "ack", cause: { message: "gone" } }).message).toBe(
      "redis: ack failed: gone"
    )
    expect(new QueueError.EngineError({ engine: "memory", operation: "join", cause: "cut" }).message).toBe(
      "memory: join failed: cut"
    )
  })
})

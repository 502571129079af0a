/**
 * Fixed scenarios worth running on every engine, beside the generated ones: paths the generator
 * reaches rarely.
 */
import type { Op, Scenario } from "./ops.js"

/**
 * S27, S28: one process of a durable id resumes its membership again and again while it holds m1
 * (each subscription is interrupted after its consumer had m1: detached, then resumed): attempts
 * 2, then 3 (the same claim's earlier join handed m1 to a consumer, `JoinOptions.handed`), then
 * past `maxDeliveries` m1 is dead-lettered for it; the peer's ack releases m2 to both, and the
 * durable member rejects it. No timer matters (no ack deadline, no expiry within the run).
 */
export const resumedByOneProcess: Scenario = {
  clients: 2,
  rooms: 1,
  clientTimeoutMs: 60_000,
  ackTimeoutMs: null,
  durable: ["detach"],
  maxDeliveries: 3,
  ops: [
    { _tag: "Subscribe", client: 0, room: 0, mode: "sync" },
    { _tag: "Subscribe", client: 1, room: 0, mode: "sync" },
    { _tag: "Send", client: 1, room: 0, priority: 0 },
    { _tag: "Send", client: 1, room: 0, priority: 0 },
    ...Array.from({ length: 3 }, (): ReadonlyArray<Op> => [
      { _tag: "Interrupt", client: 0, room: 0 },
      { _tag: "Subscribe", client: 0, room: 0, mode: "sync" }
    ]).flat(),
    { _tag: "Ack", client: 1, room: 0, which: "latest" },
    { _tag: "Reject", client: 0, room: 0, which: "latest", reason: null }
  ]
}

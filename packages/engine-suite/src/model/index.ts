/**
 * Model-based testing of `SyncFanoutQueue` engines (DESIGN §5), reusable across engines.
 *
 * - `scenario(options)` (`ops.ts`): a generator (`effect/Arbitrary`) of operation sequences over a
 *   few clients and rooms, plus the clients' `clientTimeout` / `ackTimeout`; check it with
 *   `size: scenarioSize`.
 * - `runScenario(engine, scenario)` (`driver.ts`): runs one sequence against an `Engine`
 *   (`engine.ts`) through the public `SyncFanoutQueue` API only (`steps.ts`), and after EVERY step
 *   checks what the engine did (`ejections.ts`, `invariants.ts`: I1–I6) against a small model of
 *   each room (`roomModel.ts`): queue, members, in-flight message, holders, acked.
 * - `ManualClock` (`clock.ts`): a fast, deterministic clock for engines on Effect's `Clock`.
 * - Durable members (S21–S25, `scenario({ durable: true })`): crash, restart (claim), shutdown,
 *   interrupt and fenced-process steps (`durable.ts`), checked by I7–I8 (`durableChecks.ts`)
 *   beside I1–I6 and the model's durable rules (`roomModel.ts`: resume, detach).
 * - Attempts, rejects, dead letters and operators (S27–S30, `scenario({ operations: true,
 *   maxDeliveries })`): Reject and the operator's actions through the observer's `RoomAdmin`
 *   (`Engine.operator`; `operations.ts`), checked by I9–I13 (`operationChecks.ts`) beside the
 *   others and the model's rules (`roomModel.ts`: attempt records, letters, the pause).
 *
 * `run.ts` holds the state of one run that the driver and the checks share.
 */
export { ManualClock, yields } from "./clock.js"
export { runScenario, runScenarioLog } from "./driver.js"
export {
  type Admin,
  type DeliveryRecord,
  type Engine,
  ModelViolation,
  type RunOptions,
  type ScenarioLog
} from "./engine.js"
export * as examples from "./examples.js"
export {
  type AdminOp,
  type ClientOp,
  defaultWeights,
  dropWhileCut,
  durableId,
  type DurableOp,
  type FencedAction,
  type OnClose,
  type Op,
  op,
  roomName,
  type Scenario,
  scenario,
  type ScenarioOptions,
  scenarioSize,
  subscribedFirst
} from "./ops.js"
export * as RoomModel from "./roomModel.js"

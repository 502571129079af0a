/**
 * The engine suites of lockstep, written once against `EngineFixture` and run on every engine
 * (the memory engine in `@lockstep/core`'s tests, standalone Redis and a cluster in
 * `@lockstep/redis`'s): the semantic suite (DESIGN §2, S1–S16, S19, S20), durable members
 * (S21–S25), the durable cases the model found, discovery (S26), operations (S27–S30:
 * attempts, reject, dead letters, `RoomAdmin`) and the `RoomWorker` suite. Also the memory engine's
 * fixture, which the proxy's tests use too.
 *
 * The model-based testing kit is `@lockstep/engine-suite/model`, the generators the property
 * tests build on `@lockstep/engine-suite/arbitrary`. A private workspace package: never published.
 */
export type { ClientOptions, EngineFixture, Operator } from "./EngineFixture.js"
export { memoryFixture } from "./memoryFixture.js"
export { discoverySuite } from "./suite/discovery.js"
export { durableSuite } from "./suite/durable.js"
export { durableFindings } from "./suite/durableFindings.js"
export type { SemanticSuiteOptions } from "./suite/harness.js"
export { operationsSuite } from "./suite/operations.js"
export { semanticSuite } from "./suite/semantics.js"
export { workerSuite } from "./suite/worker.js"

/**
 * `RoomWorker` on the in-memory engine, with TestClock: the shared worker suite, and what only
 * this engine shows cheaply (option checks, the concurrency bound, the default schedules).
 */
import { memoryFixture, workerSuite } from "@lockstep/engine-suite"

workerSuite(memoryFixture, "test-clock")

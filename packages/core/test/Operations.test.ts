/**
 * The operations suite (S27–S30: attempts, reject and poison messages, dead letters, `RoomAdmin`)
 * on the in-memory engine, with TestClock.
 */
import { memoryFixture, operationsSuite } from "@lockstep/engine-suite"

operationsSuite(memoryFixture, "test-clock")

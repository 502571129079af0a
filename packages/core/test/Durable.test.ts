/**
 * The durable-members suite (S21–S25) on the in-memory engine, with TestClock.
 */
import { durableSuite } from "./suite/durable.js"
import { memoryFixture } from "./utils/memoryFixture.js"

durableSuite(memoryFixture, "test-clock")

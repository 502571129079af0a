/**
 * The durable-members suite (S21–S25) on the in-memory engine, with TestClock, and the durable
 * cases found by the model-based test.
 */
import { durableSuite } from "./suite/durable.js"
import { durableFindings } from "./suite/durableFindings.js"
import { memoryFixture } from "./utils/memoryFixture.js"

durableSuite(memoryFixture, "test-clock")
durableFindings(memoryFixture, "test-clock")

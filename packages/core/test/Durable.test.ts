/**
 * The durable-members suite (S21–S25) on the in-memory engine, with TestClock, and the durable
 * cases found by the model-based test.
 */
import { durableFindings, durableSuite, memoryFixture } from "@lockstep/engine-suite"

durableSuite(memoryFixture, "test-clock")
durableFindings(memoryFixture, "test-clock")

/**
 * The discovery suite (S26: rooms, metrics().stalled) on the in-memory engine, with TestClock.
 */
import { discoverySuite } from "./suite/discovery.js"
import { memoryFixture } from "./utils/memoryFixture.js"

discoverySuite(memoryFixture, "test-clock")

/**
 * The discovery suite (S26: rooms, metrics().stalled) on the in-memory engine, with TestClock.
 */
import { discoverySuite, memoryFixture } from "@lockstep/engine-suite"

discoverySuite(memoryFixture, "test-clock")

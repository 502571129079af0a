/**
 * The semantic suite (DESIGN §2) on the in-memory engine, with TestClock.
 */
import { memoryFixture, semanticSuite } from "@lockstep/engine-suite"

semanticSuite(memoryFixture, "test-clock")

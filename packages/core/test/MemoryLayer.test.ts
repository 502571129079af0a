/**
 * The semantic suite (DESIGN §2) on the in-memory engine, with TestClock.
 */
import { semanticSuite } from "./suite/semantics.js"
import { memoryFixture } from "./utils/memoryFixture.js"

semanticSuite(memoryFixture, "test-clock")

/**
 * The shared semantic suite (DESIGN §2), the durable-members suite (S21–S25), the durable cases
 * found by the model-based test, discovery (S26) and the operations suite (S27–S30) on the Redis
 * engine, standalone: real time, one spawned server for the file, a fresh key prefix per test
 * (S19), every client behind its own TCP proxy.
 */
import { layer } from "@effect/vitest"
import { discoverySuite, durableFindings, durableSuite, operationsSuite, semanticSuite } from "@lockstep/engine-suite"
import { RedisTestServer } from "@lockstep/redis/testing"
import { redisFixture } from "./utils/redisFixture.js"

layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
  semanticSuite(redisFixture(), "live", { it: it.effect })
  durableSuite(redisFixture(), "live", { it: it.effect })
  durableFindings(redisFixture(), "live", { it: it.effect })
  discoverySuite(redisFixture(), "live", { it: it.effect })
  operationsSuite(redisFixture(), "live", { it: it.effect })
})

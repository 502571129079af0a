/**
 * The shared semantic suite (DESIGN §2), the durable-members suite (S21–S25), discovery (S26) and the
 * operations suite (S27–S30) on the cluster engine (S17): a spawned 3-master cluster,
 * 16 shards, sharded Pub/Sub; every client reaches each node through its own TCP proxy (natMap).
 */
import { layer } from "@effect/vitest"
import { discoverySuite, durableFindings, durableSuite, operationsSuite, semanticSuite } from "@lockstep/engine-suite"
import { RedisTestCluster } from "@lockstep/redis/testing"
import { clusterFixture } from "./utils/redisFixture.js"

layer(RedisTestCluster.layer({ masters: 3 }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
  semanticSuite(clusterFixture(16), "live", { it: it.effect })
  durableSuite(clusterFixture(16), "live", { it: it.effect })
  durableFindings(clusterFixture(16), "live", { it: it.effect })
  discoverySuite(clusterFixture(16), "live", { it: it.effect })
  operationsSuite(clusterFixture(16), "live", { it: it.effect })
})

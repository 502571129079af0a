/**
 * The `RoomWorker` suite on the Redis engine: standalone (one spawned server for the file) and a
 * cluster (a spawned 3-master cluster, 16 shards), real time, a fresh key prefix per test (S19),
 * every client behind its own TCP proxy.
 */
import { describe, layer } from "@effect/vitest"
import { workerSuite } from "@lockstep/engine-suite"
import { RedisTestCluster, RedisTestServer } from "@lockstep/redis/testing"
import { clusterFixture, redisFixture } from "./utils/redisFixture.js"

describe("standalone", () => {
  layer(RedisTestServer.layer(), { excludeTestServices: true })((it) => {
    workerSuite(redisFixture(), "live", { it: it.effect })
  })
})

describe("cluster", () => {
  layer(RedisTestCluster.layer({ masters: 3 }), { excludeTestServices: true, timeout: "60 seconds" })((it) => {
    workerSuite(clusterFixture(16), "live", { it: it.effect })
  })
})

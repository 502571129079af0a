/**
 * Test harness of `@lockstep/redis`: real `redis-server` processes (standalone and cluster)
 * on free loopback ports, and a TCP proxy for fault injection.
 *
 * @since 0.1.0
 */

/**
 * A real `redis-server` on a free loopback port: `RedisTestServer.layer()`.
 *
 * @since 0.1.0
 */
export * as RedisTestServer from "./RedisTestServer.js"

/**
 * A real Redis Cluster: `RedisTestCluster.layer({ masters: 3, replicas: 1 })`.
 *
 * @since 0.1.0
 */
export * as RedisTestCluster from "./RedisTestCluster.js"

/**
 * A loopback TCP proxy that can cut or black-hole connections: `TcpProxy.make({ targetPort })`.
 *
 * @since 0.1.0
 */
export * as TcpProxy from "./TcpProxy.js"

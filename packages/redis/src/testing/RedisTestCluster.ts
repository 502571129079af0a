/**
 * A real Redis Cluster of `redis-server` processes on free loopback ports, for tests.
 *
 * Needs `redis-server` and `redis-cli` on PATH and the optional peer dependency
 * `@effect/platform-node` (see the package README, "Testing with real Redis").
 *
 * @since 0.1.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/cluster.js"
import type { RedisTestError, RedisTestServerShape } from "./RedisTestServer.js"

/**
 * The address of one cluster node.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeAddress {
  readonly host: string
  readonly port: number
}

/**
 * A running Redis Cluster spawned by the harness.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisTestClusterShape {
  /** Every node, masters and replicas, in spawn order. */
  readonly nodes: ReadonlyArray<NodeAddress>
  /** The masters right after `redis-cli --cluster create` (a failover does not update this). */
  readonly masters: ReadonlyArray<NodeAddress>
  /** The replicas right after `redis-cli --cluster create`. */
  readonly replicas: ReadonlyArray<NodeAddress>
  /** The node processes, for finer control (`stop`, `start`, `kill`, `dir`). */
  readonly servers: ReadonlyArray<RedisTestServerShape>
  /** SIGKILL the node on `port` (simulates a crash) and wait for it to exit. */
  readonly killNode: (port: number) => Effect.Effect<void>
  /** SIGTERM the node on `port` and wait for it to exit. */
  readonly stopNode: (port: number) => Effect.Effect<void>
  /** Restart a stopped node on the same port and dir (it rejoins with its `nodes.conf`). */
  readonly startNode: (port: number) => Effect.Effect<void, RedisTestError>
  /** Wait until every running node reports `cluster_state:ok` and sees all slots served. */
  readonly awaitHealthy: (
    options?: { readonly timeout?: Duration.Input }
  ) => Effect.Effect<void, RedisTestError>
}

/**
 * The Redis Cluster spawned for the current test scope.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisTestCluster
  extends Context.Service<RedisTestCluster, RedisTestClusterShape>()("@lockstep/redis/testing/RedisTestCluster")
{}

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Number of masters (at least 3, as `redis-cli --cluster create` requires). */
  readonly masters: number
  /** Replicas per master (default 0). */
  readonly replicas?: 0 | 1
  /** Extra `redis-server` arguments for every node. */
  readonly extraArgs?: ReadonlyArray<string>
  /** How long to wait for the cluster to form (default 30 s). */
  readonly timeout?: Duration.Input
}

/**
 * Spawn `masters * (1 + replicas)` cluster-enabled `redis-server`s (each in its own scoped temp
 * dir, on free client and bus ports), join them with `redis-cli --cluster create` and wait until
 * every node reports `cluster_state:ok`. Everything is torn down when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: Options
) => Effect.Effect<
  RedisTestClusterShape,
  RedisTestError,
  Scope.Scope | FileSystem.FileSystem | ChildProcessSpawner.ChildProcessSpawner
> = internal.make

/**
 * A layer providing a fresh {@link RedisTestCluster} (Node platform services, `NodeServices.layer`, included).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<RedisTestCluster, RedisTestError> =>
  Layer.effect(RedisTestCluster, make(options)).pipe(Layer.provide(NodeServices.layer))

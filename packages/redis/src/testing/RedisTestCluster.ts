/**
 * A real Redis Cluster of `redis-server` processes on free loopback ports, for tests.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  freePorts,
  host,
  live,
  makeProcess,
  rawCommand,
  RedisTestError,
  type RedisTestServerShape,
  spawnError,
  waitUntil
} from "./RedisTestServer.js"

/**
 * The address of one cluster node.
 *
 * @since 0.1.0
 */
export interface NodeAddress {
  readonly host: string
  readonly port: number
}

/**
 * A running Redis Cluster spawned by the harness.
 *
 * @since 0.1.0
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
    options?: { readonly timeout?: Duration.DurationInput }
  ) => Effect.Effect<void, RedisTestError>
}

/**
 * The Redis Cluster spawned for the current test scope.
 *
 * @since 0.1.0
 */
export class RedisTestCluster extends Context.Tag("@lockstep/redis/testing/RedisTestCluster")<
  RedisTestCluster,
  RedisTestClusterShape
>() {}

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Number of masters (at least 3, as `redis-cli --cluster create` requires). */
  readonly masters: number
  /** Replicas per master (default 0). */
  readonly replicas?: 0 | 1
  /** Extra `redis-server` arguments for every node. */
  readonly extraArgs?: ReadonlyArray<string>
  /** How long to wait for the cluster to form (default 30 s). */
  readonly timeout?: Duration.DurationInput
}

const infoField = (info: string, field: string): string | undefined => {
  const line = info.split("\r\n").find((l) => l.startsWith(`${field}:`))
  return line === undefined ? undefined : line.slice(field.length + 1).trim()
}

/** Run a short-lived command, returning its exit code and combined output. */
const run = (command: Command.Command, executable: string) =>
  Effect.scoped(
    Effect.gen(function*() {
      const process = yield* Command.start(command).pipe(Effect.mapError(spawnError(executable)))
      const decode = (stream: Stream.Stream<Uint8Array, unknown>) =>
        stream.pipe(Stream.decodeText(), Stream.mkString, Effect.orElseSucceed(() => ""))
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [decode(process.stdout), decode(process.stderr), Effect.either(process.exitCode)],
        { concurrency: "unbounded" }
      )
      return { exitCode: exitCode._tag === "Right" ? exitCode.right : -1, output: `${stdout}${stderr}` }
    })
  )

const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "")

/**
 * Spawn `masters * (1 + replicas)` cluster-enabled `redis-server`s (each in its own scoped temp
 * dir, on free client and bus ports), join them with `redis-cli --cluster create` and wait until
 * every node reports `cluster_state:ok`. Everything is torn down when the scope closes.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<
  RedisTestClusterShape,
  RedisTestError,
  Scope.Scope | FileSystem.FileSystem | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const replicasPerMaster = options.replicas ?? 0
    const timeout = options.timeout ?? Duration.seconds(30)
    if (!Number.isInteger(options.masters) || options.masters < 3) {
      return yield* new RedisTestError({
        reason: "InvalidOptions",
        message: `A Redis Cluster needs at least 3 masters, got ${options.masters}`
      })
    }
    const count = options.masters * (1 + replicasPerMaster)
    const fs = yield* FileSystem.FileSystem
    // client ports and cluster-bus ports (the default bus port, port + 10000, may not be free or valid)
    const ports = yield* freePorts(count * 2)
    const clientPorts = ports.slice(0, count)
    const busPorts = ports.slice(count)

    // created one after the other so each node's dir outlives its process on release
    const servers = yield* Effect.forEach(clientPorts, (port, i) =>
      Effect.gen(function*() {
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "lockstep-redis-cluster-" }).pipe(
          Effect.mapError((cause) =>
            new RedisTestError({
              reason: "StartFailed",
              message: `Could not create a temp dir: ${cause.message}`,
              cause
            })
          )
        )
        return yield* makeProcess({
          port,
          dir,
          extraArgs: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
            "--cluster-port",
            String(busPorts[i]),
            ...(options.extraArgs ?? [])
          ]
        })
      }))
    // stop all nodes at once on release (runs before the per-node finalizers, which become no-ops)
    yield* Effect.addFinalizer(() => Effect.forEach(servers, (server) => server.stop, { concurrency: "unbounded" }))
    yield* Effect.forEach(servers, (server) => server.start, { concurrency: "unbounded", discard: true })

    const byPort = new Map(servers.map((server) => [server.port, server]))
    const running = new Set(clientPorts)
    const node = (port: number) =>
      Effect.suspend(() => {
        const server = byPort.get(port)
        return server === undefined
          ? Effect.dieMessage(`RedisTestCluster: no node on port ${port} (nodes: ${clientPorts.join(", ")})`)
          : Effect.succeed(server)
      })

    const createCli = Command.make(
      "redis-cli",
      "--cluster",
      "create",
      ...clientPorts.map((port) => `${host}:${port}`),
      "--cluster-replicas",
      String(replicasPerMaster),
      "--cluster-yes"
    )
    const created = yield* run(createCli, "redis-cli").pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new RedisTestError({
            reason: "Timeout",
            message: `redis-cli --cluster create did not finish in ${Duration.format(timeout)}`
          })
      }),
      live
    )
    if (created.exitCode !== 0) {
      return yield* new RedisTestError({
        reason: "ClusterCreateFailed",
        message: `redis-cli --cluster create exited with code ${created.exitCode}:\n${stripAnsi(created.output).trim()}`
      })
    }

    const healthyNode = (port: number) =>
      rawCommand(port, ["CLUSTER", "INFO"]).pipe(
        Effect.filterOrFail(
          (info) =>
            info !== null && infoField(info, "cluster_state") === "ok" &&
            infoField(info, "cluster_slots_ok") === "16384",
          (info) => new RedisTestError({ reason: "Timeout", message: `node ${port} not healthy yet:\n${info ?? ""}` })
        )
      )
    const awaitHealthy = (opts?: { readonly timeout?: Duration.DurationInput }) =>
      Effect.forEach(
        [...running],
        (port) =>
          waitUntil(healthyNode(port), {
            timeout: opts?.timeout ?? timeout,
            what: `cluster_state:ok on ${host}:${port}`
          }),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.withSpan("RedisTestCluster.awaitHealthy"))

    yield* awaitHealthy()
    yield* Effect.forEach(
      clientPorts,
      (port) =>
        waitUntil(
          rawCommand(port, ["CLUSTER", "INFO"]).pipe(
            Effect.filterOrFail(
              (info) => info !== null && infoField(info, "cluster_known_nodes") === String(count),
              () => new RedisTestError({ reason: "Timeout", message: `node ${port} does not know every node yet` })
            )
          ),
          { timeout, what: `${host}:${port} to know all ${count} nodes` }
        ),
      { concurrency: "unbounded", discard: true }
    )

    // roles as assigned by redis-cli
    const roles = yield* Effect.forEach(clientPorts, (port) =>
      rawCommand(port, ["INFO", "replication"]).pipe(
        Effect.map((info) => ({ port, role: info === null ? "unknown" : infoField(info, "role") ?? "unknown" }))
      ))
    const masters = roles.filter((r) => r.role === "master").map((r) => ({ host, port: r.port }))
    const replicas = roles.filter((r) => r.role === "slave").map((r) => ({ host, port: r.port }))

    // replicas must have synced once, or they could not take over in failover tests
    yield* Effect.forEach(
      replicas,
      ({ port }) =>
        waitUntil(
          rawCommand(port, ["INFO", "replication"]).pipe(
            Effect.filterOrFail(
              (info) => info !== null && infoField(info, "master_link_status") === "up",
              () => new RedisTestError({ reason: "Timeout", message: `replica ${port} not linked yet` })
            )
          ),
          { timeout, what: `replica ${host}:${port} to sync with its master` }
        ),
      { concurrency: "unbounded", discard: true }
    )

    return {
      nodes: clientPorts.map((port) => ({ host, port })),
      masters,
      replicas,
      servers,
      killNode: (port) =>
        node(port).pipe(
          Effect.flatMap((server) => server.kill),
          Effect.zipRight(Effect.sync(() => running.delete(port))),
          Effect.withSpan("RedisTestCluster.killNode", { attributes: { port } })
        ),
      stopNode: (port) =>
        node(port).pipe(
          Effect.flatMap((server) => server.stop),
          Effect.zipRight(Effect.sync(() => running.delete(port))),
          Effect.withSpan("RedisTestCluster.stopNode", { attributes: { port } })
        ),
      startNode: (port) =>
        node(port).pipe(
          Effect.flatMap((server) => server.start),
          Effect.zipRight(Effect.sync(() => running.add(port))),
          Effect.withSpan("RedisTestCluster.startNode", { attributes: { port } })
        ),
      awaitHealthy
    } satisfies RedisTestClusterShape
  }).pipe(Effect.withSpan("RedisTestCluster.make"))

/**
 * A layer providing a fresh {@link RedisTestCluster} (Node platform services included).
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<RedisTestCluster, RedisTestError> =>
  Layer.scoped(RedisTestCluster, make(options)).pipe(Layer.provide(NodeContext.layer))

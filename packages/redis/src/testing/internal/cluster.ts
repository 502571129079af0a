/**
 * A Redis Cluster of harness-spawned `redis-server`s: spawn the nodes, join them with
 * `redis-cli --cluster create`, wait until every node agrees the cluster is healthy.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import * as ChildProcess from "effect/process/ChildProcess"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Options, RedisTestClusterShape } from "../RedisTestCluster.js"
import { RedisTestError, spawnError } from "./errors.js"
import { command, freePorts, host, live, waitUntil } from "./net.js"
import { makeProcess, makeTempDir } from "./server.js"

const infoField = (info: string, field: string): string | undefined => {
  const line = info.split("\r\n").find((l) => l.startsWith(`${field}:`))
  return line === undefined ? undefined : line.slice(field.length + 1).trim()
}

/** Run a short-lived command, returning its exit code (-1 if killed by a signal) and combined output. */
const run = (command: ChildProcess.Command, executable: string) =>
  Effect.scoped(
    Effect.gen(function*() {
      const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
      const process = yield* spawner.spawn(command).pipe(Effect.mapError(spawnError(executable)))
      const decode = (stream: Stream.Stream<Uint8Array, unknown>) =>
        stream.pipe(Stream.decodeText(), Stream.mkString, Effect.orElseSucceed(() => ""))
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [decode(process.stdout), decode(process.stderr), Effect.result(process.exitCode)],
        { concurrency: "unbounded" }
      )
      return { exitCode: Result.isSuccess(exitCode) ? exitCode.success : -1, output: `${stdout}${stderr}` }
    })
  )

const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "")

/** `RedisTestCluster.make`. */
export const make = (
  options: Options
): Effect.Effect<
  RedisTestClusterShape,
  RedisTestError,
  Scope.Scope | FileSystem.FileSystem | ChildProcessSpawner.ChildProcessSpawner
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
    // client ports and cluster-bus ports (the default bus port, port + 10000, may not be free or valid)
    const ports = yield* freePorts(count * 2)
    const clientPorts = ports.slice(0, count)
    const busPorts = ports.slice(count)

    // created one after the other so each node's dir outlives its process on release
    const servers = yield* Effect.forEach(clientPorts, (port, i) =>
      Effect.gen(function*() {
        const dir = yield* makeTempDir("lockstep-redis-cluster-")
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
          ? Effect.die(new Error(`RedisTestCluster: no node on port ${port} (nodes: ${clientPorts.join(", ")})`))
          : Effect.succeed(server)
      })

    const createCli = ChildProcess.make(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...clientPorts.map((port) => `${host}:${port}`),
        "--cluster-replicas",
        String(replicasPerMaster),
        "--cluster-yes"
      ],
      { stdin: "ignore", forceKillAfter: Duration.seconds(3) }
    )
    const created = yield* run(createCli, "redis-cli").pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new RedisTestError({
              reason: "Timeout",
              message: `redis-cli --cluster create did not finish in ${
                Duration.format(Duration.fromInputUnsafe(timeout))
              }`
            })
          )
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
      command(port, ["CLUSTER", "INFO"]).pipe(
        Effect.filterOrFail(
          (info) =>
            info !== null && infoField(info, "cluster_state") === "ok" &&
            infoField(info, "cluster_slots_ok") === "16384",
          (info) => new RedisTestError({ reason: "Timeout", message: `node ${port} not healthy yet:\n${info ?? ""}` })
        )
      )
    const awaitHealthy = (opts?: { readonly timeout?: Duration.Input }) =>
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
          command(port, ["CLUSTER", "INFO"]).pipe(
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
      command(port, ["INFO", "replication"]).pipe(
        Effect.map((info) => ({ port, role: info === null ? "unknown" : infoField(info, "role") ?? "unknown" }))
      ))
    const masters = roles.filter((r) => r.role === "master").map((r) => ({ host, port: r.port }))
    const replicas = roles.filter((r) => r.role === "slave").map((r) => ({ host, port: r.port }))

    // replicas must have synced once, or they could not take over in failover tests
    yield* Effect.forEach(
      replicas,
      ({ port }) =>
        waitUntil(
          command(port, ["INFO", "replication"]).pipe(
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
          Effect.andThen(Effect.sync(() => running.delete(port))),
          Effect.withSpan("RedisTestCluster.killNode", { attributes: { port } })
        ),
      stopNode: (port) =>
        node(port).pipe(
          Effect.flatMap((server) => server.stop),
          Effect.andThen(Effect.sync(() => running.delete(port))),
          Effect.withSpan("RedisTestCluster.stopNode", { attributes: { port } })
        ),
      startNode: (port) =>
        node(port).pipe(
          Effect.flatMap((server) => server.start),
          Effect.andThen(Effect.sync(() => running.add(port))),
          Effect.withSpan("RedisTestCluster.startNode", { attributes: { port } })
        ),
      awaitHealthy
    } satisfies RedisTestClusterShape
  }).pipe(Effect.withSpan("RedisTestCluster.make"))

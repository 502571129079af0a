/**
 * A real `redis-server` process on a free loopback port, for tests.
 *
 * Needs `redis-server` on PATH and the optional peer dependency `@effect/platform-node` (see the
 * package README, "Testing with real Redis").
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
import * as internal from "./internal/server.js"
import type { RedisTestError } from "./RedisTestError.js"

export {
  /**
   * The test harness could not spawn, reach or configure a `redis-server`: `reason` says which
   * step failed (`NotInstalled` carries install hints), `message` says what happened.
   *
   * @since 0.1.0
   * @category errors
   */
  RedisTestError,
  /**
   * Why the test harness could not provide a Redis server.
   *
   * @since 0.1.0
   * @category errors
   */
  type RedisTestErrorReason
} from "./RedisTestError.js"

/**
 * A running (or stopped, restartable) `redis-server` spawned by the harness.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisTestServerShape {
  readonly host: "127.0.0.1"
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** The server's working directory (a scoped temp dir, kept across stop/start). */
  readonly dir: string
  /** SIGTERM the server (SIGKILL after 3 s) and wait for it to exit; no-op when stopped. */
  readonly stop: Effect.Effect<void>
  /** SIGKILL the server (simulates a crash) and wait for it to exit; no-op when stopped. */
  readonly kill: Effect.Effect<void>
  /** Start the server again on the same port and dir and wait until it answers PING; no-op when running. */
  readonly start: Effect.Effect<void, RedisTestError>
}

/**
 * The `redis-server` spawned for the current test scope.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisTestServer
  extends Context.Service<RedisTestServer, RedisTestServerShape>()("@lockstep/redis/testing/RedisTestServer")
{}

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Extra `redis-server` arguments, appended after the harness's own. */
  readonly extraArgs?: ReadonlyArray<string>
  /** Port to use instead of a free one picked by the harness (never 6379). */
  readonly port?: number
  /** The executable to run (default `redis-server`). */
  readonly executable?: string
  /** How long to wait for the first PONG (default 10 s). */
  readonly startTimeout?: Duration.Input
}

/**
 * Spawn a `redis-server` on a free loopback port in a scoped temp dir and wait until it
 * answers PING. It is stopped and its dir removed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<
  RedisTestServerShape,
  RedisTestError,
  Scope.Scope | FileSystem.FileSystem | ChildProcessSpawner.ChildProcessSpawner
> = internal.make

/**
 * A layer providing a fresh {@link RedisTestServer} (Node platform services, `NodeServices.layer`, included).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<RedisTestServer, RedisTestError> =>
  Layer.effect(RedisTestServer, make(options)).pipe(Layer.provide(NodeServices.layer))

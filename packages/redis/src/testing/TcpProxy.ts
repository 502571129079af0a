/**
 * A tiny loopback TCP proxy that can cut or black-hole connections, for fault tests.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"

/**
 * A running proxy: clients connect to `host:port` and are forwarded to the target.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpProxy {
  readonly host: "127.0.0.1"
  /** The port clients connect to. */
  readonly port: number
  /** The port connections are forwarded to. */
  readonly targetPort: number
  /** Destroy every current connection and drop new ones (accepted, then closed) until `restore`. */
  readonly cut: Effect.Effect<void>
  /**
   * Stop forwarding: current connections stay open but nothing passes either way, new
   * connections are accepted and never forwarded, until `restore`. Bytes sent meanwhile wait
   * in socket buffers and flow on `restore`, like a healed network partition.
   */
  readonly blackhole: Effect.Effect<void>
  /** Forward again (also resumes black-holed connections). */
  readonly restore: Effect.Effect<void>
  /** Number of client connections currently open through the proxy. */
  readonly connections: Effect.Effect<number>
}

type Mode = "open" | "cut" | "blackhole"

interface Pair {
  readonly client: Net.Socket
  upstream: Net.Socket | undefined
  forwarding: boolean
}

/**
 * Start a proxy on a free loopback port forwarding to `127.0.0.1:targetPort`; it is closed,
 * with every connection through it, when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly targetPort: number
  readonly targetHost?: string
}): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.gen(function*() {
    const targetHost = options.targetHost ?? "127.0.0.1"
    let mode: Mode = "open"
    const pairs = new Set<Pair>()

    const destroy = (pair: Pair) => {
      pairs.delete(pair)
      pair.client.destroy()
      pair.upstream?.destroy()
    }

    const forward = (pair: Pair) => {
      if (pair.forwarding) return
      if (pair.upstream === undefined) {
        const upstream = Net.connect({ host: targetHost, port: options.targetPort })
        upstream.setNoDelay(true)
        upstream.on("error", () => destroy(pair))
        upstream.on("close", () => destroy(pair))
        pair.upstream = upstream
      }
      pair.client.pipe(pair.upstream)
      pair.upstream.pipe(pair.client)
      pair.forwarding = true
    }

    const pause = (pair: Pair) => {
      if (!pair.forwarding) return
      pair.client.unpipe()
      pair.upstream?.unpipe()
      pair.client.pause()
      pair.upstream?.pause()
      pair.forwarding = false
    }

    const server = Net.createServer({ pauseOnConnect: true }, (client) => {
      if (mode === "cut") {
        client.destroy()
        return
      }
      client.setNoDelay(true)
      const pair: Pair = { client, upstream: undefined, forwarding: false }
      pairs.add(pair)
      client.on("error", () => destroy(pair))
      client.on("close", () => destroy(pair))
      if (mode === "open") forward(pair)
    })

    const port = yield* Effect.acquireRelease(
      Effect.callback<number, Error>((resume) => {
        server.once("error", (error) => resume(Effect.fail(error)))
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
        })
      }).pipe(Effect.orDie),
      () =>
        Effect.callback<void>((resume) => {
          mode = "cut"
          for (const pair of [...pairs]) destroy(pair)
          server.close(() => resume(Effect.void))
        })
    )

    return {
      host: "127.0.0.1",
      port,
      targetPort: options.targetPort,
      cut: Effect.sync(() => {
        mode = "cut"
        for (const pair of [...pairs]) destroy(pair)
      }).pipe(Effect.withSpan("TcpProxy.cut", { attributes: { port } })),
      blackhole: Effect.sync(() => {
        mode = "blackhole"
        for (const pair of pairs) pause(pair)
      }).pipe(Effect.withSpan("TcpProxy.blackhole", { attributes: { port } })),
      restore: Effect.sync(() => {
        mode = "open"
        for (const pair of pairs) forward(pair)
      }).pipe(Effect.withSpan("TcpProxy.restore", { attributes: { port } })),
      connections: Effect.sync(() => pairs.size)
    } satisfies TcpProxy
  })

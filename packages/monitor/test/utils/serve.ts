/**
 * Serve a monitor layer on a free loopback port for the current scope, with the services it reads
 * (`SyncFanoutQueue`, and `RoomAdmin` with actions), and an `HttpClient` for it.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as NetAddress from "effect/net/NetAddress"
import * as Result from "effect/Result"
import { createServer } from "node:http"
import type { Socket } from "node:net"

/** The methods the tests send. */
export type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"

/**
 * Serve `app` with `services` on a free loopback port until the scope closes; the Node server (to
 * count its open connections) and a client for it.
 */
export const serve = <R>(
  app: Layer.Layer<never, Config.ConfigError, HttpServer.HttpServer | R>,
  services: Context.Context<R>
) =>
  Effect.gen(function*() {
    const server = createServer()
    // undici may open a connection it never sends a request on (beside an event stream it aborted),
    // and closing a Node server waits for every connection: such a one held a test up until the
    // client dropped it (3 s). Closed before the server, they are the only ones this fixture ends.
    const sockets = new Set<Socket>()
    const used = new WeakSet<Socket>()
    server.on("connection", (socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.on("request", (request) => used.add(request.socket))
    const context = yield* Layer.build(
      app.pipe(Layer.provideMerge(NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1" })))
    ).pipe(Effect.provideContext(services))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const socket of sockets) if (!used.has(socket)) socket.destroy()
      })
    )
    const base = Result.getOrThrow(NetAddress.formatUrl(Context.get(context, HttpServer.HttpServer).address))
    const http = yield* HttpClient.HttpClient
    const get = (path: string) =>
      http.get(`${base}${path}`).pipe(
        Effect.flatMap((r) => Effect.map(r.text, (text) => ({ status: r.status, headers: r.headers, text })))
      )
    const json = (path: string) =>
      Effect.map(get(path), (r) => ({ status: r.status, headers: r.headers, body: JSON.parse(r.text) as unknown }))
    /** A request with any method, headers and text body; the answer's status, headers and text. */
    const request = (
      method: Method,
      path: string,
      options: { readonly headers?: Readonly<Record<string, string>>; readonly body?: string } = {}
    ) =>
      http.execute(
        HttpClientRequest.make(method)(`${base}${path}`).pipe(
          HttpClientRequest.setHeaders(options.headers ?? {}),
          options.body === undefined ? (r) => r : HttpClientRequest.bodyText(options.body, "application/json")
        )
      ).pipe(
        Effect.flatMap((r) => Effect.map(r.text, (text) => ({ status: r.status, headers: r.headers, text })))
      )
    return { base, server, http, get, json, request }
  })

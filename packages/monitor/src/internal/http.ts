/**
 * The monitor's HTTP conventions: every error is JSON `{ "error": "…" }` with its status (400 bad
 * input, 404 unknown path, 405 wrong method with `Allow`, 502 engine failure, 504 timeout), every
 * answer carries `X-Content-Type-Options: nosniff`, and a room in a path is read from the request
 * as it arrived (`;` is part of the name; a malformed escape is a 400).
 */
import { QueueError } from "@lockstep/core"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Layer from "effect/Layer"
import * as Result from "effect/Result"

/** An optional non-negative integer query parameter; anything else is `InvalidArgument`. */
export const intParam = (params: URLSearchParams, name: string) => {
  const value = params.get(name)
  if (value === null) return Effect.succeed(undefined)
  return /^\d{1,9}$/.test(value)
    ? Effect.succeed(Number(value))
    : Effect.fail(new QueueError.InvalidArgument({ message: `${name} must be a non-negative integer, got "${value}"` }))
}

/** Keep browsers from reading a response as anything but its declared type. */
export const nosniff = HttpServerResponse.setHeader("x-content-type-options", "nosniff")

/** An error answer: `{ "error": message }`. */
export const error = (status: number, message: string, headers?: Readonly<Record<string, string>>) =>
  nosniff(HttpServerResponse.jsonUnsafe({ error: message }, { status, headers }))

/** A queue failure as an HTTP answer: bad input 400, engine trouble 502, a timeout 504. */
export const failure = (e: QueueError.QueueError) => {
  switch (e._tag) {
    case "InvalidRoom":
    case "InvalidArgument":
      return error(400, e.message)
    case "OperationTimeout":
      return error(504, e.message)
    default:
      return error(502, e.message)
  }
}

/** The methods every route of the monitor answers (HEAD as GET, without a body). */
export const allow = "GET, HEAD"

/** A handler of the monitor: it answers every request (failures are answers too). */
export type Handler<R> = (
  request: HttpServerRequest.HttpServerRequest
) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>

/**
 * A route: `get` answers GET and HEAD, `post` (board actions, when enabled) POST; any other
 * method is a 405 naming the allowed ones. Registered for every method, so the router never
 * answers a wrong method itself.
 */
export const route = <R>(
  path: HttpRouter.PathInput,
  handlers: { readonly get: Handler<R>; readonly post?: Handler<R> | undefined }
) => {
  const { get, post } = handlers
  const allowed = post === undefined ? allow : `${allow}, POST`
  return HttpRouter.route("*", path, (request) =>
    request.method === "GET" || request.method === "HEAD"
      ? Effect.map(get(request), nosniff)
      : request.method === "POST" && post !== undefined
      ? Effect.map(post(request), nosniff)
      : Effect.succeed(
        error(
          405,
          post === undefined
            ? `${request.method} is not allowed here: the monitor only reads (${allow})`
            : `${request.method} is not allowed here (${allowed})`,
          { allow: allowed }
        )
      ))
}

/** A read-only route (GET and HEAD). */
export const get = <R>(path: HttpRouter.PathInput, handler: Handler<R>) => route(path, { get: handler })

/** A request target split at the first `?` or `#`: `;` stays in the path (it separates nothing). */
export const splitTarget = (url: string): { readonly path: string; readonly query: string } => {
  const end = url.search(/[?#]/)
  if (end === -1) return { path: url, query: "" }
  const query = url[end] === "?" ? url.slice(end + 1) : ""
  return { path: url.slice(0, end), query: query.split("#")[0]! }
}

/**
 * The raw (still percent-encoded) room of a path below the monitor's root, `/rooms/<room>` (or
 * `/dead-letters/<room>`): the rest of the path, `;` and literal slashes included (slashes right after `rooms/` are collapsed,
 * as the router does: a name that starts with "/" is sent as `%2F…`).
 */
export const roomSegment = (path: string, under: "rooms" | "dead-letters" = "rooms"): string | undefined =>
  new RegExp(`^/*${under}/+([^/][^]*)$`, "i").exec(path)?.[1]

/** A room from its percent-encoded form in a path; a malformed escape or invalid UTF-8 is `InvalidRoom`. */
export const decodeRoom = (raw: string): Result.Result<string, QueueError.InvalidRoom> => {
  try {
    return Result.succeed(decodeURIComponent(raw))
  } catch {
    return Result.fail(
      new QueueError.InvalidRoom({
        room: raw,
        reason: "the path is not percent-encoded UTF-8 (encode the name with encodeURIComponent)"
      })
    )
  }
}

/**
 * The raw room and the action of a board action's path, `/rooms/<room>/<action>`: the action is
 * the last segment, the room everything before it (literal slashes included, as for `roomSegment`).
 */
export const actionSegments = (path: string): { readonly room: string; readonly action: string } | undefined => {
  const match = /^\/*rooms\/+([^/][^]*)\/([^/]+)\/?$/i.exec(path)
  return match === null ? undefined : { room: match[1]!, action: match[2]! }
}

/**
 * Where the router found no route below the monitor's prefix (every path when it is mounted at
 * the root), a JSON answer instead of the router's empty 404: a 400 for a room whose escapes
 * cannot be decoded (the router gives up on such a path before choosing a route), a 404
 * otherwise. Paths outside the prefix are left to the application.
 */
export const notFound = (
  prefix: string | undefined,
  options: { readonly deadLetters: boolean }
): Layer.Layer<never, never, HttpRouter.HttpRouter> => {
  // the router matches with repeated slashes collapsed, a trailing one ignored, in any case
  const root = (prefix ?? "").replace(/\/{2,}/g, "/").replace(/\/$/, "").toLowerCase()
  /** The path below the prefix, or undefined when it is not the monitor's. */
  const below = (path: string): string | undefined => {
    const normal = path.replace(/\/{2,}/g, "/")
    const rest = normal.slice(root.length)
    return normal.slice(0, root.length).toLowerCase() === root && (rest === "" || rest.startsWith("/"))
      ? rest
      : undefined
  }
  const answer = (request: HttpServerRequest.HttpServerRequest) => {
    const { path } = splitTarget(request.url)
    const rest = below(path)
    if (rest === undefined) return undefined
    const raw = roomSegment(rest) ?? (options.deadLetters ? roomSegment(rest, "dead-letters") : undefined)
    const room = raw === undefined ? undefined : decodeRoom(raw)
    return room !== undefined && Result.isFailure(room)
      ? failure(room.failure)
      : error(404, `no such route: ${request.method} ${path}`)
  }
  return HttpRouter.use((router) =>
    router.addGlobalMiddleware(<E>(effect: Effect.Effect<HttpServerResponse.HttpServerResponse, E>) =>
      Effect.catchIf(
        effect,
        (e) => HttpServerError.isHttpServerError(e) && e.reason._tag === "RouteNotFound",
        (e) =>
          Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
            const response = answer(request)
            return response === undefined ? Effect.fail(e) : Effect.succeed(response)
          })
      )
    )
  )
}

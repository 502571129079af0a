/**
 * Board actions (S29, S30): `POST /rooms/<room>/<action>` (eject, pause, resume, skip, purge,
 * redrive) and `GET /dead-letters/<room>`, over the `RoomAdmin` of the monitor's client. A POST
 * acts only when it passes the cross-site check, carries a page token of this monitor and is
 * approved by the `authorize` hook (see `guard.ts`), in that order; every refusal is a 403.
 */
import { MessageId, QueueError, type RoomAdmin } from "@lockstep/core"
import * as ByteSize from "effect/ByteSize"
import * as Effect from "effect/Effect"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { MonitorActions } from "../Monitor.js"
import * as Guard from "./guard.js"
import * as Http from "./http.js"
import * as View from "./view.js"

/** The action routes, and what the board page needs of them. */
export interface Actions {
  /** The token for a board page, when `authorize` approves its viewer (the page then shows the buttons). */
  readonly pageToken: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<Option.Option<string>>
  /** `POST /rooms/<room>/<action>` */
  readonly post: Http.Handler<never>
  /** `GET /dead-letters/<room>?cursor=&limit=` */
  readonly deadLetters: Http.Handler<never>
}

/** The names of the actions, as the last segment of their path. */
export const names = ["eject", "pause", "resume", "skip", "purge", "redrive"] as const

/** An action body is a small JSON object: more is refused before it is read. */
const maxBody = ByteSize.kilobytes(16)

/** The JSON body of an action: `{ "client": … }` for eject, `{ "id": … }` for redrive. */
const body = <F extends string>(request: HttpServerRequest.HttpServerRequest, field: F) =>
  request.text.pipe(
    Effect.provideService(HttpIncomingMessage.MaxBodySize, maxBody),
    Effect.flatMap(Schema.decodeUnknownEffect(Schema.fromJsonString(Schema.Struct({ [field]: Schema.String })))),
    Effect.map((decoded) => (decoded as Record<F, string>)[field]),
    Effect.mapError(() =>
      new QueueError.InvalidArgument({
        message: `the body must be a JSON object {"${field}": "…"} (at most 16 kB)`
      })
    )
  )

const ok = (body: unknown) => Effect.succeed(HttpServerResponse.jsonUnsafe(body))

/** Run one action on a decoded room: its answer, or a 404 when there was nothing to act on. */
const perform = (
  admin: RoomAdmin.RoomAdmin["Service"],
  request: HttpServerRequest.HttpServerRequest,
  action: typeof names[number],
  room: string
): Effect.Effect<HttpServerResponse.HttpServerResponse, QueueError.QueueError> => {
  switch (action) {
    case "eject":
      return Effect.flatMap(
        body(request, "client"),
        (client) =>
          Effect.flatMap(admin.eject(room, client), (ejected) =>
            ejected
              ? ok({ room, client, ejected })
              : Effect.succeed(Http.error(404, `${JSON.stringify(client)} is not a member of ${JSON.stringify(room)}`)))
      )
    case "pause":
      return Effect.flatMap(admin.pause(room), (changed) => ok({ room, paused: true, changed }))
    case "resume":
      return Effect.flatMap(admin.resume(room), (changed) => ok({ room, paused: false, changed }))
    case "skip":
      return Effect.flatMap(admin.skip(room), (skipped) => ok({ room, skipped: Option.getOrNull(skipped) }))
    case "purge":
      return Effect.flatMap(admin.purge(room), (purged) => ok({ room, purged }))
    case "redrive":
      return Effect.flatMap(
        body(request, "id"),
        (id) =>
          Effect.flatMap(admin.redrive(room, MessageId.MessageId(id)), (redriven) =>
            Option.match(redriven, {
              onNone: () =>
                Effect.succeed(Http.error(404, `no dead letter of ${JSON.stringify(id)} in ${JSON.stringify(room)}`)),
              onSome: (newId) => ok({ room, id, redriven: newId })
            }))
      )
  }
}

const isName = (action: string): action is typeof names[number] => (names as ReadonlyArray<string>).includes(action)

/**
 * The actions over `admin`, approved by `options.authorize` (run with the context the monitor
 * was built in: the hook's requirements are the layer's), from pages of this server or of
 * `trustedOrigins`.
 */
export const make = <R>(
  admin: RoomAdmin.RoomAdmin["Service"],
  options: MonitorActions<R>,
  trustedOrigins: ReadonlySet<string>
): Effect.Effect<Actions, never, R> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const tokens = yield* Guard.makeTokens
    const authorized = (request: HttpServerRequest.HttpServerRequest) =>
      options.authorize(request).pipe(Effect.provideContext(context))

    /** Why a POST may not act, or none. */
    const refusal = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        const crossSite = Guard.crossSite(request, trustedOrigins)
        if (Option.isSome(crossSite)) return crossSite
        const token = request.headers[Guard.tokenHeader]
        if (token === undefined) {
          return Option.some(`no page token: actions come from the board page (its ${Guard.tokenHeader} header)`)
        }
        if (!(yield* tokens.check(token))) {
          return Option.some("the page token is not one of this monitor's (it restarted?): reload the board")
        }
        return (yield* authorized(request)) ? Option.none() : Option.some("not authorized")
      })

    const post: Http.Handler<never> = (request) =>
      Effect.gen(function*() {
        const refused = yield* refusal(request)
        if (Option.isSome(refused)) return Http.error(403, refused.value)
        const { path } = Http.splitTarget(request.url)
        const target = Http.actionSegments(path)
        if (target === undefined || !isName(target.action)) {
          return Http.error(404, `no such action: POST ${path} (POST /rooms/<room>/<${names.join("|")}>)`)
        }
        const room = yield* Effect.fromResult(Http.decodeRoom(target.room))
        return yield* perform(admin, request, target.action, room)
      }).pipe(
        Effect.withSpan("Monitor.action"),
        Effect.catch((e) => Effect.succeed(Http.failure(e)))
      )

    const deadLetters: Http.Handler<never> = (request) =>
      Effect.gen(function*() {
        if (!(yield* authorized(request))) return Http.error(403, "not authorized")
        const { path, query } = Http.splitTarget(request.url)
        const raw = Http.roomSegment(path, "dead-letters")
        if (raw === undefined) return Http.error(404, `no such route: GET ${path}`)
        const room = yield* Effect.fromResult(Http.decodeRoom(raw))
        const params = new URLSearchParams(query)
        const limit = yield* Http.intParam(params, "limit")
        const page = yield* admin.deadLetters(room, { cursor: params.get("cursor") ?? undefined, limit })
        return HttpServerResponse.jsonUnsafe({
          room,
          letters: page.letters.map(View.deadLetterJson),
          cursor: Option.getOrNull(page.cursor)
        })
      }).pipe(
        Effect.withSpan("Monitor.deadLetters"),
        Effect.catch((e) => Effect.succeed(Http.failure(e)))
      )

    return {
      pageToken: (request) =>
        Effect.flatMap(authorized(request), (yes) => yes ? Effect.map(tokens.issue, Option.some) : Effect.succeedNone),
      post,
      deadLetters
    }
  })

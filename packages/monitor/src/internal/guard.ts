/**
 * What a board action must carry besides the `authorize` hook's approval: proof that it comes from
 * a page of this server (against cross-site requests, CSRF).
 *
 * - **Origin**: a browser says where a request comes from. `Sec-Fetch-Site: same-origin` (or
 *   `none`, typed by the user) passes; any other value is cross-site. Without that header, the
 *   `Origin` header must name this server (its host and port as the `Host` header has them). An
 *   origin listed in `trustedOrigins` always passes. A request that carries neither header is
 *   refused: the board's script always sends them, a script of yours can send `Origin`.
 * - **A per-page token**: each board page is issued a fresh token (random bytes and their HMAC
 *   under a key of this monitor, made when it is built: tokens are checked without state, and a
 *   restart invalidates the open pages), which its script sends in the `x-lockstep-token` header.
 *   A page of another site cannot read ours (no CORS), so it cannot have a token; a custom header
 *   also makes a cross-site `fetch` a preflighted request, which the monitor never allows.
 */
import * as Mac from "effect/crypto/Mac"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as Effect from "effect/Effect"
import * as Base64Url from "effect/encoding/Base64Url"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"

/** The header the board's script sends its token in. */
export const tokenHeader = "x-lockstep-token"

/** Issues and checks page tokens. */
export interface Tokens {
  /** A fresh token for one page. */
  readonly issue: Effect.Effect<string>
  /** Whether `token` was issued by this monitor (constant time). */
  readonly check: (token: string) => Effect.Effect<boolean>
}

const nonceBytes = 18

const cryptoLayer = Mac.layerWebCrypto.pipe(Layer.provideMerge(SecureRandom.layerWebCrypto))

/** A token issuer with a key of its own (Web Crypto: HMAC-SHA-256, random nonces). */
export const makeTokens: Effect.Effect<Tokens> = Effect.gen(function*() {
  const mac = yield* Mac.Mac
  const random = yield* SecureRandom.SecureRandom
  const key = yield* Effect.orDie(mac.generateKey(Mac.hmacSha256))
  return {
    issue: Effect.gen(function*() {
      const nonce = yield* random.randomBytes(nonceBytes)
      const tag = yield* Effect.orDie(mac.sign(key, nonce))
      return `${Base64Url.encode(nonce)}.${Base64Url.encode(tag)}`
    }),
    check: (token: string) => {
      const [nonce, tag, ...rest] = token.split(".")
      if (nonce === undefined || tag === undefined || rest.length > 0) return Effect.succeed(false)
      const bytes = Result.all([Base64Url.decode(nonce), Base64Url.decode(tag)])
      return Result.isFailure(bytes) || bytes.success[0].length !== nonceBytes
        ? Effect.succeed(false)
        : Effect.orDie(mac.verify(key, bytes.success[1], bytes.success[0]))
    }
  }
}).pipe(Effect.provide(cryptoLayer))

/** The `host[:port]` of an origin, lowercase; none when it is not an http(s) origin. */
const originHost = (origin: string): Option.Option<string> => {
  try {
    const url = new URL(origin)
    return url.protocol === "http:" || url.protocol === "https:" ? Option.some(url.host) : Option.none()
  } catch {
    return Option.none()
  }
}

/**
 * Why a request does not come from a page of this server, or none when it does (see the module
 * comment). `trusted`: origins that always pass, lowercase, without a trailing slash.
 */
export const crossSite = (
  request: HttpServerRequest.HttpServerRequest,
  trusted: ReadonlySet<string>
): Option.Option<string> => {
  const origin = request.headers["origin"]
  if (origin !== undefined && trusted.has(origin.toLowerCase())) return Option.none()
  const site = request.headers["sec-fetch-site"]
  if (site !== undefined) {
    return site === "same-origin" || site === "none"
      ? Option.none()
      : Option.some(`a ${site} request (Sec-Fetch-Site) from ${origin ?? "an unnamed origin"}`)
  }
  if (origin === undefined) {
    return Option.some("the request names no origin (neither Origin nor Sec-Fetch-Site)")
  }
  const host = request.headers["host"]?.toLowerCase()
  return Option.match(originHost(origin), {
    onNone: () => Option.some(`the request comes from origin ${JSON.stringify(origin)}`),
    onSome: (from) =>
      host !== undefined && from === host
        ? Option.none()
        : Option.some(`the request comes from ${origin}, not from this server (${host ?? "no Host header"})`)
  })
}

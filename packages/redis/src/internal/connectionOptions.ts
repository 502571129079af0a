/**
 * From the public options (`RedisOptions`, a `redis://` URL, cluster node addresses) to ioredis
 * options. An option given but wrong — a URL or an address that cannot be read, a port, a db or a
 * `connectTimeout` out of range — is a configuration error (`QueueConfig.invalidData`: a
 * `ConfigError` naming the option) whose message never repeats a password, and which never
 * carries the value read.
 */
import { QueueConfig } from "@lockstep/core"
import type * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type { ClusterOptions, RedisOptions as IORedisOptions } from "ioredis"
import type { ClusterNode, ConnectionConfig, RedisOptions } from "../RedisLayer.js"

/** The text of a secret given plain or redacted. */
const reveal = (secret: string | Redacted.Redacted<string>): string =>
  typeof secret === "string" ? secret : Redacted.value(secret)

/**
 * Reconnect delays after a dropped connection: 50 ms more per attempt, at most 2 s, plus up to
 * 100 ms of jitter (ioredis 5's default, with the jitter). ioredis 6 doubles its delay up to 5 s:
 * after an outage of a few seconds a client would come back up to 5 s after the server, eating
 * into `clientTimeout` (S10) and delaying the resync (S12). `ioredis.retryStrategy` overrides it.
 * (Standalone only: ioredis' cluster puts its own strategy on its node connections.)
 */
export const retryStrategy = (times: number): number => Math.min(times * 50, 2000) + Math.floor(Math.random() * 100)

/**
 * ioredis options of a node: ours mapped (with `retryStrategy` above), `ioredis` merged last,
 * always `lazyConnect`, numbers as numbers and the `legacy` reply mapping (the replies of the scripts are read in the
 * shapes it gives: arrays, and strings for doubles; RESP3 itself, ioredis 6's default protocol, is
 * fine with it).
 */
export const toIoredis = (options: RedisOptions): IORedisOptions & { readonly replyMapping: "legacy" } => ({
  retryStrategy,
  ...(options.host !== undefined ? { host: options.host } : {}),
  ...(options.port !== undefined ? { port: options.port } : {}),
  ...(options.username !== undefined ? { username: options.username } : {}),
  ...(options.password !== undefined ? { password: reveal(options.password) } : {}),
  ...(options.db !== undefined ? { db: options.db } : {}),
  ...(options.tls !== undefined ? { tls: options.tls } : {}),
  ...(options.enableAutoPipelining !== undefined ? { enableAutoPipelining: options.enableAutoPipelining } : {}),
  ...options.ioredis,
  lazyConnect: true,
  replyMapping: "legacy",
  // the scripts' integer replies are read as numbers: `stringNumbers: true` would make every
  // reply a string the operations refuse (an application may set it for its own connections)
  stringNumbers: false
})

/** Deadline of the initial connection; default 10 s. Of options that passed `check`. */
export const connectTimeoutOf = (options: RedisOptions): Duration.Duration =>
  Duration.fromInputUnsafe(options.connectTimeout ?? "10 seconds")

/** `path` names the option or the variable; the value is not attached (it may hold a password). */
const invalid = (path: string, message: string) => Result.fail(QueueConfig.invalidData(path, message))

/** `[::1]` → `::1`: URLs and addresses bracket IPv6 literals, sockets take them bare. */
const unbracket = (host: string) => (host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host)

/** `host:port`, with an IPv6 literal in brackets. */
export const address = (host: string, port: number | string): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

const decode = (part: string): string | undefined => {
  try {
    return decodeURIComponent(part)
  } catch {
    return undefined
  }
}

/**
 * Read `redis://[user[:password]@]host[:port][/db]` (or `rediss://`, TLS): `path` names it in a
 * failure (the argument, or the environment variable it came from). The password stays redacted.
 */
export const parseUrl = (
  secret: string | Redacted.Redacted<string>,
  path: string
): Result.Result<RedisOptions, Config.ConfigError> => {
  const input = reveal(secret)
  const expected = "expected redis://[user[:password]@]host[:port][/db] or rediss://…"
  let url: URL
  try {
    url = new URL(input)
  } catch {
    // not echoed: the text may hold a password
    return invalid(path, `not a valid URL (${expected})`)
  }
  // what a message may show of the URL: never the password
  const shown = `${url.protocol}//${
    url.username === "" ? "" : `${url.username}${url.password === "" ? "" : ":***"}@`
  }${url.host}`
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return invalid(path, `${shown}: the scheme must be redis: or rediss: (${expected})`)
  }
  const host = unbracket(url.hostname)
  if (host === "") return invalid(path, `${shown}: no host (${expected})`)
  const dbPart = url.pathname.replace(/^\//, "")
  if (dbPart !== "" && !/^\d+$/.test(dbPart)) {
    return invalid(path, `${shown}: the db (the path) must be a non-negative integer, got ${JSON.stringify(dbPart)}`)
  }
  const username = decode(url.username)
  const password = decode(url.password)
  if (username === undefined || password === undefined) {
    return invalid(path, `${shown}: malformed percent-encoding in the user or the password`)
  }
  return Result.succeed({
    host,
    port: url.port === "" ? 6379 : Number(url.port),
    ...(username !== "" ? { username } : {}),
    ...(password !== "" ? { password: Redacted.make(password) } : {}),
    ...(dbPart !== "" ? { db: Number(dbPart) } : {}),
    ...(url.protocol === "rediss:" ? { tls: {} } : {})
  })
}

const isPort = (port: unknown): port is number =>
  Number.isSafeInteger(port) && Number(port) >= 1 && Number(port) <= 65535

/** How a value shows in a message: strings quoted, never a password (not called with one). */
const show = (value: unknown): string => (typeof value === "string" ? JSON.stringify(value) : String(value))

/**
 * The options given, checked where ioredis would take a wrong value silently, throw or wait for
 * a connection that cannot be: `host`, `port`, `db`, `connectTimeout`, and the kinds of
 * `username`, `password` and `enableAutoPipelining`. `tls`, `ioredis` and `cluster` go to ioredis as
 * they are.
 */
export const check = <O extends RedisOptions>(options: O): Result.Result<O, Config.ConfigError> => {
  const { connectTimeout, db, enableAutoPipelining, host, password, port, username } = options
  if (host !== undefined && (typeof host !== "string" || host === "")) {
    return invalid("host", `host must be a non-empty string, got ${show(host)}`)
  }
  if (port !== undefined && !isPort(port)) {
    return invalid("port", `port must be an integer from 1 to 65535, got ${show(port)}`)
  }
  if (db !== undefined && !(Number.isSafeInteger(db) && db >= 0)) {
    return invalid("db", `db must be a non-negative integer, got ${show(db)}`)
  }
  if (username !== undefined && typeof username !== "string") {
    return invalid("username", `username must be a string, got ${typeof username}`)
  }
  if (password !== undefined && typeof password !== "string" && !Redacted.isRedacted(password)) {
    return invalid("password", `password must be a string or a Redacted string, got ${typeof password}`)
  }
  if (connectTimeout !== undefined) {
    const timeout = Duration.fromInput(connectTimeout)
    if (Option.isNone(timeout)) {
      return invalid("connectTimeout", `connectTimeout is not a duration: ${show(connectTimeout)}`)
    }
    if (!Duration.isFinite(timeout.value) || !Duration.isGreaterThan(timeout.value, Duration.zero)) {
      return invalid(
        "connectTimeout",
        `connectTimeout must be a finite positive duration, got ${Duration.format(timeout.value)}`
      )
    }
  }
  if (enableAutoPipelining !== undefined && typeof enableAutoPipelining !== "boolean") {
    return invalid("enableAutoPipelining", `enableAutoPipelining must be a boolean, got ${show(enableAutoPipelining)}`)
  }
  // ioredis' own keyPrefix prefixes the key a command names, not the keys a script builds from
  // it: lockstep's keys would be split between two prefixes (S19). The client's keyPrefix is the one.
  const cluster = (options as { readonly cluster?: ClusterOptions | undefined }).cluster
  for (
    const [path, prefix] of [
      ["ioredis.keyPrefix", options.ioredis?.keyPrefix],
      ["cluster.keyPrefix", cluster?.keyPrefix],
      ["cluster.redisOptions.keyPrefix", cluster?.redisOptions?.keyPrefix]
    ] as const
  ) {
    if (prefix !== undefined) {
      return invalid(
        path,
        `${path} is not supported: ioredis would prefix only the key a script is called with, not the keys it builds; give the client's keyPrefix instead (S19)`
      )
    }
  }
  return Result.succeed(options)
}

/** Options from a URL, or the options given, checked. */
export const parse = (
  input: RedisOptions | string | Redacted.Redacted<string>
): Result.Result<RedisOptions, Config.ConfigError> =>
  typeof input === "string" || Redacted.isRedacted(input)
    ? parseUrl(input as string | Redacted.Redacted<string>, "url")
    : Result.map(check(input), (options) =>
      options.host === undefined ? options : { ...options, host: unbracket(options.host) })

/** A cluster node address as ioredis takes it: `host:port`, `[v6 literal]:port` or `{ host, port }`. */
export const parseNode = (
  node: ClusterNode,
  path: string
): Result.Result<{ readonly host: string; readonly port: number }, Config.ConfigError> => {
  if (typeof node !== "string") {
    return typeof node.host === "string" && node.host !== "" && isPort(node.port)
      ? Result.succeed({ host: unbracket(node.host), port: node.port })
      : invalid(path, `{ host: ${show(node.host)}, port: ${show(node.port)} } is not a node address`)
  }
  const colon = node.lastIndexOf(":")
  const host = colon < 0 ? "" : unbracket(node.slice(0, colon))
  const port = colon < 0 ? "" : node.slice(colon + 1)
  if (host === "" || host.startsWith("[") || !/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    return invalid(path, `${JSON.stringify(node)} is not a node address (host:port, [IPv6]:port)`)
  }
  return Result.succeed({ host, port: Number(port) })
}

/** Every node address of a cluster (at least one). */
export const parseNodes = (
  nodes: ReadonlyArray<ClusterNode>,
  path: string
): Result.Result<Array<{ readonly host: string; readonly port: number }>, Config.ConfigError> =>
  nodes.length === 0
    ? invalid(path, "a cluster needs at least one node address")
    : Result.all(nodes.map((node) => parseNode(node, path)))

/** What `RedisLayer.layerConfig` connects to, read from a `ConnectionConfig`. */
export type Target =
  | { readonly kind: "cluster"; readonly nodes: ReadonlyArray<ParsedNode>; readonly options: RedisOptions }
  | { readonly kind: "standalone"; readonly options: RedisOptions }

type ParsedNode = { readonly host: string; readonly port: number }

/** The default URL of `RedisLayer.layerConfig`. */
export const defaultUrl = "redis://127.0.0.1:6379"

/**
 * A cluster when `nodes` is given (an empty list is a mistake, not "no cluster"), else the
 * standalone Redis at `url`; `password` wins over one in the URL and applies to every node. A
 * failure names the option by `paths` (the fields, or the variables they were read from).
 */
export const resolve = (
  config: ConnectionConfig,
  paths: { readonly nodes: string; readonly url: string; readonly password: string }
): Result.Result<Target, Config.ConfigError> =>
  Result.gen(function*() {
    const { password } = config
    if (password !== undefined && typeof password !== "string" && !Redacted.isRedacted(password)) {
      return yield* invalid(paths.password, `${paths.password} must be a string or a Redacted string`)
    }
    const auth: RedisOptions = password === undefined ? {} : { password }
    const { url = defaultUrl } = config
    if (typeof url !== "string" && !Redacted.isRedacted(url)) {
      return yield* invalid(paths.url, `${paths.url} must be a string or a Redacted string`)
    }
    if (config.nodes !== undefined) {
      return { kind: "cluster", nodes: yield* parseNodes(config.nodes, paths.nodes), options: auth }
    }
    const options = yield* parseUrl(url, paths.url)
    return { kind: "standalone", options: { ...options, ...auth } }
  })

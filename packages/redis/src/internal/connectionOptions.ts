/**
 * From the public options (`RedisOptions`, a `redis://` URL, cluster node addresses) to ioredis
 * options.
 */
import * as Duration from "effect/Duration"
import type { RedisOptions as IORedisOptions } from "ioredis"
import type { ClusterNode, RedisOptions } from "../RedisLayer.js"

/** ioredis options of a node: ours mapped, `ioredis` merged last, always `lazyConnect`. */
export const toIoredis = (options: RedisOptions): IORedisOptions => ({
  ...(options.host !== undefined ? { host: options.host } : {}),
  ...(options.port !== undefined ? { port: options.port } : {}),
  ...(options.username !== undefined ? { username: options.username } : {}),
  ...(options.password !== undefined ? { password: options.password } : {}),
  ...(options.db !== undefined ? { db: options.db } : {}),
  ...(options.tls !== undefined ? { tls: options.tls } : {}),
  ...(options.enableAutoPipelining !== undefined ? { enableAutoPipelining: options.enableAutoPipelining } : {}),
  ...options.ioredis,
  lazyConnect: true
})

/** Deadline of the initial connection; default 10 s. */
export const connectTimeoutOf = (options: RedisOptions): Duration.Duration =>
  Duration.decode(options.connectTimeout ?? "10 seconds")

/** Options from a `redis://` / `rediss://` URL, or the options given. */
export const parse = (options: RedisOptions | string): RedisOptions => {
  if (typeof options !== "string") return options
  const url = new URL(options)
  const tls = url.protocol === "rediss:"
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined
  return {
    host: url.hostname,
    port: url.port === "" ? 6379 : Number(url.port),
    ...(url.username !== "" ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== "" ? { password: decodeURIComponent(url.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(tls ? { tls: {} } : {})
  }
}

/** A cluster node address as ioredis takes it. */
export const toNode = (node: ClusterNode): { readonly host: string; readonly port: number } => {
  if (typeof node !== "string") return { host: node.host, port: node.port }
  const colon = node.lastIndexOf(":")
  return { host: node.slice(0, colon), port: Number(node.slice(colon + 1)) }
}

/**
 * CPU accounting of a timed section: this Node process (`process.cpuUsage`, every thread) and the
 * Redis servers (`INFO`, used_cpu_user + used_cpu_sys), read when the section starts and when it
 * ends; at the end also Redis connections and memory and this process's RSS, and the protocol
 * (RESP version) the clients spoke.
 */
import { Redis } from "ioredis"

export interface CpuUsed {
  readonly nodeCpuMs: number
  readonly redisCpuMs: number
  /** at the end of the timed section, all clients still connected (minus the probe's own) */
  readonly redisConnections: number
  readonly redisMemoryBytes: number
  readonly rssMiB: number
  /** the RESP versions of the clients connected at the end of the section (see `clientProtocols`) */
  readonly protocols: ReadonlyArray<string>
}

interface RedisInfo {
  readonly cpuMs: number
  readonly connections: number
  readonly memoryBytes: number
  readonly protocols: ReadonlyArray<string>
}

const field = (info: string, name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? "0")

/** The CPU time the Redis server behind `admin` has used so far, ms (`INFO`: used_cpu_user + used_cpu_sys). */
export const redisCpuMs = async (admin: Redis): Promise<number> => {
  const info = await admin.info("cpu")
  return (field(info, "used_cpu_user") + field(info, "used_cpu_sys")) * 1000
}

/**
 * The RESP versions spoken by the clients of the server behind `admin` other than `admin` itself
 * (`CLIENT LIST`, field `resp`, Redis 7+), e.g. `["3"]`. lockstep's engine and the raw loop both
 * use ioredis' default (RESP3 since ioredis 6): the bench checks that they do (`protocolsSeen`).
 */
export const clientProtocols = async (admin: Redis): Promise<Array<string>> => {
  const own = String(await admin.client("ID"))
  const list = String(await admin.client("LIST"))
  const versions = new Set<string>()
  for (const line of list.split("\n")) {
    if (line.trim() === "" || /(?:^| )id=(\d+)/.exec(line)?.[1] === own) continue
    versions.add(/(?:^| )resp=(\d+)/.exec(line)?.[1] ?? "?")
  }
  return [...versions].sort()
}

/** Every RESP version seen among the clients measured in this run, by engine: the two must agree. */
export const protocolsSeen = { raw: new Set<string>(), lockstep: new Set<string>() }

/** Notes the versions of `clientProtocols` for an engine's row ("raw …" or a lockstep one). */
export const noteProtocols = (engine: string, protocols: ReadonlyArray<string>): void => {
  const seen = engine.startsWith("raw") ? protocolsSeen.raw : protocolsSeen.lockstep
  for (const p of protocols) seen.add(p)
}

/** One line on the protocols seen: the same for both engines, or a warning. */
export const protocolsSummary = (): string => {
  const show = (s: ReadonlySet<string>) => s.size === 0 ? "none" : [...s].sort().map((v) => `RESP${v}`).join(" and ")
  const raw = show(protocolsSeen.raw)
  const lockstep = show(protocolsSeen.lockstep)
  return raw === lockstep || protocolsSeen.raw.size === 0 || protocolsSeen.lockstep.size === 0
    ? `Redis protocol of the clients measured (CLIENT LIST): raw loop ${raw}, lockstep ${lockstep}`
    : `WARNING: the engines spoke different Redis protocols (CLIENT LIST): raw loop ${raw}, lockstep ${lockstep}`
}

/** At the end of a section (`withProtocols`), the clients' protocols are read after everything else. */
const redisInfo = async (ports: ReadonlyArray<number>, withProtocols = false): Promise<RedisInfo> => {
  let cpuMs = 0
  let connections = 0
  let memoryBytes = 0
  const protocols = new Set<string>()
  for (const port of ports) {
    const admin = new Redis({ port, host: "127.0.0.1", lazyConnect: true })
    await admin.connect()
    const info = await admin.info()
    if (withProtocols) {
      for (const p of await clientProtocols(admin)) protocols.add(p)
    }
    await admin.quit()
    cpuMs += (field(info, "used_cpu_user") + field(info, "used_cpu_sys")) * 1000
    connections += field(info, "connected_clients") - 1
    memoryBytes += field(info, "used_memory")
  }
  return { cpuMs, connections, memoryBytes, protocols: [...protocols].sort() }
}

/** Call `start` right before the timed section and `stop` right after it. */
export class CpuProbe {
  private node: NodeJS.CpuUsage | undefined
  private redis = 0
  private used: CpuUsed | undefined
  constructor(private readonly ports: ReadonlyArray<number>) {}
  readonly start = async (): Promise<void> => {
    this.redis = (await redisInfo(this.ports)).cpuMs
    this.node = process.cpuUsage()
  }
  readonly stop = async (): Promise<void> => {
    const node = process.cpuUsage(this.node)
    const redis = await redisInfo(this.ports, true)
    this.used = {
      nodeCpuMs: (node.user + node.system) / 1000,
      redisCpuMs: redis.cpuMs - this.redis,
      redisConnections: redis.connections,
      redisMemoryBytes: redis.memoryBytes,
      rssMiB: Math.round(process.memoryUsage().rss / 1048576),
      protocols: redis.protocols
    }
  }
  get result(): CpuUsed | undefined {
    return this.used
  }
}

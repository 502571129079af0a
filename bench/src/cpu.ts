/**
 * CPU accounting of a timed section: this Node process (`process.cpuUsage`, every thread) and the
 * Redis servers (`INFO`, used_cpu_user + used_cpu_sys), read when the section starts and when it
 * ends; at the end also Redis connections and memory and this process's RSS.
 */
import { Redis } from "ioredis"

export interface CpuUsed {
  readonly nodeCpuMs: number
  readonly redisCpuMs: number
  /** at the end of the timed section, all clients still connected (minus the probe's own) */
  readonly redisConnections: number
  readonly redisMemoryBytes: number
  readonly rssMiB: number
}

interface RedisInfo {
  readonly cpuMs: number
  readonly connections: number
  readonly memoryBytes: number
}

const field = (info: string, name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? "0")

/** The CPU time the Redis server behind `admin` has used so far, ms (`INFO`: used_cpu_user + used_cpu_sys). */
export const redisCpuMs = async (admin: Redis): Promise<number> => {
  const info = await admin.info("cpu")
  return (field(info, "used_cpu_user") + field(info, "used_cpu_sys")) * 1000
}

const redisInfo = async (ports: ReadonlyArray<number>): Promise<RedisInfo> => {
  let cpuMs = 0
  let connections = 0
  let memoryBytes = 0
  for (const port of ports) {
    const admin = new Redis({ port, host: "127.0.0.1", lazyConnect: true })
    await admin.connect()
    const info = await admin.info()
    await admin.quit()
    cpuMs += (field(info, "used_cpu_user") + field(info, "used_cpu_sys")) * 1000
    connections += field(info, "connected_clients") - 1
    memoryBytes += field(info, "used_memory")
  }
  return { cpuMs, connections, memoryBytes }
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
    const redis = await redisInfo(this.ports)
    this.used = {
      nodeCpuMs: (node.user + node.system) / 1000,
      redisCpuMs: redis.cpuMs - this.redis,
      redisConnections: redis.connections,
      redisMemoryBytes: redis.memoryBytes,
      rssMiB: Math.round(process.memoryUsage().rss / 1048576)
    }
  }
  get result(): CpuUsed | undefined {
    return this.used
  }
}

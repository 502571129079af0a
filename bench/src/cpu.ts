/**
 * CPU accounting of a timed section: this Node process (`process.cpuUsage`, every thread) and the
 * Redis servers (`INFO cpu`, user + sys), read when the section starts and when it ends.
 */
import { Redis } from "ioredis"

export interface CpuUsed {
  readonly nodeCpuMs: number
  readonly redisCpuMs: number
}

const redisCpuMs = async (ports: ReadonlyArray<number>): Promise<number> => {
  let total = 0
  for (const port of ports) {
    const admin = new Redis({ port, host: "127.0.0.1", lazyConnect: true })
    await admin.connect()
    const info = await admin.info("cpu")
    await admin.quit()
    const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? "0")
    const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? "0")
    total += (user + sys) * 1000
  }
  return total
}

/** Call `start` right before the timed section and `stop` right after it. */
export class CpuProbe {
  private node: NodeJS.CpuUsage | undefined
  private redis = 0
  private used: CpuUsed | undefined
  constructor(private readonly ports: ReadonlyArray<number>) {}
  readonly start = async (): Promise<void> => {
    this.redis = await redisCpuMs(this.ports)
    this.node = process.cpuUsage()
  }
  readonly stop = async (): Promise<void> => {
    const node = process.cpuUsage(this.node)
    const redis = await redisCpuMs(this.ports)
    this.used = { nodeCpuMs: (node.user + node.system) / 1000, redisCpuMs: redis - this.redis }
  }
  get result(): CpuUsed | undefined {
    return this.used
  }
}

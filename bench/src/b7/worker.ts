/**
 * One process of B7 (see `protocol.ts`): `node worker.js '<WorkerSpec JSON>'`.
 */
import { writeFileSync } from "node:fs"
import * as inspector from "node:inspector"
import * as path from "node:path"
import * as readline from "node:readline"
import * as LockstepWorker from "./lockstepWorker.js"
import type { Report, WorkerSpec } from "./protocol.js"
import * as RawWorker from "./rawWorker.js"

const spec = JSON.parse(process.argv[2]!) as WorkerSpec
const report = (r: Report) => process.stdout.write(`${JSON.stringify(r)}\n`)

/**
 * `B7_PROFILE_DIR=/tmp/prof`: a CPU profile of the timed section (only), written there as
 * `<engine>-<role>-<pid>.cpuprofile` when it ends.
 */
const profile = async (): Promise<() => Promise<void>> => {
  const dir = process.env.B7_PROFILE_DIR
  if (dir === undefined) return async () => {}
  const session = new inspector.Session()
  session.connect()
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result)))
    )
  await post("Profiler.enable")
  await post("Profiler.setSamplingInterval", { interval: 100 })
  await post("Profiler.start")
  return async () => {
    const { profile } = await post("Profiler.stop") as { readonly profile: unknown }
    writeFileSync(path.join(dir, `${spec.engine}-${spec.role}-${process.pid}.cpuprofile`), JSON.stringify(profile))
    session.disconnect()
  }
}

const main = async () => {
  const worker = spec.engine === "raw"
    ? spec.role === "subscriber" ? await RawWorker.subscriber(spec, report) : await RawWorker.producer(spec)
    : spec.role === "subscriber"
    ? await LockstepWorker.subscriber(spec, report)
    : await LockstepWorker.producer(spec)
  report({ t: "ready" })
  const commands = readline.createInterface({ input: process.stdin })
  for await (const line of commands) {
    if (line === "warmup") {
      await worker.warmup()
      if (spec.role === "producer") report({ t: "warm" })
    } else if (line === "go") {
      // not awaited: the subscriber's result comes when its last delivery does
      const stop = await profile()
      void worker.go().then(async (r) => {
        await stop()
        report(r)
      })
    }
  }
  // stdin closed: the run is over
  await worker.close()
  process.exit(0)
}

main().catch((e: unknown) => {
  process.stderr.write(`B7 worker (${spec.engine} ${spec.role}) failed: ${String(e)}\n`)
  process.exit(1)
})

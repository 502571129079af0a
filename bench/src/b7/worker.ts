/**
 * One process of B7 (see `protocol.ts`): `node worker.js '<WorkerSpec JSON>'`.
 */
import * as readline from "node:readline"
import * as LockstepWorker from "./lockstepWorker.js"
import type { Report, WorkerSpec } from "./protocol.js"
import * as RawWorker from "./rawWorker.js"

const spec = JSON.parse(process.argv[2]!) as WorkerSpec
const report = (r: Report) => process.stdout.write(`${JSON.stringify(r)}\n`)

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
      void worker.go().then(report)
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

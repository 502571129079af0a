/**
 * One process of B8 (see `protocol.ts`): `node worker.js '<WorkerSpec JSON>'`. The engine's module
 * is imported on demand, so a raw process never loads Effect or lockstep.
 */
import * as readline from "node:readline"
import { clockOffsetUs, type Report, type Worker, type WorkerSpec } from "./protocol.js"

const spec = JSON.parse(process.argv[2]!) as WorkerSpec
const report = (r: Report) => process.stdout.write(`${JSON.stringify(r)}\n`)

const fail = (e: unknown) => {
  process.stderr.write(`B8 worker (${spec.engine} ${spec.role}) failed: ${String(e)}\n`)
  process.exit(1)
}

const start = async (): Promise<Worker> => {
  const engine = spec.engine === "raw" ? await import("./rawWorker.js") : await import("./lockstepWorker.js")
  return spec.role === "subscriber" ? engine.subscriber(spec, report) : engine.producer(spec)
}

const main = async () => {
  const worker = await start()
  report({ t: "ready", clockOffsetUs: clockOffsetUs() })
  const commands = readline.createInterface({ input: process.stdin })
  for await (const line of commands) {
    if (line === "warmup") {
      await worker.warmup()
      if (spec.role === "producer") report({ t: "warm" })
    } else if (line === "go") {
      // not awaited: the result comes when the last timed message was sent or received
      const done = worker.go()
      if (spec.role === "subscriber") report({ t: "started" })
      done.then(report, fail)
    }
  }
  // stdin closed: the run is over
  await worker.close()
  process.exit(0)
}

main().catch(fail)

/**
 * A bench worker as a child process (B7, B8): `node [node args] <script> '<spec JSON>'`, told
 * what to do by commands on its stdin (one a line), answering with reports on its stdout (one
 * JSON object a line, each with its kind in `t`). Plain Node: no Effect here.
 */
import { spawn } from "node:child_process"
import * as readline from "node:readline"

export interface WorkerProcess<R extends { readonly t: string }> {
  /** the next report of kind `t` (reports of other kinds wait for their own `next`); rejects if the worker failed */
  readonly next: <T extends R["t"]>(t: T) => Promise<Extract<R, { readonly t: T }>>
  readonly send: (line: string) => void
  /** closes its stdin (the worker leaves and exits), then waits for it to exit (SIGKILL after 10 s) */
  readonly end: () => Promise<void>
}

/** Extra node arguments from the environment variable `name` (space-separated), e.g. for `--cpu-prof`. */
export const nodeArgsFrom = (name: string): Array<string> =>
  (process.env[name] ?? "").split(" ").filter((a) => a !== "")

export const startWorker = <R extends { readonly t: string }>(options: {
  readonly script: string
  readonly spec: unknown
  /** names the worker in errors, e.g. "B7 raw subscriber" */
  readonly label: string
  readonly nodeArgs?: ReadonlyArray<string>
}): WorkerProcess<R> => {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script, JSON.stringify(options.spec)], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  const received: Array<R> = []
  const waiting: Array<() => void> = []
  let failure: Error | undefined
  const wake = () => {
    for (const w of waiting.splice(0)) w()
  }
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    received.push(JSON.parse(line) as R)
    wake()
  })
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  child.on("exit", (code) => {
    if (code !== 0) failure = new Error(`${options.label} exited with code ${code}`)
    wake()
  })
  const next = <T extends R["t"]>(t: T): Promise<Extract<R, { readonly t: T }>> =>
    new Promise((resolve, reject) => {
      const look = () => {
        const at = received.findIndex((r) => r.t === t)
        if (at >= 0) return resolve(received.splice(at, 1)[0] as Extract<R, { readonly t: T }>)
        if (failure !== undefined) return reject(failure)
        waiting.push(look)
      }
      look()
    })
  return {
    next,
    send: (line) => child.stdin.write(`${line}\n`),
    end: () => {
      child.stdin.end()
      const kill = setTimeout(() => child.kill("SIGKILL"), 10_000)
      return exited.then(() => clearTimeout(kill))
    }
  }
}

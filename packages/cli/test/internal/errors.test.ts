/**
 * How a failure is reported: one line (whatever the message's shape) and an exit code that tells a
 * usage mistake (2) from an engine failure (1).
 */
import { describe, expect, it } from "@effect/vitest"
import { QueueConfig, QueueError } from "@lockstep/core"
import * as Cause from "effect/Cause"
import * as CliError from "effect/cli/CliError"
import * as Duration from "effect/Duration"
import { ExitCode, oneLine, report, UsageError } from "../../src/internal/errors.js"

const fail = (error: unknown) => report(Cause.fail(error))

describe("report", () => {
  it("bad input is a usage error (2) with the error's own message", () => {
    expect(fail(new QueueError.InvalidRoom({ room: "", reason: "a room must not be empty" }))).toEqual({
      line: "lockstep: invalid room \"\": a room must not be empty",
      code: ExitCode.Usage
    })
    expect(fail(new QueueError.InvalidArgument({ message: "limit must be an integer from 1 to 1000, got 0" }))).toEqual(
      {
        line: "lockstep: limit must be an integer from 1 to 1000, got 0",
        code: 2
      }
    )
    expect(fail(new UsageError({ message: "give --url or --cluster-nodes, not both" })).code).toBe(2)
  })

  it("a failure of the engine is 1", () => {
    const refused = new QueueError.EngineError({
      engine: "redis",
      operation: "connect",
      cause: new Error("connect ECONNREFUSED 127.0.0.1:1")
    })
    expect(fail(refused)).toEqual({
      line: "lockstep: redis: connect failed: connect ECONNREFUSED 127.0.0.1:1",
      code: ExitCode.EngineFailure
    })
    expect(fail(new QueueError.OperationTimeout({ operation: "roomState", timeout: Duration.seconds(2) }))).toEqual({
      line: "lockstep: roomState did not complete within 2s",
      code: 1
    })
  })

  it("a configuration error names the flag (or the variable) it came from", () => {
    expect(fail(QueueConfig.invalidData("url", "http://x: the scheme must be redis: or rediss:"))).toEqual({
      line: "lockstep: --url: http://x: the scheme must be redis: or rediss:",
      code: 2
    })
    expect(fail(QueueConfig.invalidData("keyPrefix", "keyPrefix must not contain '{' or '}'")).line).toBe(
      "lockstep: --prefix: keyPrefix must not contain '{' or '}'"
    )
    expect(fail(QueueConfig.invalidData("LOCKSTEP_SHARDS", "Expected an integer")).line).toBe(
      "lockstep: LOCKSTEP_SHARDS: Expected an integer"
    )
    // a variable's error names it once, with its description (issue 23)
    expect(fail(QueueConfig.invalidVariable("LOCKSTEP_SHARDS", "expected an integer", "the shard count")).line).toBe(
      "lockstep: LOCKSTEP_SHARDS: expected an integer — the shard count"
    )
  })

  it("a command line the parser refused: the first problem and where to find help", () => {
    const missing = new CliError.ShowHelp({
      commandPath: ["lockstep", "state"],
      errors: [new CliError.MissingArgument({ argument: "room" })]
    })
    expect(fail(missing)).toEqual({
      line: "lockstep: Missing required argument: room (see 'lockstep state --help')",
      code: ExitCode.Usage
    })
    expect(fail(new CliError.ShowHelp({ commandPath: ["lockstep"], errors: [] }))).toEqual({
      line: "lockstep: a command is required (see 'lockstep --help')",
      code: 2
    })
    const unknown = new CliError.ShowHelp({
      commandPath: ["lockstep"],
      errors: [new CliError.UnknownSubcommand({ subcommand: "romos", parent: ["lockstep"], suggestions: ["rooms"] })]
    })
    expect(fail(unknown).line).toBe(
      "lockstep: Unknown subcommand \"romos\" for \"lockstep\" (did you mean rooms?) (see 'lockstep --help')"
    )
  })

  it("a defect is an unexpected failure (1), on one line", () => {
    expect(report(Cause.die(new Error("boom\n  at somewhere")))).toEqual({
      line: "lockstep: unexpected failure: boom at somewhere",
      code: 1
    })
  })
})

it("oneLine: lines joined, blanks collapsed, suggestions made short", () => {
  expect(oneLine("a\n  b\r\nc")).toBe("a b c")
  expect(oneLine("Unknown flag\n\n  Did you mean this?\n    --json\n    --jsonl")).toBe(
    "Unknown flag (did you mean --json, --jsonl?)"
  )
})

#!/usr/bin/env node
/**
 * The `lockstep` executable: `Cli.run` on the process's arguments, on Node. The exit code is set,
 * not forced: the process ends when the client it made has closed everything (S20).
 *
 * @since 1.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Cli from "./Cli.js"

NodeRuntime.runMain(
  Cli.run(process.argv.slice(2)).pipe(
    Effect.flatMap((code) =>
      Effect.sync(() => {
        process.exitCode = code
      })
    ),
    Effect.provide(NodeServices.layer)
  ),
  { disableErrorReporting: true }
)

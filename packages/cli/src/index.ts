/**
 * The lockstep command line. The package's bin is `lockstep`; this entry point runs the same
 * program from code.
 *
 * @since 1.1.0
 */

/**
 * `run(args)`: the `lockstep` program, and its `ExitCode`s.
 *
 * @since 1.1.0
 */
export * as Cli from "./Cli.js"

/**
 * The packaging step of `pnpm lint` (after ESLint): build the packages, pack each one into a temp
 * dir with `pnpm pack`, and check every tarball (`PackageChecks.ts`: publint, LICENSE / README /
 * repository / homepage / bugs, Are the Types Wrong with the `esm-only` profile, declared
 * dependencies along each entry point's imports and no declared one unused; across the packages,
 * one range per peer, admitting the version the workspace tests with). Any problem fails, with
 * every problem listed.
 *
 *   pnpm exec tsx packaging/src/check.ts
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as PackageChecks from "./PackageChecks.js"
import * as Workspace from "./Workspace.js"

const program = Effect.gen(function*() {
  const started = Date.now()
  const packed = yield* Workspace.buildAndPack
  const peerRanges = PackageChecks.peerRangeProblems(packed)
  const results = yield* Effect.forEach(
    packed,
    (pkg) =>
      Effect.map(PackageChecks.check(pkg), (problems) => ({
        name: pkg.manifest.name,
        problems: [
          ...problems,
          ...peerRanges.flatMap(({ name, problem }) => name === pkg.manifest.name ? [problem] : [])
        ]
      }))
  )
  const failed = results.filter((result) => result.problems.length > 0)
  for (const { name, problems } of results) {
    yield* Console.log(
      problems.length === 0
        ? `${name}: publint, metadata, attw (esm-only), imports, peer ranges ✓`
        : `${name}:\n${problems.map((problem) => `  - ${problem.replace(/\n/g, "\n    ")}`).join("\n")}`
    )
  }
  if (failed.length > 0) {
    return yield* new Workspace.PackagingError({
      message: `packaging check failed for ${failed.map((result) => result.name).join(", ")}`
    })
  }
  yield* Console.log(`packages checked in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}).pipe(Effect.scoped)

NodeRuntime.runMain(
  program.pipe(
    Effect.tapError((error) => Console.error(error.message)),
    Effect.provide(NodeServices.layer)
  ),
  { disableErrorReporting: true }
)

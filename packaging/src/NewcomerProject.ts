/**
 * The newcomer's install line, as a test: a fresh project outside the workspace where a new user
 * runs `pnpm add @lockstep/core @lockstep/redis effect` (and `@lockstep/proxy`), our packages
 * coming from the packed tarballs and `effect` from the npm registry **as it resolves it today**
 * (no version given, the way a new user types it), then type-checks and runs the README's minimal
 * example, read from the root README.md (so the README and the test cannot drift).
 *
 * Unlike the consumer project (`ConsumerProject.ts`, offline, pinned to the workspace's versions),
 * this needs the registry; when it cannot be reached, the install fails with a message saying so.
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Schema from "effect/Schema"
import * as ConsumerProject from "./ConsumerProject.js"
import { PackagingError, type Packed, pnpm, root } from "./Workspace.js"

/** The README heading whose first ```ts block is the minimal example. */
export const exampleHeading = "## A minimal example (in-memory engine)"

/** The packages the newcomer adds, besides `effect`: the tarballs of these. */
export const added = ["@lockstep/core", "@lockstep/redis", "@lockstep/proxy"] as const

/**
 * The first ```ts block under `exampleHeading` in the root README.md (before the next `## `
 * heading). Fails when the heading or the block is gone: the README's example is what this tests.
 */
export const readmeExample: Effect.Effect<string, PackagingError, FileSystem.FileSystem | Path.Path> = Effect.gen(
  function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(root, "README.md")
    const lines = (yield* fs.readFileString(file).pipe(
      Effect.mapError((cause) => new PackagingError({ message: `cannot read ${file}`, cause }))
    )).split("\n")
    const heading = lines.findIndex((line) => line.trimEnd() === exampleHeading)
    const sectionEnd = lines.findIndex((line, i) => i > heading && line.startsWith("## "))
    const section = lines.slice(heading + 1, sectionEnd === -1 ? lines.length : sectionEnd)
    const open = section.findIndex((line) => /^```ts\s*$/.test(line))
    const close = section.findIndex((line, i) => i > open && /^```\s*$/.test(line))
    if (heading === -1 || open === -1 || close === -1) {
      return yield* new PackagingError({
        message: `README.md has no \`\`\`ts block under the heading "${exampleHeading}": the newcomer test runs ` +
          "that block (change exampleHeading in packaging/src/NewcomerProject.ts if the heading moved)"
      })
    }
    return section.slice(open + 1, close).join("\n") + "\n"
  }
)

/**
 * Write the project into `dir` (empty): the tarballs, the two tsconfigs (`ConsumerProject.scaffold`),
 * `src/example.ts` (the README's example) and a `package.json` with TypeScript and `@types/node` at
 * the workspace's versions (what we type-check with; the newcomer's TypeScript is theirs to pick)
 * and overrides that keep every `@lockstep/*` on its tarball, never a registry version. No
 * dependencies yet: `add` adds them as the newcomer does.
 */
export const make = (
  dir: string,
  packed: ReadonlyArray<Packed>
): Effect.Effect<void, PackagingError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const example = yield* readmeExample
    const devDependencies = Object.fromEntries(
      yield* Effect.forEach(
        ["typescript", "@types/node"],
        (name) => Effect.map(ConsumerProject.workspaceVersion(name), (version) => [name, version] as const)
      )
    )
    const manifest = {
      name: "lockstep-newcomer",
      private: true,
      type: "module",
      devDependencies,
      pnpm: {
        overrides: Object.fromEntries(packed.map((pkg) => [pkg.manifest.name, ConsumerProject.tarballRef(pkg)]))
      }
    }
    yield* ConsumerProject.scaffold(dir, packed, {
      "src/example.ts": { text: example },
      "package.json": { text: JSON.stringify(manifest, null, 2) + "\n" }
    })
  })

/** pnpm's messages when it could not reach a registry. */
const unreachable =
  /ERR_PNPM_META_FETCH_FAIL|ERR_PNPM_FETCH_|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|socket hang up/

/**
 * `pnpm add <the tarballs of added> effect` in the project: `effect` without a version, resolved by
 * the registry (its `latest`), like a new user's `pnpm add @lockstep/core @lockstep/redis effect`.
 * Packages already in the workspace's pnpm store come from there, the rest is downloaded. Fails
 * with a message naming the registry when it cannot be reached.
 */
export const add = (
  dir: string,
  packed: ReadonlyArray<Packed>
): Effect.Effect<string, PackagingError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const env = ConsumerProject.cleanEnv()
    const tarballs = yield* Effect.forEach(added, (name) => {
      const pkg = packed.find((candidate) => candidate.manifest.name === name)
      return pkg === undefined
        ? Effect.fail(new PackagingError({ message: `${name} was not packed` }))
        : Effect.succeed(ConsumerProject.tarballRef(pkg))
    })
    const registry = (yield* pnpm(["config", "get", "registry"], { cwd: dir, env })).trim()
    const store = yield* ConsumerProject.storePath
    return yield* pnpm(
      [
        "add",
        ...tarballs,
        "effect",
        "--ignore-workspace",
        "--reporter=append-only",
        "--store-dir",
        store,
        // fail within about a minute, not several, when the registry is down
        "--fetch-retries=2",
        "--fetch-retry-mintimeout=2000",
        "--fetch-retry-maxtimeout=10000"
      ],
      { cwd: dir, env }
    ).pipe(
      Effect.mapError((error) =>
        unreachable.test(error.message)
          ? new PackagingError({
            message: `the npm registry (${registry}) cannot be reached, and this test needs it: it installs effect ` +
              `as the registry resolves it for a new user (\`pnpm add @lockstep/core @lockstep/redis effect\`). ` +
              `pnpm said:\n${error.message}`,
            cause: error
          })
          : error
      )
    )
  })

const PackageJson = Schema.Struct({ name: Schema.String, version: Schema.String })

/** The version of `name` the project's node resolves (`node_modules/<name>/package.json`). */
export const installedVersion = (
  dir: string,
  name: string
): Effect.Effect<string, PackagingError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(dir, "node_modules", name, "package.json")
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((cause) => new PackagingError({ message: `${name} is not installed (no ${file})`, cause }))
    )
    const manifest = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(PackageJson))(text).pipe(
      Effect.mapError((cause) => new PackagingError({ message: `cannot read ${file}: ${cause.message}`, cause }))
    )
    return manifest.version
  })

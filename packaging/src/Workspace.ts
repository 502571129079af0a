/**
 * The workspace's publishable packages, built and packed the way `pnpm publish` packs them.
 * Shared by the packaging checks of `pnpm lint` (`check.ts`) and the consumer test.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as ChildProcess from "effect/process/ChildProcess"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { fileURLToPath } from "node:url"

/** Something in building, packing, checking or installing the packages went wrong. */
export class PackagingError extends Data.TaggedError("PackagingError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** The repository root. */
export const root = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "")

/** The parts of a package.json the packaging checks read. */
export const Manifest = Schema.Struct({
  name: Schema.String,
  version: Schema.String,
  private: Schema.optional(Schema.Boolean),
  exports: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  /** executables: one path (named after the package) or name → path */
  bin: Schema.optional(Schema.Union([Schema.String, Schema.Record(Schema.String, Schema.String)])),
  dependencies: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  peerDependencies: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  devDependencies: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  peerDependenciesMeta: Schema.optional(
    Schema.Record(Schema.String, Schema.Struct({ optional: Schema.optional(Schema.Boolean) }))
  )
})

/** A package.json as the checks see it. */
export type Manifest = typeof Manifest.Type

/** A publishable workspace package. */
export interface WorkspacePackage {
  readonly dir: string
  readonly manifest: Manifest
}

/** A package packed into a tarball. */
export interface Packed extends WorkspacePackage {
  readonly tarball: string
  /** The files in the tarball, relative to the package root. */
  readonly files: ReadonlySet<string>
}

const collect = (stream: Stream.Stream<Uint8Array, unknown>) =>
  stream.pipe(Stream.decodeText(), Stream.mkString, Effect.orElseSucceed(() => ""))

/**
 * Run `command args` in `cwd` and return its stdout; a non-zero exit fails with the output.
 * `env` replaces the environment when given (nothing is inherited then).
 */
export const exec = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Record<string, string> }
): Effect.Effect<string, PackagingError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* ChildProcess.make(command, args, {
      cwd: options.cwd,
      stdin: "ignore",
      ...(options.env === undefined ? {} : { env: options.env, extendEnv: false })
    })
    const [stdout, stderr, exitCode] = yield* Effect.all(
      [collect(child.stdout), collect(child.stderr), child.exitCode],
      { concurrency: "unbounded" }
    )
    if (exitCode !== 0) {
      return yield* new PackagingError({
        message: `\`${command} ${
          args.join(" ")
        }\` (in ${options.cwd}) exited with code ${exitCode}:\n${stdout}${stderr}`
      })
    }
    return stdout
  })).pipe(
    Effect.catchTag(
      "PlatformError",
      (cause) => Effect.fail(new PackagingError({ message: `could not run \`${command}\`: ${cause.message}`, cause }))
    )
  )

/**
 * Run pnpm: the pnpm that runs this script when there is one (`npm_execpath`, set by `pnpm run`,
 * also when pnpm came through `npx` and is not on PATH), else `pnpm` from PATH.
 */
export const pnpm = (
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Record<string, string> }
): Effect.Effect<string, PackagingError, ChildProcessSpawner.ChildProcessSpawner> => {
  const self = process.env.npm_execpath
  return self !== undefined && /^pnpm(?:\.c?js)?$/.test(self.split(/[\\/]/).pop() ?? "")
    ? exec(process.execPath, [self, ...args], options)
    : exec("pnpm", args, options)
}

const readJson = <A>(schema: Schema.ConstraintDecoder<A>, file: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(file)).pipe(
    Effect.flatMap(Schema.decodeUnknownEffect(Schema.fromJsonString(schema))),
    Effect.mapError((cause) => new PackagingError({ message: `cannot read ${file}: ${cause.message}`, cause }))
  )

/** The packages under `packages/` that are not private, in dependency order (dependencies first). */
export const publishable: Effect.Effect<
  ReadonlyArray<WorkspacePackage>,
  PackagingError,
  FileSystem.FileSystem | Path.Path
> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dirs = yield* fs.readDirectory(path.join(root, "packages")).pipe(
    Effect.mapError((cause) => new PackagingError({ message: "cannot list packages/", cause }))
  )
  const found = yield* Effect.forEach([...dirs].sort(), (name) =>
    Effect.gen(function*() {
      const dir = path.join(root, "packages", name)
      const file = path.join(dir, "package.json")
      if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) return Option.none()
      const manifest = yield* readJson(Manifest, file)
      return manifest.private === true ? Option.none() : Option.some({ dir, manifest })
    }))
  const packages = found.flatMap(Option.toArray)
  // dependencies first: a package after every workspace package it depends on (peers included:
  // `@lockstep/core` is a peer of the engine and the proxy)
  const ordered: Array<WorkspacePackage> = []
  const visit = (pkg: WorkspacePackage) => {
    if (ordered.includes(pkg)) return
    const deps = { ...pkg.manifest.dependencies, ...pkg.manifest.peerDependencies }
    for (const dep of Object.keys(deps)) {
      const inner = packages.find((candidate) => candidate.manifest.name === dep)
      if (inner !== undefined) visit(inner)
    }
    ordered.push(pkg)
  }
  packages.forEach(visit)
  return ordered
})

/** `src/a/B.ts` → `a/B`; undefined for declaration files and non-TypeScript files. */
const sourceModule = (file: string) =>
  /^(.*)\.(?:ts|mts|cts)$/.test(file) && !file.endsWith(".d.ts")
    ? file.replace(/\.(?:ts|mts|cts)$/, "")
    : undefined

/** `dist/a/B.js.map` → `a/B` (outputs of tsc for a module). */
const outputModule = (file: string) => file.replace(/\.(?:d\.ts\.map|d\.ts|js\.map|js)$/, "")

/**
 * `tsc -b tsconfig.build.json` (every package's `dist`), made trustworthy for packing: a package
 * whose `dist` misses a module's output (deleted by hand: `tsc -b` trusts its build info and
 * would not notice) is rebuilt with `--force`, and outputs whose source is gone (a module moved
 * or deleted) are removed, so no stale file is ever packed.
 */
export const build: Effect.Effect<
  void,
  PackagingError,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path
> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc")
  const listing = (dir: string) =>
    fs.exists(dir).pipe(
      Effect.flatMap((exists) => exists ? fs.readDirectory(dir, { recursive: true }) : Effect.succeed([])),
      Effect.mapError((cause) => new PackagingError({ message: `cannot list ${dir}`, cause }))
    )
  const missingOutputs = Effect.gen(function*() {
    const missing: Array<string> = []
    for (const pkg of yield* publishable) {
      const sources = (yield* listing(path.join(pkg.dir, "src"))).flatMap((f) => sourceModule(f) ?? [])
      const outputs = new Set(yield* listing(path.join(pkg.dir, "dist")))
      for (const module of sources) {
        for (const ext of [".js", ".d.ts"]) {
          if (!outputs.has(module + ext)) missing.push(path.join(pkg.dir, "dist", module + ext))
        }
      }
    }
    return missing
  })

  yield* exec(process.execPath, [tsc, "-b", "tsconfig.build.json"], { cwd: root })
  if ((yield* missingOutputs).length > 0) {
    yield* exec(process.execPath, [tsc, "-b", "tsconfig.build.json", "--force"], { cwd: root })
    const stillMissing = yield* missingOutputs
    if (stillMissing.length > 0) {
      return yield* new PackagingError({ message: `tsc emitted no output for:\n${stillMissing.join("\n")}` })
    }
  }
  for (const pkg of yield* publishable) {
    const sources = new Set((yield* listing(path.join(pkg.dir, "src"))).flatMap((f) => sourceModule(f) ?? []))
    for (const file of yield* listing(path.join(pkg.dir, "dist"))) {
      const full = path.join(pkg.dir, "dist", file)
      const isFile = yield* fs.stat(full).pipe(
        Effect.map((info) => info.type === "File"),
        Effect.orElseSucceed(() => false)
      )
      if (isFile && !sources.has(outputModule(file))) {
        yield* Effect.logInfo(`removing stale build output ${full}`)
        yield* fs.remove(full).pipe(
          Effect.mapError((cause) => new PackagingError({ message: `cannot remove ${full}`, cause }))
        )
      }
    }
  }
})

const PackOutput = Schema.Struct({
  filename: Schema.String,
  files: Schema.Array(Schema.Struct({ path: Schema.String }))
})

/**
 * `pnpm pack` every publishable package into `destination` (which must exist). pnpm rewrites
 * `workspace:` ranges to the versions they stand for, as `pnpm publish` does. Build first.
 */
export const pack = (
  destination: string
): Effect.Effect<
  ReadonlyArray<Packed>,
  PackagingError,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path
> =>
  Effect.flatMap(
    publishable,
    (packages) =>
      Effect.forEach(packages, (pkg) =>
        pnpm(["pack", "--pack-destination", destination, "--json"], { cwd: pkg.dir }).pipe(
          Effect.flatMap((stdout) =>
            Schema.decodeUnknownEffect(Schema.fromJsonString(PackOutput))(stdout.slice(stdout.indexOf("{")))
          ),
          Effect.mapError((cause) =>
            cause._tag === "PackagingError"
              ? cause
              : new PackagingError({ message: `unexpected \`pnpm pack --json\` output: ${cause.message}`, cause })
          ),
          Effect.map((output): Packed => ({
            ...pkg,
            tarball: output.filename,
            files: new Set(output.files.map((file) =>
              file.path
            ))
          }))
        ))
  )

/**
 * `build`, then `pack` into a temp dir removed when the scope closes: what `pnpm check:packages`
 * and the packaging tests start from.
 */
export const buildAndPack: Effect.Effect<
  ReadonlyArray<Packed>,
  PackagingError,
  ChildProcessSpawner.ChildProcessSpawner | FileSystem.FileSystem | Path.Path | Scope.Scope
> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  yield* build
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "lockstep-pack-" }).pipe(
    Effect.mapError((cause) => new PackagingError({ message: "cannot make a temp dir", cause }))
  )
  return yield* pack(dir)
})

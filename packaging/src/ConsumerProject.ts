/**
 * A fresh project outside the workspace that installs the packed packages the way a user's
 * project would, and nothing from the workspace but the pnpm store.
 *
 * The install works offline: the project gets a `pnpm-lock.yaml` made from the workspace's own
 * lockfile (the same versions, integrities and peer resolutions the workspace installed, so every
 * tarball is already in the pnpm store once `pnpm install --frozen-lockfile` ran) plus entries for
 * the packed tarballs, and `pnpm install --offline --frozen-lockfile` links it from the store.
 * pnpm does not need the registry's metadata for a frozen install, which a resolving install
 * (`--offline` without a lockfile) would: a fresh CI machine does not have that metadata cached.
 * Peers come along as the workspace resolved them: `redis` (node-redis), a non-optional peer of
 * `@effect/platform-node` 4.1 that pnpm auto-installs (only its NodeRedis module uses it), and with
 * it `@opentelemetry/api`, an optional peer of `@redis/client` that the workspace happens to have
 * (a user's install would leave that one out).
 *
 * The newcomer's project (`NewcomerProject.ts`) is the online counterpart: `effect` as the
 * registry resolves it today.
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import * as YAML from "yaml"
import { exec, PackagingError, type Packed, pnpm, root } from "./Workspace.js"

/** Registry packages the consumer installs next to the tarballs, at the workspace's versions. */
export const registryDependencies = {
  dependencies: ["effect", "@effect/platform-node"],
  devDependencies: ["typescript", "@types/node"]
} as const

const Dependency = Schema.Struct({ specifier: Schema.String, version: Schema.String })
const Dependencies = Schema.Record(Schema.String, Dependency)
const Importer = Schema.Struct({
  dependencies: Schema.optional(Dependencies),
  devDependencies: Schema.optional(Dependencies),
  optionalDependencies: Schema.optional(Dependencies)
})
const Refs = Schema.Record(Schema.String, Schema.String)
const Snapshot = Schema.StructWithRest(
  Schema.Struct({ dependencies: Schema.optional(Refs), optionalDependencies: Schema.optional(Refs) }),
  [Schema.Record(Schema.String, Schema.Unknown)]
)
/** The parts of a pnpm v9 lockfile this module reads. */
const Lockfile = Schema.Struct({
  lockfileVersion: Schema.Literal("9.0"),
  importers: Schema.Record(Schema.String, Importer),
  packages: Schema.Record(Schema.String, Schema.Unknown),
  snapshots: Schema.Record(Schema.String, Snapshot)
})
type Lockfile = typeof Lockfile.Type

const readLockfile = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = path.join(root, "pnpm-lock.yaml")
  const text = yield* fs.readFileString(file).pipe(
    Effect.mapError((cause) => new PackagingError({ message: `cannot read ${file}`, cause }))
  )
  return yield* Effect.try({
    try: (): unknown => YAML.parse(text),
    catch: (cause) => new PackagingError({ message: `cannot parse ${file}`, cause })
  }).pipe(
    Effect.flatMap(Schema.decodeUnknownEffect(Lockfile)),
    Effect.mapError((cause) =>
      cause._tag === "PackagingError" ? cause : new PackagingError({
        message: `${file} is not the pnpm v9 lockfile this test can read (update ConsumerProject.ts): ${cause.message}`,
        cause
      })
    )
  )
})

/** The one version (with its peer suffix) the workspace resolved `name` to, in any importer. */
const workspaceRef = (lock: Lockfile, name: string, importer?: string) => {
  const refs = new Set(
    Object.entries(lock.importers)
      .filter(([id]) => importer === undefined || id === importer)
      .flatMap(([, deps]) => [deps.dependencies, deps.devDependencies, deps.optionalDependencies])
      .flatMap((deps) => deps?.[name] === undefined ? [] : [deps[name].version])
  )
  return refs.size === 1
    ? Effect.succeed([...refs][0]!)
    : Effect.fail(
      new PackagingError({
        message: `the workspace lockfile has ${refs.size === 0 ? "no" : "several"} versions of ${name}${
          importer === undefined ? "" : ` in ${importer}`
        }: ${[...refs].join(", ")}`
      })
    )
}

/** The version the workspace installed of `name` (e.g. `5.9.3`), from its lockfile. */
export const workspaceVersion = (
  name: string
): Effect.Effect<string, PackagingError, FileSystem.FileSystem | Path.Path> =>
  Effect.flatMap(readLockfile, (lock) => Effect.map(workspaceRef(lock, name), packageKey))

/** `name` at `ref` → its snapshot key; an aliased dependency's ref is a key already (`string-width@4.2.3`). */
const depPath = (name: string, ref: string) => ref.split("(")[0]!.includes("@") ? ref : `${name}@${ref}`

/** A snapshot key without its peer suffix: the key of its `packages` entry. */
const packageKey = (key: string) => key.replace(/\(.*$/, "")

const sortedObject = <A>(entries: Iterable<readonly [string, A]>) =>
  Object.fromEntries([...entries].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))

/** Where a tarball goes in the project, as pnpm writes it in specifiers. */
export const tarballRef = (packed: Packed) => `file:tarballs/${packed.tarball.split("/").pop()}`

/**
 * Write the project into `dir` (empty): `tarballs/` with copies of the packed packages,
 * `package.json`, `pnpm-lock.yaml`, two tsconfigs (NodeNext and Bundler resolution, both strict),
 * `src/program.ts` from `packaging/consumer/program.ts` (`scaffold`). Library declarations are checked
 * too (`skipLibCheck: false`): `@lockstep/redis` depends on `@types/redis-errors` for ioredis's.
 */
export const make = (
  dir: string,
  packed: ReadonlyArray<Packed>
): Effect.Effect<void, PackagingError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const lock = yield* readLockfile
    const io = <A, E>(what: string, effect: Effect.Effect<A, E>) =>
      Effect.mapError(effect, (cause) => new PackagingError({ message: `cannot ${what}`, cause }))

    // the consumer's own dependencies: registry packages at the workspace's versions, the tarballs
    const registry = yield* Effect.forEach(
      [
        ...registryDependencies.dependencies.map((name) => ({ name, dev: false })),
        ...registryDependencies.devDependencies.map((name) => ({ name, dev: true }))
      ],
      ({ dev, name }) => Effect.map(workspaceRef(lock, name), (ref) => ({ name, dev, ref, version: packageKey(ref) }))
    )
    const refOf = new Map<string, string>(registry.map(({ name, ref }) => [name, ref]))
    for (const pkg of packed) refOf.set(pkg.manifest.name, tarballRef(pkg))

    // each tarball: its entry in `packages` (integrity of the file) and in `snapshots`
    // (dependencies as the workspace resolved them for that package, peers as the consumer has them)
    const packages = new Map<string, unknown>()
    const snapshots = new Map<string, unknown>()
    const pending: Array<string> = registry.map(({ name, ref }) => depPath(name, ref))
    for (const pkg of packed) {
      const importer = path.relative(root, pkg.dir)
      const bytes = yield* io(`read ${pkg.tarball}`, fs.readFile(pkg.tarball))
      const ref = tarballRef(pkg)
      const { manifest } = pkg
      packages.set(`${manifest.name}@${ref}`, {
        resolution: { integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`, tarball: ref },
        version: manifest.version,
        ...(manifest.peerDependencies === undefined ? {} : { peerDependencies: manifest.peerDependencies }),
        ...(manifest.peerDependenciesMeta === undefined ? {} : { peerDependenciesMeta: manifest.peerDependenciesMeta })
      })
      const dependencies: Array<readonly [string, string]> = []
      for (const name of Object.keys(manifest.dependencies ?? {})) {
        const inner = refOf.get(name)
        const resolved = inner !== undefined && inner.startsWith("file:")
          ? inner
          : yield* workspaceRef(lock, name, importer)
        dependencies.push([name, resolved])
        if (!resolved.startsWith("file:")) pending.push(depPath(name, resolved))
      }
      for (const name of Object.keys(manifest.peerDependencies ?? {})) {
        const resolved = refOf.get(name)
        if (resolved !== undefined) dependencies.push([name, resolved])
        else if (manifest.peerDependenciesMeta?.[name]?.optional !== true) {
          return yield* new PackagingError({ message: `the consumer lacks ${name}, a peer of ${manifest.name}` })
        }
      }
      snapshots.set(
        `${manifest.name}@${ref}`,
        dependencies.length === 0 ? {} : { dependencies: sortedObject(dependencies) }
      )
    }

    // everything the registry packages need, copied from the workspace lockfile
    while (pending.length > 0) {
      const key = pending.pop()!
      if (snapshots.has(key)) continue
      const snapshot = lock.snapshots[key]
      const entry = lock.packages[packageKey(key)]
      if (snapshot === undefined || entry === undefined) {
        return yield* new PackagingError({ message: `the workspace lockfile has no entry for ${key}` })
      }
      snapshots.set(key, snapshot)
      packages.set(packageKey(key), entry)
      for (const [name, ref] of Object.entries({ ...snapshot.dependencies, ...snapshot.optionalDependencies })) {
        pending.push(depPath(name, ref))
      }
    }

    const overrides = sortedObject(packed.map((pkg) => [pkg.manifest.name, tarballRef(pkg)] as const))
    const section = (dev: boolean) =>
      sortedObject([
        ...registry.filter((dep) => dep.dev === dev).map(({ name, ref, version }) =>
          [name, { specifier: version, version: ref }] as const
        ),
        ...(dev
          ? []
          : packed.map((pkg) => [pkg.manifest.name, { specifier: tarballRef(pkg), version: tarballRef(pkg) }] as const))
      ])
    const lockfile = {
      lockfileVersion: "9.0",
      settings: { autoInstallPeers: true, excludeLinksFromLockfile: false },
      overrides,
      importers: { ".": { dependencies: section(false), devDependencies: section(true) } },
      packages: sortedObject(packages),
      snapshots: sortedObject(snapshots)
    }
    const manifest = {
      name: "lockstep-consumer",
      private: true,
      type: "module",
      dependencies: Object.fromEntries(
        Object.entries(section(false)).map(([name, { specifier }]) => [name, specifier])
      ),
      devDependencies: Object.fromEntries(
        Object.entries(section(true)).map(([name, { specifier }]) => [name, specifier])
      ),
      // a transitive `@lockstep/core` must be the tarball too, not a registry version
      pnpm: { overrides }
    }
    yield* scaffold(dir, packed, {
      "src/program.ts": { copy: path.join(root, "packaging", "consumer", "program.ts") },
      "package.json": { text: JSON.stringify(manifest, null, 2) + "\n" },
      "pnpm-lock.yaml": { text: YAML.stringify(lockfile, { lineWidth: 0 }) }
    })
  })

const compilerOptions = {
  target: "ES2022",
  lib: ["ES2022"],
  types: ["node"],
  strict: true,
  skipLibCheck: false
}

/** The tsconfigs of a project outside the workspace: both strict, both checking the libraries' types too. */
const tsconfigs = {
  // Node's own resolution, with the settings of a strict Effect codebase; emits what node runs
  "tsconfig.nodenext.json": {
    compilerOptions: {
      ...compilerOptions,
      module: "NodeNext",
      moduleResolution: "NodeNext",
      exactOptionalPropertyTypes: true,
      verbatimModuleSyntax: true,
      rootDir: "src",
      outDir: "out",
      noEmitOnError: true
    },
    include: ["src"]
  },
  // a bundler's resolution (Vite, esbuild, webpack)
  "tsconfig.bundler.json": {
    compilerOptions: { ...compilerOptions, module: "ESNext", moduleResolution: "Bundler", noEmit: true },
    include: ["src"]
  }
}

/**
 * Lay out a project outside the workspace in `dir` (empty): `tarballs/` with copies of the packed
 * packages, the two tsconfigs (`tsconfig.nodenext.json`, which emits `out/`, and
 * `tsconfig.bundler.json`) and `files`, each a path in the project with its text or a file to copy.
 */
export const scaffold = (
  dir: string,
  packed: ReadonlyArray<Packed>,
  files: Readonly<Record<string, { readonly text: string } | { readonly copy: string }>>
): Effect.Effect<void, PackagingError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const io = <A, E>(what: string, effect: Effect.Effect<A, E>) =>
      Effect.mapError(effect, (cause) => new PackagingError({ message: `cannot ${what}`, cause }))
    const all: Record<string, { readonly text: string } | { readonly copy: string }> = {
      ...Object.fromEntries(
        Object.entries(tsconfigs).map(([name, config]) => [name, { text: JSON.stringify(config, null, 2) + "\n" }])
      ),
      ...Object.fromEntries(packed.map((pkg) => [tarballRef(pkg).slice("file:".length), { copy: pkg.tarball }])),
      ...files
    }
    for (const [name, content] of Object.entries(all)) {
      const target = path.join(dir, name)
      yield* io(`create ${path.dirname(target)}`, fs.makeDirectory(path.dirname(target), { recursive: true }))
      yield* "copy" in content
        ? io(`copy ${content.copy} to ${target}`, fs.copyFile(content.copy, target))
        : io(`write ${target}`, fs.writeFileString(target, content.text))
    }
  })

/** The environment for commands in the project: the user's, minus what `pnpm run` added for the workspace. */
export const cleanEnv = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).flatMap(([key, value]) =>
      value === undefined || /^(npm_|pnpm_|PNPM_|INIT_CWD$|NODE_OPTIONS$|VITEST|TEST$)/.test(key) ? [] : [[key, value]]
    )
  )

/** The workspace's pnpm store, which its install filled. */
export const storePath: Effect.Effect<string, PackagingError, ChildProcessSpawner.ChildProcessSpawner> = Effect.map(
  Effect.suspend(() => pnpm(["store", "path"], { cwd: root, env: cleanEnv() })),
  (out) => out.trim()
)

/**
 * `pnpm install --offline --frozen-lockfile` in the project, from the workspace's pnpm store
 * (asked of pnpm in the workspace: a temp dir on another disk would otherwise get its own store).
 */
export const install = (dir: string): Effect.Effect<string, PackagingError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const env = cleanEnv()
    const store = yield* storePath
    return yield* pnpm(
      [
        "install",
        "--offline",
        "--frozen-lockfile",
        "--ignore-workspace",
        "--reporter=append-only",
        "--store-dir",
        store
      ],
      { cwd: dir, env }
    )
  })

/**
 * `tsc -p <tsconfig>` with the project's own TypeScript; `skipLibCheck: true` leaves the libraries'
 * declarations unchecked (most of the time of a check: effect's are large).
 */
export const typecheck = (
  dir: string,
  tsconfig: "tsconfig.nodenext.json" | "tsconfig.bundler.json",
  options?: { readonly skipLibCheck?: boolean }
): Effect.Effect<string, PackagingError, ChildProcessSpawner.ChildProcessSpawner> =>
  exec(
    process.execPath,
    [
      "node_modules/typescript/bin/tsc",
      "-p",
      tsconfig,
      "--pretty",
      "false",
      ...(options?.skipLibCheck === true ? ["--skipLibCheck"] : [])
    ],
    { cwd: dir, env: cleanEnv() }
  )

/** Run node (this process's) in the project with `args`; returns what it printed on stdout. */
export const node = (
  dir: string,
  args: ReadonlyArray<string>
): Effect.Effect<string, PackagingError, ChildProcessSpawner.ChildProcessSpawner> =>
  exec(process.execPath, args, { cwd: dir, env: cleanEnv() })

/** Run the compiled program (`out/program.js`) with node and return what it printed. */
export const run = (
  dir: string,
  engine: "memory" | "redis"
): Effect.Effect<string, PackagingError, ChildProcessSpawner.ChildProcessSpawner> =>
  node(dir, ["out/program.js", engine])

/** Try an import from inside the project; returns the error code (or `"resolved"`). */
export const tryImport = (
  dir: string,
  specifier: string
): Effect.Effect<string, PackagingError, ChildProcessSpawner.ChildProcessSpawner> =>
  node(dir, [
    "--input-type=module",
    "-e",
    `import(${JSON.stringify(specifier)}).then(() => console.log("resolved"), (e) => console.log(e.code))`
  ]).pipe(Effect.map((out) => out.trim()))

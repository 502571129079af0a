/**
 * What `pnpm lint` checks on every packed tarball: publint, the metadata a published package
 * owes (LICENSE, README, repository, homepage, bugs), Are the Types Wrong, and the import graph of
 * each entry point against the dependencies the package declares.
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { builtinModules } from "node:module"
import { publint } from "publint"
import { formatMessage } from "publint/utils"
import ts from "typescript"
import { exec, PackagingError, type Packed, root, type WorkspacePackage } from "./Workspace.js"

/**
 * publint messages we accept, by code, each with the reason. Empty: every error, warning and
 * suggestion publint reports fails `pnpm lint`.
 */
const acceptedPublintCodes: ReadonlyMap<string, string> = new Map()

/**
 * publint on the tarball itself (what npm would serve), not on the package directory, and the
 * metadata of the package.json in it (`metadataProblems`).
 */
export const publintProblems = (
  packed: Packed
): Effect.Effect<ReadonlyArray<string>, PackagingError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const bytes = yield* fs.readFile(packed.tarball).pipe(
      Effect.mapError((cause) => new PackagingError({ message: `cannot read ${packed.tarball}`, cause }))
    )
    const tarball = new Uint8Array(bytes).buffer
    const { messages, pkg } = yield* Effect.tryPromise({
      try: () => publint({ pack: { tarball }, level: "suggestion" }),
      catch: (cause) => new PackagingError({ message: `publint failed on ${packed.tarball}`, cause })
    })
    const problems = messages
      .filter((message) => !acceptedPublintCodes.has(message.code))
      .map((message) => `publint ${message.type} ${message.code}: ${formatMessage(message, pkg, { color: false })}`)
    // pnpm pack rewrites workspace: ranges; make sure nothing else slipped through
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
      const deps: unknown = pkg[field]
      if (typeof deps !== "object" || deps === null) continue
      for (const [name, range] of Object.entries(deps)) {
        if (typeof range !== "string" || /^(?:workspace|file|link):/.test(range)) {
          problems.push(`packed ${field}.${name} is ${JSON.stringify(range)}, not a registry version range`)
        }
      }
    }
    problems.push(...metadataProblems(packed.files, pkg, path.relative(root, packed.dir)))
    return problems
  })

/** Files every tarball ships besides its build: the license text and the README npm shows. */
const requiredFiles = ["LICENSE", "README.md"] as const

const nonEmptyString = (value: unknown): value is string => typeof value === "string" && value.trim().length > 0

/**
 * What a published package owes its users beyond code, checked on the tarball (`files`) and on
 * the package.json inside it (`pkg`): a LICENSE file (the `license` field names the license, the
 * file is the text it requires to ship), a README, and `license`, `repository` (its git URL, and
 * for an object the package's folder as `directory`, so npm links the package, not the monorepo's
 * root), `homepage` and `bugs`. `directory` is the package's folder relative to the root.
 */
export const metadataProblems = (
  files: ReadonlySet<string>,
  pkg: Readonly<Record<string, unknown>>,
  directory: string
): ReadonlyArray<string> => {
  const problems: Array<string> = []
  for (const file of requiredFiles) {
    if (!files.has(file)) {
      problems.push(
        `the tarball has no ${file} (put one in the package's folder: npm packs it whatever \`files\` says)`
      )
    }
  }
  if (!nonEmptyString(pkg.license)) problems.push("package.json has no `license`")
  const repository = pkg.repository
  if (typeof repository === "object" && repository !== null) {
    const { directory: dir, url } = repository as Readonly<Record<string, unknown>>
    if (!nonEmptyString(url)) problems.push("package.json `repository` has no `url`")
    if (dir !== directory) {
      problems.push(`package.json \`repository.directory\` is ${JSON.stringify(dir)}, not ${JSON.stringify(directory)}`)
    }
  } else if (!nonEmptyString(repository)) {
    problems.push("package.json has no `repository`")
  }
  if (!nonEmptyString(pkg.homepage)) problems.push("package.json has no `homepage`")
  const bugs = pkg.bugs
  if (
    !nonEmptyString(bugs) &&
    !(typeof bugs === "object" && bugs !== null &&
      (nonEmptyString((bugs as Readonly<Record<string, unknown>>).url) ||
        nonEmptyString((bugs as Readonly<Record<string, unknown>>).email)))
  ) {
    problems.push("package.json has no `bugs` (a URL or an email)")
  }
  return problems
}

/**
 * Whether `version` satisfies `range`, for the ranges our packages declare: a caret range
 * `^x.y.z` (same major, at least x.y.z; for 0.y only the same minor; a prerelease never
 * satisfies). `undefined` for any other form of range: teach this function before using it.
 */
export const satisfiesCaret = (version: string, range: string): boolean | undefined => {
  const wanted = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range.trim())
  if (wanted === null) return undefined
  const found = /^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.exec(version.trim())
  if (found === null || found[4] !== undefined) return false
  const [major, minor, patch] = [found[1], found[2], found[3]].map(Number) as [number, number, number]
  const [wMajor, wMinor, wPatch] = [wanted[1], wanted[2], wanted[3]].map(Number) as [number, number, number]
  const atLeast = major > wMajor ||
    (major === wMajor && (minor > wMinor || (minor === wMinor && patch >= wPatch)))
  if (!atLeast || major !== wMajor) return false
  if (wMajor > 0) return true
  return wMinor > 0 ? minor === wMinor : minor === wMinor && patch === wPatch
}

/**
 * The peer ranges across the packages: a peer several packages name has one range in all of them
 * (a user installs one copy: `effect` is `^4.1.0` everywhere), and each range admits the version
 * the workspace builds and tests the package with (its devDependency), or the range promises what
 * no test ran. Workspace ranges (`workspace:^`) are pnpm's to rewrite and left alone.
 */
export const peerRangeProblems = (
  packages: ReadonlyArray<WorkspacePackage>
): ReadonlyArray<{ readonly name: string; readonly problem: string }> => {
  const problems: Array<{ readonly name: string; readonly problem: string }> = []
  const rangesOf = new Map<string, Set<string>>()
  for (const { manifest } of packages) {
    for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (range.startsWith("workspace:")) continue
      rangesOf.set(peer, (rangesOf.get(peer) ?? new Set()).add(range))
      const tested = manifest.devDependencies?.[peer]
      const satisfied = tested === undefined ? undefined : satisfiesCaret(tested, range)
      if (tested === undefined) {
        problems.push({
          name: manifest.name,
          problem: `peer ${peer} ${range} has no devDependency to build and test with`
        })
      } else if (satisfied === undefined) {
        problems.push({
          name: manifest.name,
          problem: `peer ${peer} ${range} is not a caret range (^x.y.z): teach satisfiesCaret, or use one`
        })
      } else if (!satisfied) {
        problems.push({
          name: manifest.name,
          problem: `peer ${peer} ${range} does not admit ${tested}, the version the workspace tests with`
        })
      }
    }
  }
  for (const [peer, ranges] of rangesOf) {
    if (ranges.size > 1) {
      for (const { manifest } of packages) {
        const range = manifest.peerDependencies?.[peer]
        if (range !== undefined && !range.startsWith("workspace:")) {
          problems.push({
            name: manifest.name,
            problem: `peer ${peer} ${range}: the packages disagree on its range (${[...ranges].join(", ")})`
          })
        }
      }
    }
  }
  return problems
}

/**
 * Are the Types Wrong on the tarball, profile `esm-only`: the packages are ESM only (`"type":
 * "module"`, `exports` with `types` + `default`, no `require` condition), so the resolutions that
 * must work are Node 16+ from ESM (`moduleResolution: node16`/`nodenext` in an ES module) and
 * bundlers (`moduleResolution: bundler`). The profile leaves out `node10` (no `exports` support:
 * a legacy resolution that cannot see subpaths such as `@lockstep/redis/testing` at all) and
 * `require` from CommonJS under node16 (an ES module can only be `import()`ed there, which is
 * what ESM-only means; Effect itself ships both formats, we chose not to). `--no-definitely-typed`
 * keeps attw off the network: our packages ship their own types.
 */
export const attwProblems = (
  packed: Packed
): Effect.Effect<ReadonlyArray<string>, never, ChildProcessSpawner.ChildProcessSpawner | Path.Path> =>
  Effect.flatMap(Path.Path, (path) =>
    exec(
      path.join(root, "node_modules", ".bin", "attw"),
      [packed.tarball, "--profile", "esm-only", "--no-definitely-typed", "--format", "table-flipped", "--no-color"],
      { cwd: root }
    )).pipe(
      Effect.as([]),
      Effect.catch((error) => Effect.succeed([`attw (profile esm-only) failed:\n${error.message}`]))
    )

/** The module specifiers a JS or declaration file imports, found in its syntax tree (not in comments). */
const importsOf = (fileName: string, text: string): ReadonlyArray<string> => {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true)
  const found: Array<string> = []
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text)
    } else if (
      ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)
    ) {
      found.push(node.argument.literal.text)
    } else if (
      ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteral(node.arguments[0]!) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require"))
    ) {
      found.push(node.arguments[0].text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
const packageName = (specifier: string) => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!
}

const isBuiltin = (specifier: string) =>
  specifier.startsWith("node:") || builtinModules.includes(packageName(specifier))

/**
 * The `types` and `default` targets of every entry point in `exports` (not `./package.json`), and
 * every executable of `bin` (entry `bin:<name>`): what a user can load or run.
 */
const entryPoints = (
  packed: Packed
): ReadonlyArray<{ readonly entry: string; readonly files: ReadonlyArray<string> }> => {
  const relative = (file: string) => file.replace(/^\.\//, "")
  const { bin, exports, name } = packed.manifest
  const bins = typeof bin === "string" ? { [name.replace(/^@[^/]+\//, "")]: bin } : bin ?? {}
  return [
    ...Object.entries(exports ?? {}).flatMap(([entry, target]) => {
      if (entry === "./package.json" || typeof target !== "object" || target === null) return []
      const files = Object.values(target).filter((file): file is string => typeof file === "string")
      return [{ entry, files: files.map(relative) }]
    }),
    ...Object.entries(bins).map(([command, file]) => ({ entry: `bin:${command}`, files: [relative(file)] }))
  ]
}

/**
 * Follow the imports of every entry point (its JS and its declarations; an executable of `bin` is
 * one too) through the packed files and check each package reached from outside: it must be declared (`dependencies` or
 * `peerDependencies`; Node built-ins are fine), and an optional peer may be reached only from a
 * subpath entry point that documents it (e.g. `@lockstep/redis/testing`), never from the main
 * one, which must work without it. A relative import must land in a packed file. The other way
 * round, every declared dependency and peer must be reached from some entry point: a package left
 * in `package.json` after its last import went (say `@effect/platform` or OpenTelemetry after the
 * move to Effect 4) would be installed, or demanded, for nothing. And the public types are public:
 * no declaration file under an `internal/` folder may be reached from an entry point's
 * declarations (the JS may use the machinery, its types must not name it).
 */
/**
 * Type packages a package may depend on without importing them: the types of a module that the
 * declarations of one of its dependencies import but that ships none, so that a project checking
 * library declarations (`skipLibCheck: false`) type-checks. Each with the reason.
 */
const typesOfDependencies: Readonly<Record<string, string>> = {
  "@types/redis-errors": "ioredis 6's declarations (WatchError, MaxRetriesPerRequestError) import redis-errors, untyped"
}

export const importProblems = (
  packed: Packed
): Effect.Effect<ReadonlyArray<string>, PackagingError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const { manifest } = packed
    const declared = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {})
    ])
    const optionalPeers = new Set(
      Object.entries(manifest.peerDependenciesMeta ?? {}).flatMap(([name, meta]) =>
        meta.optional === true ? [name] : []
      )
    )
    const problems: Array<string> = []
    const reached = new Set<string>()
    for (const { entry, files } of entryPoints(packed)) {
      const seen = new Set<string>()
      const pending = [...files]
      while (pending.length > 0) {
        const file = pending.pop()!
        if (seen.has(file)) continue
        seen.add(file)
        if (!packed.files.has(file)) {
          problems.push(`${entry}: ${file} is imported but not in the tarball`)
          continue
        }
        const text = yield* fs.readFileString(path.join(packed.dir, file)).pipe(
          Effect.mapError((cause) => new PackagingError({ message: `cannot read ${file}`, cause }))
        )
        for (const specifier of importsOf(file, text)) {
          if (specifier.startsWith(".")) {
            const target = path.normalize(path.join(path.dirname(file), specifier))
            if (file.endsWith(".d.ts")) {
              // declarations import `./X.js` and mean `./X.d.ts`
              const declaration = target.replace(/\.js$/, ".d.ts")
              if (declaration.split("/").includes("internal")) {
                problems.push(`${entry}: ${file} names a type of ${declaration}: an internal type is reachable`)
              }
              pending.push(declaration)
            } else {
              pending.push(target)
            }
          } else if (!isBuiltin(specifier)) {
            const name = packageName(specifier)
            if (name === manifest.name) continue
            reached.add(name)
            if (!declared.has(name)) {
              problems.push(`${entry}: ${file} imports ${specifier}, which is neither a dependency nor a peer`)
            } else if (entry === "." && optionalPeers.has(name)) {
              problems.push(
                `${entry}: ${file} imports ${specifier}, an optional peer dependency: the main entry point must work without it`
              )
            }
          }
        }
      }
    }
    for (
      const [field, deps] of [
        ["dependencies", manifest.dependencies],
        ["peerDependencies", manifest.peerDependencies]
      ] as const
    ) {
      for (const name of Object.keys(deps ?? {})) {
        if (!reached.has(name) && !(name in typesOfDependencies)) {
          problems.push(`${field}.${name} is declared, but no entry point imports it`)
        }
      }
    }
    return problems
  })

/** Every problem of one packed package: publint and metadata, attw, imports. */
export const check = (
  packed: Packed
): Effect.Effect<
  ReadonlyArray<string>,
  PackagingError,
  FileSystem.FileSystem | Path.Path | ChildProcessSpawner.ChildProcessSpawner
> =>
  Effect.map(
    Effect.all([publintProblems(packed), attwProblems(packed), importProblems(packed)], { concurrency: "unbounded" }),
    (lists) => lists.flat()
  )

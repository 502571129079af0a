/**
 * The newcomer's install line is a test: in a fresh project outside the workspace, the packed
 * `@lockstep/core`, `@lockstep/redis` and `@lockstep/proxy` are added together with `effect` as the
 * npm registry resolves it today (`NewcomerProject.ts`: no version given, as a new user types
 * `pnpm add @lockstep/core @lockstep/redis effect`), and the README's minimal example, read from the
 * root README.md, is type-checked and run with node. Needs the registry: without it every test here
 * fails, saying so.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, expect, layer } from "@effect/vitest"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Path from "effect/Path"
import * as ConsumerProject from "../src/ConsumerProject.js"
import * as NewcomerProject from "../src/NewcomerProject.js"
import * as PackageChecks from "../src/PackageChecks.js"
import * as Workspace from "../src/Workspace.js"
import { packed } from "./packed.js"

/** The newcomer's project after `pnpm add`, with its two type-checks under way (NodeNext emits `out/`). */
class Newcomer extends Context.Service<Newcomer, {
  readonly dir: string
  readonly nodenext: Effect.Effect<void, Workspace.PackagingError>
  readonly bundler: Effect.Effect<void, Workspace.PackagingError>
}>()("packaging/test/Newcomer") {}

const NewcomerLive = Layer.effect(
  Newcomer,
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "lockstep-newcomer-" }).pipe(
      Effect.mapError((cause) => new Workspace.PackagingError({ message: "cannot make a temp dir", cause }))
    )
    assert.isTrue(path.relative(Workspace.root, dir).startsWith(".."), `${dir} is outside the workspace`)
    yield* NewcomerProject.make(dir, packed())
    yield* NewcomerProject.add(dir, packed())
    // side by side, owned by the layer's scope. NodeNext checks every declaration (ours against the
    // registry's effect too); Bundler, as a bundler app is set up, skips them (the consumer test checks
    // them under Bundler resolution at the workspace's versions)
    const nodenext = yield* Effect.forkScoped(ConsumerProject.typecheck(dir, "tsconfig.nodenext.json"))
    const bundler = yield* Effect.forkScoped(
      ConsumerProject.typecheck(dir, "tsconfig.bundler.json", { skipLibCheck: true })
    )
    return { dir, nodenext: Effect.asVoid(Fiber.join(nodenext)), bundler: Effect.asVoid(Fiber.join(bundler)) }
  })
).pipe(Layer.provide(NodeServices.layer))

const lines = (output: string) => output.split("\n").filter((line) => line.length > 0)

layer(Layer.merge(NewcomerLive, NodeServices.layer), { timeout: 240_000, excludeTestServices: true })(
  "the newcomer's install line: pnpm add @lockstep/core @lockstep/redis @lockstep/proxy effect",
  (it) => {
    it.effect("effect, as the registry resolves it today, satisfies the peer range of every package", () =>
      Effect.gen(function*() {
        const { dir } = yield* Newcomer
        const version = yield* NewcomerProject.installedVersion(dir, "effect")
        const ranges = packed().flatMap((pkg) => {
          const range = pkg.manifest.peerDependencies?.["effect"]
          return range === undefined ? [] : [{ name: pkg.manifest.name, range }]
        })
        yield* Console.log(
          `effect resolved by the registry to ${version}; peer ranges: ${
            ranges.map(({ name, range }) => `${name} ${range}`).join(", ")
          }`
        )
        assert.isNotEmpty(ranges)
        for (const { name, range } of ranges) {
          const satisfied = PackageChecks.satisfiesCaret(version, range)
          assert.isDefined(satisfied, `${name}'s peer range ${range} is not a caret range: teach satisfiesCaret`)
          assert.isTrue(satisfied, `effect ${version}, what a new user gets today, is outside ${name}'s peer ${range}`)
        }
      }))

    it.effect("the README's minimal example type-checks (NodeNext without skipLibCheck, Bundler) and runs with node", () =>
      Effect.gen(function*() {
        const { bundler, dir, nodenext } = yield* Newcomer
        yield* nodenext
        yield* bundler
        const output = yield* ConsumerProject.node(dir, ["out/example.js"])
        // the example logs the data of its deliveries: {id: 1} released at once into the idle room, then
        // the queued ones by priority: {id: 3} (priority 0) before {id: 2} (priority 5), S2
        const ids = lines(output).flatMap((line) => {
          const id = /\bid\W+(\d+)/.exec(line)?.[1]
          return id === undefined ? [] : [Number(id)]
        })
        expect(ids, `README example printed:\n${output}`).toEqual([1, 3, 2])
      }))

    it.effect("@lockstep/redis and @lockstep/proxy load without the optional peer @effect/platform-node", () =>
      Effect.gen(function*() {
        const { dir } = yield* Newcomer
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const store = yield* fs.readDirectory(path.join(dir, "node_modules", ".pnpm")).pipe(Effect.orDie)
        expect(store.filter((entry) => entry.startsWith("@effect+platform-node@"))).toEqual([])
        for (const specifier of NewcomerProject.added) {
          expect(yield* ConsumerProject.tryImport(dir, specifier), specifier).toBe("resolved")
        }
      }))
  }
)

/**
 * The packages as a user installs them: packed with `pnpm pack` (once, by `globalSetup.ts`),
 * installed from the tarballs into a fresh project outside the workspace (offline, from the pnpm
 * store: `ConsumerProject.ts`), type-checked with NodeNext and Bundler resolution, and run with
 * node on the memory engine and on a spawned `redis-server`. The program is
 * `packaging/consumer/program.ts`.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, expect, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Path from "effect/Path"
import * as ConsumerProject from "../src/ConsumerProject.js"
import * as Workspace from "../src/Workspace.js"
import { packed } from "./packed.js"

/** The installed consumer project, with its two type-checks under way (NodeNext emits `out/`). */
class Project extends Context.Service<Project, {
  readonly dir: string
  readonly compiled: Effect.Effect<void, Workspace.PackagingError>
  readonly bundler: Effect.Effect<void, Workspace.PackagingError>
}>()("packaging/test/Project") {}

const ProjectLive = Layer.effect(
  Project,
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "lockstep-consumer-" }).pipe(
      Effect.mapError((cause) => new Workspace.PackagingError({ message: "cannot make a temp dir", cause }))
    )
    assert.isTrue(path.relative(Workspace.root, dir).startsWith(".."), `${dir} is outside the workspace`)
    yield* ConsumerProject.make(dir, packed())
    yield* ConsumerProject.install(dir)
    // the two type-checks take a while each: run them side by side, owned by the layer's scope
    const nodenext = yield* Effect.forkScoped(ConsumerProject.typecheck(dir, "tsconfig.nodenext.json"))
    const bundler = yield* Effect.forkScoped(ConsumerProject.typecheck(dir, "tsconfig.bundler.json"))
    return { dir, compiled: Effect.asVoid(Fiber.join(nodenext)), bundler: Effect.asVoid(Fiber.join(bundler)) }
  })
).pipe(Layer.provide(NodeServices.layer))

const expected = [
  "kitchen 1 soup",
  "kitchen 3 cake",
  "kitchen 2 tea",
  "refused InvalidRoom",
  "proxy lobby {\"hello\":\"proxy\"}",
  "done"
]

const lines = (output: string) => output.split("\n").filter((line) => line.length > 0)

layer(Layer.merge(ProjectLive, NodeServices.layer), { timeout: 180_000, excludeTestServices: true })(
  "packed packages in a consumer project",
  (it) => {
    it.effect("type-check with moduleResolution NodeNext and Bundler (strict, no skipLibCheck)", () =>
      Effect.gen(function*() {
        const { bundler, compiled } = yield* Project
        yield* compiled
        yield* bundler
      }))

    it.effect("run on the memory engine", () =>
      Effect.gen(function*() {
        const { compiled, dir } = yield* Project
        yield* compiled
        expect(lines(yield* ConsumerProject.run(dir, "memory"))).toEqual(expected)
      }))

    it.effect("run on Redis, a redis-server spawned by @lockstep/redis/testing", () =>
      Effect.gen(function*() {
        const { compiled, dir } = yield* Project
        yield* compiled
        const [first, ...rest] = lines(yield* ConsumerProject.run(dir, "redis"))
        const port = Number(/^spawned redis-server on port (\d+)$/.exec(first ?? "")?.[1])
        assert.isTrue(Number.isInteger(port) && port !== 6379, `spawned on a free port, not 6379: ${first}`)
        expect(rest).toEqual(expected)
      }))

    it.effect("the lockstep bin of @lockstep/cli is installed and runs (every module of the bin loads)", () =>
      Effect.gen(function*() {
        const { dir } = yield* Project
        const path = yield* Path.Path
        const cli = packed().find((pkg) => pkg.manifest.name === "@lockstep/cli")
        assert.isDefined(cli, "@lockstep/cli is packed")
        const output = yield* Workspace.exec(path.join(dir, "node_modules", ".bin", "lockstep"), ["--version"], {
          cwd: dir,
          env: ConsumerProject.cleanEnv()
        })
        expect(output.trim()).toBe(`lockstep v${cli.manifest.version}`)
      }))

    it.effect("deep imports are closed by the exports map", () =>
      Effect.gen(function*() {
        const { dir } = yield* Project
        for (
          const specifier of ["@lockstep/core/dist/internal/memoryBroker.js", "@lockstep/redis/dist/internal/router.js"]
        ) {
          expect(yield* ConsumerProject.tryImport(dir, specifier)).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED")
        }
        expect(yield* ConsumerProject.tryImport(dir, "@lockstep/redis/testing")).toBe("resolved")
      }))
  }
)

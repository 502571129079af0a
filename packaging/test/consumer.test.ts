/**
 * The packages as a user installs them: packed with `pnpm pack`, installed from the tarballs into
 * a fresh project outside the workspace (offline, from the pnpm store: `ConsumerProject.ts`),
 * type-checked with NodeNext and Bundler resolution, and run with node on the memory engine and
 * on a spawned `redis-server`. The program is `packaging/consumer/program.ts`.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { assert, expect, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ConsumerProject from "../src/ConsumerProject.js"
import * as Workspace from "../src/Workspace.js"

/** The installed consumer project, and its NodeNext type-check (which emits `out/`), run once. */
class Project extends Context.Tag("packaging/test/Project")<Project, {
  readonly dir: string
  readonly compiled: Effect.Effect<void, Workspace.PackagingError>
}>() {}

const ProjectLive = Layer.scoped(
  Project,
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const tmp = (prefix: string) =>
      fs.makeTempDirectoryScoped({ prefix }).pipe(
        Effect.mapError((cause) => new Workspace.PackagingError({ message: "cannot make a temp dir", cause }))
      )
    yield* Workspace.build
    const packed = yield* Workspace.pack(yield* tmp("lockstep-pack-"))
    const dir = yield* tmp("lockstep-consumer-")
    assert.isTrue(path.relative(Workspace.root, dir).startsWith(".."), `${dir} is outside the workspace`)
    yield* ConsumerProject.make(dir, packed)
    yield* ConsumerProject.install(dir)
    const compiled = yield* Effect.cached(
      ConsumerProject.typecheck(dir, "tsconfig.nodenext.json").pipe(Effect.asVoid, Effect.provide(NodeContext.layer))
    )
    return { dir, compiled }
  })
).pipe(Layer.provide(NodeContext.layer))

const expected = [
  "kitchen 1 soup",
  "kitchen 3 cake",
  "kitchen 2 tea",
  "refused InvalidRoom",
  "proxy lobby {\"hello\":\"proxy\"}",
  "done"
]

const lines = (output: string) => output.split("\n").filter((line) => line.length > 0)

layer(Layer.merge(ProjectLive, NodeContext.layer), { timeout: 180_000 })(
  "packed packages in a consumer project",
  (it) => {
    it.effect("type-check with moduleResolution NodeNext and Bundler (strict, no skipLibCheck)", () =>
      Effect.gen(function*() {
        const { compiled, dir } = yield* Project
        yield* compiled
        yield* ConsumerProject.typecheck(dir, "tsconfig.bundler.json")
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

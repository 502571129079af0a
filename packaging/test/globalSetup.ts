/**
 * Global setup of the `packaging` vitest project: build the packages and pack them once for every
 * test file of the project (`packed.ts` hands them out); the tarballs' temp dir goes at teardown.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { TestProject } from "vitest/node"
import * as Workspace from "../src/Workspace.js"

/** A `Workspace.Packed` as it crosses from the setup to the test files (structured clone: no `Set`). */
export interface ProvidedPackage extends Workspace.WorkspacePackage {
  readonly tarball: string
  readonly files: ReadonlyArray<string>
}

declare module "vitest" {
  export interface ProvidedContext {
    readonly "lockstep/packed": ReadonlyArray<ProvidedPackage>
  }
}

export const key = "lockstep/packed"

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const scope = Scope.makeUnsafe()
  const packed = await Effect.runPromise(
    Workspace.buildAndPack.pipe(
      Scope.provide(scope),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))),
      Effect.provide(NodeServices.layer)
    )
  )
  project.provide(key, packed.map((pkg): ProvidedPackage => ({ ...pkg, files: [...pkg.files] })))
  return () => Effect.runPromise(Scope.close(scope, Exit.void))
}

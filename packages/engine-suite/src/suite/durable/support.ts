/**
 * What the durable-members suite's groups share: the configurations of a durable and a plain
 * client, and how a test crashes, shuts down or reads a client (DESIGN §2, S21–S25).
 */
import { expect } from "@effect/vitest"
import type { Delivery, SyncFanoutQueue } from "@lockstep/core"
import { type Duration, Effect, Exit, Scope } from "effect"
import type { EngineFixture } from "../../EngineFixture.js"
import type { harness, Inbox, SuiteTest } from "../harness.js"

export type Client = SyncFanoutQueue.SyncFanoutQueue["Service"]

export const clientTimeout: Duration.Input = "3 seconds"
export const durable = (clientId: string, onClose: "leave" | "detach" = "leave") => ({
  clientTimeout,
  clientId,
  onClose
})
export const plain = { clientTimeout }
/** how a process shutting down closes its scopes (NodeRuntime.runMain on SIGTERM interrupts the main fiber) */
export const shutdown = Exit.interrupt()

/** A group of the durable suite: the tester and how long "a moment" is. */
export interface DurableGroup {
  readonly test: SuiteTest
  /** well below clientTimeout: the room must still wait after it */
  readonly aMoment: Duration.Input
}

/** A client in a scope of its own, for the test to crash or close. */
export const scoped = (fx: EngineFixture, config: Parameters<EngineFixture["client"]>[0]) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const client = yield* Scope.provide(fx.client(config), scope)
    return { client, scope }
  })

/** SIGKILL: the client tells the server nothing more */
export const crash = (fx: EngineFixture, held: { readonly client: Client; readonly scope: Scope.Closeable }) =>
  Effect.andThen(fx.cut(held.client.clientId), Scope.close(held.scope, Exit.void))

/** take one delivery from each inbox; they must be the same message */
export const nextAll = (h: ReturnType<typeof harness>, boxes: ReadonlyArray<Inbox>) =>
  Effect.gen(function*() {
    const ds: Array<Delivery.Delivery> = []
    for (const box of boxes) ds.push(yield* h.next(box))
    expect(new Set(ds.map((d) => d.id)).size).toBe(1)
    return ds
  })

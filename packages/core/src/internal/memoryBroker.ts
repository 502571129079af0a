/**
 * The in-process "server" of the memory engine: one `Keyspace` per `keyPrefix`, as a Redis keeps
 * every key and channel under its prefix (S19). Clients of two prefixes on one broker never see
 * each other: not their rooms, members, frames, durable claims (S21) nor discovery (S26).
 */
import * as Effect from "effect/Effect"
import type { BackendClient } from "../Backend.js"
import * as MemoryConnection from "./memoryConnection.js"
import { Keyspace } from "./memoryKeyspace.js"

export class Broker {
  /** one per prefix ever connected, kept for good: durable claims only grow (S21), as on Redis */
  readonly keyspaces = new Map<string, Keyspace>()

  /** The keys of `keyPrefix`, made on first use. */
  keyspace(keyPrefix: string): Keyspace {
    let keyspace = this.keyspaces.get(keyPrefix)
    if (keyspace === undefined) this.keyspaces.set(keyPrefix, keyspace = new Keyspace())
    return keyspace
  }

  /** The server side of one client of `keyPrefix`, over a simulated connection that tests can cut (S10, S12). */
  connect(keyPrefix: string, clientId: string): Effect.Effect<BackendClient> {
    return Effect.suspend(() => MemoryConnection.connect(this.keyspace(keyPrefix), clientId))
  }

  /**
   * Simulate a network cut between the broker and a client: every connection of its id, under
   * every prefix; its operations fail and its frames are lost.
   */
  cut(clientId: string): Effect.Effect<void> {
    return Effect.suspend(() =>
      Effect.forEach(this.keyspaces.values(), (keyspace) => MemoryConnection.cut(keyspace, clientId), {
        discard: true
      })
    )
  }

  /** Heal a cut: the client reconnects (and resyncs, S12). */
  restore(clientId: string): Effect.Effect<void> {
    return Effect.suspend(() =>
      Effect.forEach(this.keyspaces.values(), (keyspace) => MemoryConnection.restore(keyspace, clientId), {
        discard: true
      })
    )
  }
}

/** The `MemoryBroker` service of a broker. */
export const brokerService = (broker: Broker): {
  readonly connect: (options: { readonly keyPrefix: string; readonly clientId: string }) => Effect.Effect<BackendClient>
  readonly cut: (clientId: string) => Effect.Effect<void>
  readonly restore: (clientId: string) => Effect.Effect<void>
} => ({
  connect: ({ clientId, keyPrefix }) => broker.connect(keyPrefix, clientId),
  cut: (id) => broker.cut(id),
  restore: (id) => broker.restore(id)
})

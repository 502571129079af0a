/**
 * Commands are written at the end of the event-loop turn that issued them, all together. A write
 * to a socket whose reader is asleep wakes it up, and on a virtual machine that wake-up costs more
 * than the write (`perf` on this project's 2-core VM: about 20% of the client's time went to it in
 * the one-room benchmark). Written together, the commands of a turn (acks of many rooms, of many
 * clients sharing the connection) wake Redis once instead of once each; the replies come back
 * together. While they are written the connection's sockets are corked: one `writev` each.
 *
 * One batch per connection (not per process): a flush is one `setImmediate` per connection and
 * turn with writes, and a connection's batch lives and dies with it.
 */
import type { Redis } from "ioredis"

/** The sockets of a connection, corked while a turn's commands are written. */
export interface Corkable {
  cork(): void
  uncork(): void
}

/**
 * The sockets of `nodes()` (the standalone command connection, or every master of a cluster:
 * the commands of a turn spread over the nodes). `uncork` uncorks exactly the sockets `cork`
 * corked, whatever happened to the topology in between.
 */
export const corkSockets = (nodes: () => Iterable<Redis>): Corkable => {
  let corked: Array<Corkable> = []
  return {
    cork: () => {
      for (const node of nodes()) {
        const stream = node.stream as Corkable | undefined
        if (stream === undefined) continue
        try {
          stream.cork()
          corked.push(stream)
        } catch {
          // written uncorked
        }
      }
    },
    uncork: () => {
      const streams = corked
      corked = []
      for (const stream of streams) {
        try {
          stream.uncork()
        } catch {
          // a socket that cannot be uncorked is being destroyed: its commands fail on their own
        }
      }
    }
  }
}

export class TurnBatch {
  private pending: Array<() => void> = []
  private scheduled = false

  constructor(private readonly sockets: Corkable) {}

  private readonly flush = () => {
    this.scheduled = false
    const batch = this.pending
    this.pending = []
    this.sockets.cork()
    try {
      for (const write of batch) write() // each reports its own failure to its caller
    } finally {
      this.sockets.uncork()
    }
  }

  /** Run `write` at the end of this event-loop turn, with the other writes of the turn. */
  add(write: () => void): void {
    this.pending.push(write)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flush)
    }
  }
}

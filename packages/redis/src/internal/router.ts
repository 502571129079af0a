/**
 * Routes Pub/Sub messages of one subscriber connection to the listeners of each channel, and
 * keeps the connection's subscriptions equal to the set of channels with listeners.
 */
export class Router {
  private readonly routes = new Map<string, Set<(message: string) => void>>()

  /** Deliver a message to the listeners of its channel, synchronously, in arrival order. */
  dispatch(channel: string, message: string): void {
    const listeners = this.routes.get(channel)
    if (listeners === undefined) return
    // a listener must never throw into ioredis (it would crash the process); the client's own
    // listener decodes defensively, this is the second line of defence
    for (const deliver of listeners) {
      try {
        deliver(message)
      } catch {
        // dropped: counted nowhere, as the listener could not say what it was
      }
    }
  }

  /** Register a listener; returns true if the channel had none (so it must be subscribed). */
  add(channel: string, deliver: (message: string) => void): boolean {
    let listeners = this.routes.get(channel)
    const fresh = listeners === undefined
    if (listeners === undefined) this.routes.set(channel, listeners = new Set())
    listeners.add(deliver)
    return fresh
  }

  /** Remove a listener; returns true if the channel has none left (so it may be unsubscribed). */
  remove(channel: string, deliver: (message: string) => void): boolean {
    const listeners = this.routes.get(channel)
    if (listeners === undefined) return false
    listeners.delete(deliver)
    if (listeners.size > 0) return false
    this.routes.delete(channel)
    return true
  }

  channels(): Array<string> {
    return [...this.routes.keys()]
  }
}

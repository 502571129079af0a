/**
 * Routes Pub/Sub messages of one subscriber connection to the listeners of each channel, and
 * keeps the connection's subscriptions equal to the set of channels with listeners.
 */
export class Router {
  /** listeners per channel: an array (usually of one), walked without an iterator per message */
  private readonly routes = new Map<string, Array<(message: string) => void>>()

  /** Deliver a message to the listeners of its channel, synchronously, in arrival order. */
  dispatch(channel: string, message: string): void {
    const listeners = this.routes.get(channel)
    if (listeners === undefined) return
    // a listener must never throw into ioredis (it would crash the process); the client's own
    // listener decodes defensively, this is the second line of defence
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(message)
      } catch {
        // dropped: counted nowhere, as the listener could not say what it was
      }
    }
  }

  /** Register a listener; returns true if the channel had none (so it must be subscribed). */
  add(channel: string, deliver: (message: string) => void): boolean {
    const listeners = this.routes.get(channel)
    if (listeners === undefined) {
      this.routes.set(channel, [deliver])
      return true
    }
    // a new array, as in `remove`
    if (!listeners.includes(deliver)) this.routes.set(channel, [...listeners, deliver])
    return false
  }

  /** Remove a listener; returns true if the channel has none left (so it may be unsubscribed). */
  remove(channel: string, deliver: (message: string) => void): boolean {
    const listeners = this.routes.get(channel)
    if (listeners === undefined) return false
    const at = listeners.indexOf(deliver)
    if (at < 0) return false
    // a new array: a dispatch in progress keeps walking the one it started with
    const rest = listeners.filter((_, i) => i !== at)
    if (rest.length > 0) {
      this.routes.set(channel, rest)
      return false
    }
    this.routes.delete(channel)
    return true
  }

  channels(): Array<string> {
    return [...this.routes.keys()]
  }
}

/**
 * The dead letters of the memory engine (S28, S29), per room and apart from the room's state: a
 * room dropped once it is empty (S18) keeps its letters until they expire. Each write applies the
 * writer's policy (at most `limit` letters, none older than `retentionMs`), and a room's letters
 * are gone `retentionMs` after the newest one was written, as a Redis key with that TTL would be
 * (S18): expired stores are dropped when they are next touched and by housekeeping.
 */
import type { DeadLetterPolicy, RawDeadLetter } from "../Backend.js"

/** A stored letter, with the id of its message (redrive finds letters by message id). */
export interface Letter extends RawDeadLetter {
  readonly id: string
}

interface Store {
  /** oldest first: `seq` ascending */
  readonly letters: Array<Letter>
  /** the `seq` of the last letter written: grows as long as the store lives */
  lastSeq: number
  /** server ms at which the store is gone: `retentionMs` after its newest letter */
  expiresAt: number
}

export class DeadLetters {
  private readonly stores = new Map<string, Store>()

  /** The live store of `room`, dropping it first if it expired. */
  private store(room: string, now: number): Store | undefined {
    const store = this.stores.get(room)
    if (store !== undefined && store.expiresAt <= now) {
      this.stores.delete(room)
      return undefined
    }
    return store
  }

  /** Keep a letter of message `id` (S29) per `policy`. */
  write(
    room: string,
    letter: {
      readonly id: string
      readonly envelope: string
      readonly member: string
      readonly attempts: number
      readonly reason: string
    },
    policy: DeadLetterPolicy,
    now: number
  ): void {
    let store = this.store(room, now)
    if (store === undefined) this.stores.set(room, store = { letters: [], lastSeq: 0, expiresAt: 0 })
    store.letters.push({ ...letter, seq: ++store.lastSeq, at: now })
    const letters = store.letters
    // none older than the retention, at most `limit`: both from the oldest end
    let expired = 0
    while (expired < letters.length && letters[expired]!.at + policy.retentionMs <= now) expired++
    const over = Math.max(expired, letters.length - policy.limit)
    if (over > 0) letters.splice(0, over)
    store.expiresAt = now + policy.retentionMs
  }

  /** Up to `limit` letters with `seq` below `before` (null: all), newest first. */
  page(
    room: string,
    before: number | null,
    limit: number,
    now: number
  ): { letters: Array<RawDeadLetter>; next: number | null } {
    const letters = this.store(room, now)?.letters ?? []
    let end = letters.length // letters[0, end) have seq < before
    if (before !== null) { while (end > 0 && letters[end - 1]!.seq >= before) end-- }
    const start = Math.max(0, end - limit)
    const page: Array<RawDeadLetter> = []
    for (let i = end - 1; i >= start; i--) {
      const { attempts, at, envelope, member, reason, seq } = letters[i]!
      page.push({ seq, envelope, member, attempts, at, reason })
    }
    return { letters: page, next: start > 0 ? page[page.length - 1]!.seq : null }
  }

  /** The newest letter of message `id`, if any. */
  find(room: string, id: string, now: number): Letter | undefined {
    const letters = this.store(room, now)?.letters ?? []
    for (let i = letters.length - 1; i >= 0; i--) if (letters[i]!.id === id) return letters[i]
    return undefined
  }

  /** Remove every letter of message `id`. */
  remove(room: string, id: string, now: number): void {
    const store = this.store(room, now)
    if (store === undefined) return
    const kept = store.letters.filter((letter) => letter.id !== id)
    if (kept.length === 0) this.stores.delete(room)
    else store.letters.splice(0, store.letters.length, ...kept)
  }

  /** Drop every letter of `room`; how many there were. */
  drop(room: string, now: number): number {
    const count = this.store(room, now)?.letters.length ?? 0
    this.stores.delete(room)
    return count
  }

  /** Drop the expired stores (S18). */
  sweep(now: number): void {
    for (const [room, store] of this.stores) if (store.expiresAt <= now) this.stores.delete(room)
  }
}

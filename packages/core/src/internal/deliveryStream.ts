/**
 * A subscription's buffer and its Stream. The buffer holds deliveries and, last, one terminal
 * item (end, or the ejection). The stream pulls whole batches in one stage: cheaper per delivery
 * than `Stream.fromQueue` + `Stream.flattenTake`, which is three stages per element.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { Delivery } from "../Delivery.js"
import { ClientEjected } from "../QueueError.js"

/** The end of a subscription that was closed by its own scope (S6) or its client (S20). */
export const End: unique symbol = Symbol.for("@lockstep/core/internal/End")

export type Item = Delivery | ClientEjected | typeof End

export type Buffer = Queue.Queue<Item>

/** `capacity` deliveries plus room for the terminal item. */
export const makeBuffer = (capacity: number): Effect.Effect<Buffer> => Queue.bounded<Item>(capacity + 1)

export const toStream = (buffer: Buffer): Stream.Stream<Delivery, ClientEjected> => {
  let terminal: ClientEjected | typeof End | undefined
  const finish = (t: ClientEjected | typeof End): Effect.Effect<never, Option.Option<ClientEjected>> =>
    t === End ? Effect.fail(Option.none()) : Effect.fail(Option.some(t))
  const pull: Effect.Effect<Chunk.Chunk<Delivery>, Option.Option<ClientEjected>> = Effect.suspend(() => {
    if (terminal !== undefined) return finish(terminal)
    return Effect.flatMap(Queue.takeBetween(buffer, 1, 4096), (items) => {
      const out: Array<Delivery> = []
      for (const item of items) {
        if (item === End || item instanceof ClientEjected) {
          terminal = item
          break
        }
        out.push(item)
      }
      if (out.length > 0) return Effect.succeed(Chunk.unsafeFromArray(out))
      return finish(terminal!)
    })
  })
  return Stream.repeatEffectChunkOption(pull)
}

/**
 * Message identity (S4, S7): `<producer client id>:<producer sequence>`, unique and never reused.
 *
 * @since 0.1.0
 */
import * as Brand from "effect/Brand"

/**
 * A message id: `<producer client id>:<producer sequence>`, branded.
 *
 * @since 0.1.0
 * @category models
 */
export type MessageId = string & Brand.Brand<"MessageId">

/**
 * Brand a string as a `MessageId` (no check: for ids read from the engine).
 *
 * @since 0.1.0
 * @category constructors
 */
export const MessageId = Brand.nominal<MessageId>()

/**
 * The id of the `sequence`-th message sent by `producer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (producer: string, sequence: number): MessageId => MessageId(`${producer}:${sequence}`)

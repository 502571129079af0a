/**
 * Message identity (S4, S7): `<producer client id>:<producer sequence>`, unique and never reused.
 *
 * @since 0.1.0
 */
import * as Brand from "effect/Brand"

/** @since 0.1.0 */
export type MessageId = string & Brand.Brand<"MessageId">

/** @since 0.1.0 */
export const MessageId = Brand.nominal<MessageId>()

/**
 * The id of the `sequence`-th message sent by `producer`.
 *
 * @since 0.1.0
 */
export const make = (producer: string, sequence: number): MessageId => MessageId(`${producer}:${sequence}`)

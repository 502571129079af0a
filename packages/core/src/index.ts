/**
 * lockstep: a priority queue with synchronous fan-out per room, for Effect applications. Every
 * module is exported as a namespace, e.g. `SyncFanoutQueue.SyncFanoutQueue`, `QueueError.ClientEjected`.
 *
 * @since 0.1.0
 */

/**
 * The engine SPI: what an engine (the in-memory broker, Redis) offers, and the generic client
 * built on it. For engines and adapters; applications do not need it.
 *
 * @since 0.1.0
 */
export * as Backend from "./Backend.js"

/**
 * Dead letters (S28, S29): messages settled for a member without an ack.
 *
 * @since 1.1.0
 */
export * as DeadLetter from "./DeadLetter.js"

/**
 * What a subscriber receives (`Delivery`) and what `peek` shows (`QueuedMessage`).
 *
 * @since 0.1.0
 */
export * as Delivery from "./Delivery.js"

/**
 * The JSON wire format every engine shares.
 *
 * @since 0.1.0
 */
export * as Envelope from "./Envelope.js"

/**
 * The in-memory engine: `MemoryLayer.layer(config)`, or clients sharing a `MemoryLayer.broker`.
 *
 * @since 0.1.0
 */
export * as MemoryLayer from "./MemoryLayer.js"

/**
 * Message ids: `<producer client id>:<producer sequence>`.
 *
 * @since 0.1.0
 */
export * as MessageId from "./MessageId.js"

/**
 * Client options, validated, and the same read from the environment (`QueueConfig.config`).
 *
 * @since 0.1.0
 */
export * as QueueConfig from "./QueueConfig.js"

/**
 * The typed failures: `ClientEjected`, `InvalidRoom`, `InvalidArgument`, `PayloadTooLarge`,
 * `AlreadySubscribed`, `EngineError`, `OperationTimeout`.
 *
 * @since 0.1.0
 */
export * as QueueError from "./QueueError.js"

/**
 * The `metrics` snapshot and the Effect `Metric`s of a client.
 *
 * @since 0.1.0
 */
export * as QueueMetrics from "./QueueMetrics.js"

/**
 * Operator actions on rooms (S29, S30): eject, pause, resume, skip, purge, dead letters.
 *
 * @since 1.1.0
 */
export * as RoomAdmin from "./RoomAdmin.js"

/**
 * A worker over many rooms: joins them, runs a handler per delivery (each room in order, rooms
 * concurrently), acks, retries then rejects (S28), and rejoins a room it was ejected from.
 *
 * @since 1.1.0
 */
export * as RoomWorker from "./RoomWorker.js"

/**
 * A snapshot of one room (`roomState`).
 *
 * @since 0.1.0
 */
export * as RoomState from "./RoomState.js"

/**
 * The service: `send`, `sendOutOfBand`, `subscribe`, `subscribeMany`, `peek`, `roomState`, `metrics`.
 *
 * @since 0.1.0
 */
export * as SyncFanoutQueue from "./SyncFanoutQueue.js"

/**
 * A typed view of the service: payloads encoded and decoded with a `Schema`.
 *
 * @since 0.1.0
 */
export * as TypedQueue from "./TypedQueue.js"

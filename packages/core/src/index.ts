/**
 * @since 0.1.0
 */
export * as Backend from "./Backend.js"
/** @since 0.1.0 */
export * as Delivery from "./Delivery.js"
/** @since 0.1.0 */
export * as Envelope from "./Envelope.js"
/** @since 0.1.0 */
export * as MemoryLayer from "./MemoryLayer.js"
/** @since 0.1.0 */
export * as MessageId from "./MessageId.js"
/** @since 0.1.0 */
export * as QueueConfig from "./QueueConfig.js"
/** @since 0.1.0 */
export * as QueueError from "./QueueError.js"
/** @since 0.1.0 */
export * as QueueMetrics from "./QueueMetrics.js"
/** @since 0.1.0 */
export * as RoomState from "./RoomState.js"
/** @since 0.1.0 */
export * as SyncFanoutQueue from "./SyncFanoutQueue.js"
/** @since 0.1.0 */
export * as TypedQueue from "./TypedQueue.js"

export type { Delivery as DeliveryType, QueuedMessage } from "./Delivery.js"
export type { MessageId as MessageIdType } from "./MessageId.js"
export type { QueueConfig as QueueConfigOptions, ResolvedQueueConfig } from "./QueueConfig.js"
export {
  AlreadySubscribed,
  ClientEjected,
  InvalidArgument,
  InvalidRoom,
  OperationTimeout,
  PayloadTooLarge,
  type QueueError as QueueErrorType,
  RedisError
} from "./QueueError.js"
export type { QueueMetrics as QueueMetricsType } from "./QueueMetrics.js"
export type { RoomState as RoomStateType } from "./RoomState.js"

/**
 * The environment variable of every `QueueConfig` option: its name, the schema that reads it, what
 * it expects and what it means (`QueueConfig.config` reads them; a new option without one does not
 * compile).
 */
import * as Config from "effect/Config"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { QueueConfig, VariableOptions } from "../QueueConfig.js"
import * as Variables from "./variables.js"

/** One variable per option, with what it expects and means: a new option without one does not compile. */
export const table: { readonly [K in keyof QueueConfig]-?: VariableOptions<unknown> & { readonly name: string } } = {
  keyPrefix: {
    name: "LOCKSTEP_KEY_PREFIX",
    schema: Schema.String,
    expected: "the application's key prefix",
    description: "prefix of every key and channel (S19): 1–64 characters, no '{' or '}', no lone surrogate; required"
  },
  clientTimeout: {
    name: "LOCKSTEP_CLIENT_TIMEOUT",
    schema: Schema.DurationFromString,
    expected: "a duration such as \"15 seconds\"",
    description: "a client not heard from for this long is ejected (S10); default 15 seconds, at least 1 second"
  },
  keepaliveInterval: {
    name: "LOCKSTEP_KEEPALIVE_INTERVAL",
    schema: Schema.DurationFromString,
    expected: "a duration such as \"5 seconds\"",
    description: "heartbeat period, below the client timeout; default a third of it"
  },
  ackTimeout: {
    name: "LOCKSTEP_ACK_TIMEOUT",
    schema: Schema.DurationFromString,
    expected: "a duration such as \"30 seconds\"",
    description:
      "a sync member that does not ack within this is ejected from the room (S11); default none, at least 100 millis"
  },
  mode: {
    name: "LOCKSTEP_MODE",
    schema: Schema.Literals(["sync", "async"]),
    expected: "sync or async",
    description:
      "default subscription mode: sync members hold the room until they ack (S3), async ones never block it (S8); default sync"
  },
  maxPayloadBytes: {
    name: "LOCKSTEP_MAX_PAYLOAD_BYTES",
    schema: Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int)),
    expected: "an integer such as 1048576",
    description: "largest JSON payload in bytes (S16); default 1048576"
  },
  subscriberBuffer: {
    name: "LOCKSTEP_SUBSCRIBER_BUFFER",
    schema: Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int)),
    expected: "an integer such as 1024",
    description: "deliveries buffered per subscription before it counts as a slow consumer; default 1024"
  },
  operationTimeout: {
    name: "LOCKSTEP_OPERATION_TIMEOUT",
    schema: Schema.DurationFromString,
    expected: "a duration such as \"5 seconds\"",
    description: "deadline of each server operation; default 5 seconds"
  },
  housekeepingInterval: {
    name: "LOCKSTEP_HOUSEKEEPING_INTERVAL",
    schema: Schema.DurationFromString,
    expected: "a duration such as \"1 second\"",
    description:
      "period of the housekeeping run (expired clients, ack deadlines); default the smaller of the keepalive interval and half the ack timeout"
  },
  clientId: {
    name: "LOCKSTEP_CLIENT_ID",
    schema: Schema.String,
    expected: "a client id such as edge-eu-1",
    description:
      "a stable identity of this process (1–64 characters of A-Z a-z 0-9 . _ -): the client is durable (S21–S25); default a random id"
  },
  onClose: {
    name: "LOCKSTEP_ON_CLOSE",
    schema: Schema.Literals(["leave", "detach"]),
    expected: "leave or detach",
    description:
      "what closing a durable client does: leave every room (default) or detach, keeping its memberships for a successor (S24); detach needs LOCKSTEP_CLIENT_ID"
  },
  maxDeliveries: {
    name: "LOCKSTEP_MAX_DELIVERIES",
    schema: Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int)),
    expected: "an integer such as 5",
    description:
      "a resumed member that would receive a message for attempt maxDeliveries + 1 dead-letters it instead (S28); at least 1, default none"
  },
  deadLetterLimit: {
    name: "LOCKSTEP_DEAD_LETTER_LIMIT",
    schema: Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int)),
    expected: "an integer such as 1000",
    description: "dead letters a room keeps at most (S29): 1 to 100000, default 1000"
  },
  deadLetterRetention: {
    name: "LOCKSTEP_DEAD_LETTER_RETENTION",
    schema: Schema.DurationFromString,
    expected: "a duration such as \"7 days\"",
    description: "how long a room keeps a dead letter (S29); at least 1 second, default 7 days"
  }
}

/** The variable of an option, as a `Config` of its type (`unknown` in the table: each schema decodes it). */
const read = <K extends keyof QueueConfig>(option: K): Config.Config<NonNullable<QueueConfig[K]>> =>
  Variables.variable(table[option].name, table[option] as VariableOptions<NonNullable<QueueConfig[K]>>)

/** An optional variable: `undefined` when it is not set. */
const optional = <K extends keyof QueueConfig>(option: K): Config.Config<NonNullable<QueueConfig[K]> | undefined> =>
  Config.map(Config.option(read(option)), Option.getOrUndefined)

export const variables: { readonly [K in keyof QueueConfig]-?: Config.Config<QueueConfig[K]> } = {
  keyPrefix: read("keyPrefix"),
  clientTimeout: optional("clientTimeout"),
  keepaliveInterval: optional("keepaliveInterval"),
  ackTimeout: optional("ackTimeout"),
  mode: optional("mode"),
  maxPayloadBytes: optional("maxPayloadBytes"),
  subscriberBuffer: optional("subscriberBuffer"),
  operationTimeout: optional("operationTimeout"),
  housekeepingInterval: optional("housekeepingInterval"),
  clientId: optional("clientId"),
  onClose: optional("onClose"),
  maxDeliveries: optional("maxDeliveries"),
  deadLetterLimit: optional("deadLetterLimit"),
  deadLetterRetention: optional("deadLetterRetention")
}

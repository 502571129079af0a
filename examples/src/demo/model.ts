/**
 * The demo's cast and what it knows about them: the room, the priorities, the three edges and the
 * state each one accumulates (plain mutable records, touched only inside `Effect.sync` / handlers).
 */
import * as Duration from "effect/Duration"

export const ROOM = "match-1"
/** the producer keeps about this many messages queued, so priorities have something to overtake */
export const TARGET_BACKLOG = 10
export const CLIENT_TIMEOUT = Duration.seconds(3)
/** S28: a member that would receive a message for attempt 4 gets it as a dead letter instead */
export const MAX_DELIVERIES = 3
/** how long a crashed edge stays down before its supervisor starts it again (below CLIENT_TIMEOUT) */
export const DOWN_FOR = Duration.millis(900)

export const PRIORITIES = [
  { priority: 0, label: "alert", share: 0.1 },
  { priority: 1, label: "order", share: 0.3 },
  { priority: 2, label: "tick", share: 0.6 }
] as const

/** A `priority` label for a message. */
export const labelOf = (priority: number): string =>
  PRIORITIES.find((p) => p.priority === priority)?.label ?? `p${priority}`

/** A random priority, per the shares above. */
export const pickPriority = (): number => {
  let r = Math.random()
  for (const p of PRIORITIES) {
    if (r < p.share) return p.priority
    r -= p.share
  }
  return 2
}

/** The poison message's data: the crashing edge's handler cannot survive it. */
export const poisonData = { kind: "order", sku: "☠ a malformed order" } as const

/** Whether a message is the poison one. */
export const isPoison = (data: unknown): boolean =>
  typeof data === "object" && data !== null && (data as { readonly sku?: unknown }).sku === poisonData.sku

/** `producer:sequence` ids shown as `#sequence`. */
export const shortId = (id: string): string => {
  const sequence = id.split(":")[1]
  return sequence === undefined ? id : `#${sequence}`
}

export interface EdgeSpec {
  readonly name: string
  /** mean simulated work per message */
  readonly workMs: number
  /** its handler crashes its process on the poison message */
  readonly crashesOnPoison: boolean
}

export const specs: ReadonlyArray<EdgeSpec> = [
  { name: "edge-fast", workMs: 4, crashesOnPoison: false },
  { name: "edge-steady", workMs: 12, crashesOnPoison: false },
  { name: "edge-slow", workMs: 30, crashesOnPoison: true }
]

export type EdgeStatus = "joining" | "waiting" | "working" | "crashed" | "ejected"

/** One crash of an edge's process: on which message, at which attempt (S27). */
export interface Crash {
  readonly at: number
  readonly id: string
  readonly attempt: number
}

/** What the demo knows about one edge, over all its processes (times in seconds since the start). */
export interface Edge {
  readonly spec: EdgeSpec
  clientId: string
  status: EdgeStatus
  /** what it is working on, for the status block */
  current: string
  /** the queued messages it processed (its handler succeeded, the worker acked), in order */
  readonly ids: Array<string>
  /** when it first received each queued message (processed or not) */
  readonly receivedAt: Map<string, number>
  /** when its handler finished each queued message (the worker acks it right after) */
  readonly doneAt: Map<string, number>
  readonly latencies: Array<number>
  readonly priorities: Array<number>
  readonly broadcasts: Array<{ readonly id: string; readonly latencyMs: number }>
  joinedAt: number
  /** its processes that crashed */
  readonly crashes: Array<Crash>
  /** processes started after a crash (under the same id, S22) */
  restarts: number
  /** the first message a restarted process got that was not the one it crashed on */
  movedOn: { readonly id: string; readonly at: number } | undefined
  ejectedAt: number | undefined
}

export const makeEdge = (spec: EdgeSpec): Edge => ({
  spec,
  clientId: "",
  status: "joining",
  current: "",
  ids: [],
  receivedAt: new Map(),
  doneAt: new Map(),
  latencies: [],
  priorities: [],
  broadcasts: [],
  joinedAt: 0,
  crashes: [],
  restarts: 0,
  movedOn: undefined,
  ejectedAt: undefined
})

/** Neither crashed (down, waiting for its supervisor) nor ejected. */
export const isLive = (edge: Edge): boolean => edge.status !== "crashed" && edge.status !== "ejected"

/** read through a function, so the compiler does not assume the status unchanged across a yield */
export const isCrashed = (edge: Edge): boolean => edge.status === "crashed"

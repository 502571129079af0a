/**
 * The demo's closing summary: a table per edge and for the room, then the checks, each from what
 * the edges recorded and, for the dead letters, from the server (`RoomAdmin.deadLetters`, S29):
 *
 * - lock-step (S3): no edge received a message before every other member was done with the previous
 *   one (its handler finished, so its worker acked it) or had it dead-lettered;
 * - every edge processed the same messages in the same order, less its own dead letters;
 * - the edge that crashed came back under its id each time (S22) and missed nothing else;
 * - the dead letters, as the server lists them.
 */
import type { DeadLetter } from "@lockstep/core"
import { bold, dim, green, ms, percentile, red, table, yellow } from "../internal/format.js"
import { type Edge, isLive, PRIORITIES, ROOM, shortId } from "./model.js"

export interface Input {
  readonly engine: string
  readonly interrupted: boolean
  readonly edges: ReadonlyArray<Edge>
  /** seconds the room ran, from the edges' join to the end of the drain */
  readonly duration: number
  /** when the producer stopped (or now) */
  readonly until: number
  readonly sent: number
  readonly sentByPriority: ReadonlyArray<number>
  /** the poison message's id, once sent */
  readonly poison: string | undefined
  readonly broadcasts: ReadonlyArray<{ readonly id: string }>
  readonly ejections: number
  /** the room's dead letters, newest first; a string when they could not be read */
  readonly letters: ReadonlyArray<DeadLetter.DeadLetter> | string
}

/** The room's release order: the first receipts of the edge that received the most. */
const releaseOrder = (edges: ReadonlyArray<Edge>): ReadonlyArray<string> =>
  edges.reduce<ReadonlyArray<string>>(
    (longest, e) => e.receivedAt.size > longest.length ? [...e.receivedAt.keys()] : longest,
    []
  )

/**
 * S3 seen from the outside: how many times an edge received a message while another member was
 * not done with the previous one (done: its handler finished before; or it was dead-lettered for
 * it; an edge ejected by then does not count).
 */
export const lockstepViolations = (
  edges: ReadonlyArray<Edge>,
  isLetter: (edge: Edge, id: string) => boolean
): number => {
  const order = releaseOrder(edges)
  const previous = new Map(order.map((id, i) => [id, order[i - 1]]))
  let violations = 0
  for (const edge of edges) {
    for (const [id, at] of edge.receivedAt) {
      const prev = previous.get(id)
      if (prev === undefined) continue
      for (const other of edges) {
        if (other === edge || (other.ejectedAt !== undefined && other.ejectedAt <= at)) continue
        const done = other.doneAt.get(prev)
        if ((done === undefined || done > at) && !isLetter(other, prev)) violations++
      }
    }
  }
  return violations
}

/** send → receive latency by priority, as one live edge saw it */
const priorityLatencies = (edge: Edge | undefined) => {
  if (edge === undefined) return "–"
  return PRIORITIES.map((p) => {
    const latencies = edge.latencies.filter((_, i) => edge.priorities[i] === p.priority)
    return `p${p.priority} ${p.label} p50 ${ms(percentile(latencies, 0.5))}`
  }).join(" · ") + dim(` (send → receive at ${edge.spec.name}: lower numbers overtake the backlog, S2)`)
}

const statusOf = (edge: Edge) => {
  if (edge.status === "ejected") return "ejected"
  const crashes = edge.crashes.length
  if (crashes === 0) return "alive"
  const on = [...new Set(edge.crashes.map((c) => shortId(c.id)))].join(", ")
  return edge.status === "crashed"
    ? `crashed ${crashes}× on ${on}, not back yet`
    : `crashed ${crashes}× on ${on}, back under its id each time`
}

/** How the edge that crashed came back (S22, S27), and when the room moved on with it. */
const durableLine = (edge: Edge, sameOrder: boolean) => {
  const attempts = edge.crashes.map((c) => c.attempt).join(", ")
  const ids = [...new Set(edge.crashes.map((c) => shortId(c.id)))].join(", ")
  const times = edge.crashes.length === 1 ? "once" : `${edge.crashes.length} times`
  const crashed = `${edge.spec.name} crashed ${times} (attempts ${attempts} of ${ids})`
  if (!isLive(edge)) {
    return `durable       – ${crashed}; ${edge.status === "ejected" ? "ejected" : "down when the demo stopped"}`
  }
  const ok = sameOrder && edge.movedOn !== undefined && edge.crashes.every((c, i) => c.attempt === i + 1)
  const movedOn = edge.movedOn === undefined ? "" : `; then the room moved on with it, at ${shortId(edge.movedOn.id)}`
  return `durable       ${
    ok ? green("✓") : red("✗")
  } ${crashed} and came back under its id each time (S22, S27)${movedOn}`
}

/** The room's dead letters as the server lists them (S29). */
const deadLetterLines = (input: Input): ReadonlyArray<string> => {
  if (typeof input.letters === "string") return [`dead letters  ${yellow(`could not be read: ${input.letters}`)}`]
  const letters = input.letters
  const nameOf = (member: string) => input.edges.find((e) => e.clientId === member)?.spec.name ?? member
  const head = `dead letters  ${letters.length} in room ${JSON.stringify(ROOM)}, newest first ` +
    `(RoomAdmin.deadLetters, S29)`
  if (letters.length === 0) return [head]
  return [
    `${head}:`,
    ...letters.map((l) =>
      `              ${shortId(l.message.id)} ${JSON.stringify(l.message.data)} · member ${nameOf(l.member)} · ` +
      `attempts ${l.attempts} · reason ${l.reason}`
    ),
    dim(
      "              (an operator looks at it, then drops it or queues a copy: RoomAdmin.redrive, the board, " +
        "`lockstep redrive`)"
    )
  ]
}

/** Which edges did not process which messages, because they are their dead letters. */
const lettersNote = (
  withLetters: ReadonlyArray<Edge>,
  lettersOf: (edge: Edge) => ReadonlyArray<DeadLetter.DeadLetter>
) => {
  if (withLetters.length === 0) return ""
  const notes = withLetters.map((e) =>
    `${e.spec.name}: all but its dead letter ${lettersOf(e).map((l) => shortId(l.message.id)).join(", ")}`
  )
  return ` (${notes.join("; ")})`
}

export const render = (input: Input): string => {
  const { edges } = input
  const letters = typeof input.letters === "string" ? [] : input.letters
  const isLetter = (edge: Edge, id: string) => letters.some((l) => l.message.id === id && l.member === edge.clientId)
  const lettersOf = (edge: Edge) => letters.filter((l) => l.member === edge.clientId)
  const order = releaseOrder(edges)
  const live = edges.filter(isLive)
  const all = live.flatMap((e) => e.latencies)
  const rows = [
    ["", "work", "messages", "msgs/s", "latency p50", "latency p99", "status"].map(dim),
    ...edges.map((e) => [
      e.spec.name,
      `~${e.spec.workMs} ms`,
      String(e.ids.length),
      (e.ids.length / Math.max(0.001, input.until - e.joinedAt)).toFixed(1),
      ms(percentile(e.latencies, 0.5)),
      ms(percentile(e.latencies, 0.99)),
      statusOf(e)
    ]),
    [
      bold("room"),
      "",
      bold(String(order.length)),
      (order.length / Math.max(0.001, input.duration)).toFixed(1),
      ms(percentile(all, 0.5)),
      ms(percentile(all, 0.99)),
      `ejections: ${input.ejections}`
    ]
  ]
  // each edge processed the release order less its own dead letters, in that order
  const sameOrder = edges.every((e) => {
    const expected = order.filter((id) => !isLetter(e, id))
    return e.ids.every((id, i) => expected[i] === id)
  })
  const violations = lockstepViolations(edges, isLetter)
  const withLetters = edges.filter((e) => lettersOf(e).length > 0)
  const complete = (e: Edge) => e.ids.length + lettersOf(e).length === input.sent
  const oob = input.broadcasts.map((b) => {
    const got = edges.flatMap((e) => e.broadcasts.filter((x) => x.id === b.id).map((x) => x.latencyMs))
    return `${got.length} deliveries ≤ ${ms(Math.max(0, ...got))}`
  })
  const lines = [
    "",
    bold(`summary${input.interrupted ? " (interrupted)" : ""}`) +
    dim(` · ${input.engine} engine · room ${JSON.stringify(ROOM)} · ${input.duration.toFixed(1)} s`),
    table(rows, [2, 3, 4, 5]),
    "",
    `producer      sent ${input.sent} queued messages (${
      PRIORITIES.map((p) => `p${p.priority} ${p.label} ${input.sentByPriority[p.priority]}`).join(", ")
    }${
      input.poison === undefined ? "" : `, the poison one ${shortId(input.poison)}`
    }) and ${input.broadcasts.length} out-of-band broadcasts (${oob.join("; ") || "none"})`,
    `priorities    ${priorityLatencies(live.find((e) => e.crashes.length === 0))}`,
    `lock-step     ${violations === 0 && sameOrder ? green("✓") : red("✗")} ${
      sameOrder
        ? `every edge processed the same messages in the same order${
          withLetters.length > 0 ? " (less its dead letters)" : ""
        }`
        : "edges processed different lists"
    }; ${violations} times an edge got a message before the others were done with the previous one (S3)`,
    ...edges.filter((e) => e.crashes.length > 0).map((e) => durableLine(e, sameOrder)),
    ...deadLetterLines(input),
    `delivery      ${
      live.every(complete)
        ? green(`✓ all ${input.sent} messages reached every live edge`) + lettersNote(withLetters, lettersOf)
        : yellow(`${live.map((e) => `${e.spec.name} ${e.ids.length}`).join(", ")} of ${input.sent} sent`)
    }`
  ]
  return lines.join("\n") + "\n"
}

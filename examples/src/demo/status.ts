/**
 * What the demo shows while it runs: the live status block (producer, one row per edge, the room
 * as the server sees it) on a terminal, a progress line every second otherwise.
 */
import type { RoomState } from "@lockstep/core"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { bold, cyan, dim, ms, red, table } from "../internal/format.js"
import type { Display } from "./display.js"
import { type Edge, isLive, PRIORITIES, shortId } from "./model.js"

/** What the producer and the observer know, read at each redraw. */
export interface Stats {
  readonly edges: ReadonlyArray<Edge>
  readonly sent: () => number
  readonly sentByPriority: ReadonlyArray<number>
  /** the room as last observed (S14) */
  readonly roomState: () => RoomState.RoomState | undefined
  /** when the producer stopped (seconds), if it did */
  readonly stoppedAt: () => number | undefined
  /** the run time asked for (DEMO_SECONDS) */
  readonly seconds: number
}

/** Messages the room released so far, as the edge that got the most saw it. */
export const roomTotal = (stats: Stats): number =>
  Math.max(0, ...stats.edges.filter(isLive).map((e) => e.receivedAt.size))

/** Released messages per second since the edges joined. */
export const rate = (stats: Stats, display: Display): number =>
  roomTotal(stats) /
  Math.max(0.001, (stats.stoppedAt() ?? display.elapsed()) - (stats.edges[0]?.joinedAt ?? 0))

const nameOf = (edges: ReadonlyArray<Edge>, clientId: string) =>
  edges.find((e) => e.clientId === clientId)?.spec.name ?? clientId

const statusOf = (edge: Edge, display: Display) => {
  switch (edge.status) {
    case "joining":
      return dim("joining")
    case "waiting":
      return dim(edge.ids.length === 0 ? "waiting for a message" : "done, waiting for the room")
    case "working":
      return `working on ${edge.current}`
    case "crashed": {
      const last = edge.crashes[edge.crashes.length - 1]
      return red(
        `crashed ${(display.elapsed() - (last?.at ?? 0)).toFixed(1)} s ago on ${
          last === undefined ? "?" : shortId(last.id)
        }, still a member: the room waits`
      )
    }
    case "ejected":
      return red("ejected")
  }
}

/** The live block. */
export const block = (stats: Stats, display: Display): string => {
  const state = stats.roomState()
  const inFlight = state === undefined ? "" : Option.match(state.inFlight, {
    onNone: () => "nothing in flight",
    onSome: (f) => {
      const holders = state.members.filter((m) => !state.acked.includes(m)).map((m) => nameOf(stats.edges, m))
      return `in flight ${shortId(f.id)} for ${ms(Duration.toMillis(f.age))}${
        holders.length > 0 ? `, waiting on ${holders.join(", ")}` : ""
      }`
    }
  })
  const rows = [
    [dim("edge"), dim("work"), dim("done"), dim("state")],
    ...stats.edges.map((e) => [e.spec.name, `~${e.spec.workMs} ms`, String(e.ids.length), statusOf(e, display)])
  ]
  return [
    dim("─".repeat(Math.min(72, display.columns() - 1))),
    `${bold("producer")}  sent ${stats.sent()} (${
      PRIORITIES.map((p) => `p${p.priority} ${stats.sentByPriority[p.priority]}`).join(" · ")
    })   backlog ${state?.backlog ?? "?"}   ${cyan(`${rate(stats, display).toFixed(1)} msg/s`)}`,
    table(rows, [1, 2]),
    `${bold("room")}      ${state?.members.length ?? "?"} sync members · acked ${state?.acked.length ?? 0}/${
      state?.members.length ?? 0
    } · ${inFlight}`,
    dim(`${display.elapsed().toFixed(1)} s / ${stats.seconds} s · Ctrl-C stops cleanly`)
  ].join("\n")
}

/** One line of progress, when there is no live block. */
export const progressLine = (stats: Stats, display: Display): string =>
  `progress: sent ${stats.sent()} · done ${stats.edges.map((e) => `${e.spec.name} ${e.ids.length}`).join(", ")} · ` +
  `backlog ${stats.roomState()?.backlog ?? "?"} · ${rate(stats, display).toFixed(1)} msg/s`

/** The step trace of a failed model-based run: one line per operation. */
import type { Op } from "./ops.js"

/** `op` for the step trace of a failed run. */
export const describeOp = (op: Op): string => {
  switch (op._tag) {
    case "Send":
      return `Send(c${op.client}, r${op.room}, priority ${op.priority})`
    case "SendOutOfBand":
      return `SendOutOfBand(c${op.client}, r${op.room})`
    case "Subscribe":
      return `Subscribe(c${op.client}, r${op.room}, ${op.mode})`
    case "Ack":
      return `Ack(c${op.client}, r${op.room}, ${op.which})`
    case "Leave":
      return `Leave(c${op.client}, r${op.room})`
    case "Cut":
      return `Cut(c${op.client})`
    case "Restore":
      return `Restore(c${op.client})`
    case "Advance":
      return `Advance(${op.millis} ms)`
    case "Crash":
      return `Crash(c${op.client})`
    case "Restart":
      return `Restart(c${op.client}${op.resubscribe ? ", resubscribe" : ""})`
    case "Shutdown":
      return `Shutdown(c${op.client})`
    case "Interrupt":
      return `Interrupt(c${op.client}, r${op.room})`
    case "Fenced":
      return `Fenced(c${op.client}, r${op.room}, ${op.action})`
    case "Reject":
      return `Reject(c${op.client}, r${op.room}, ${op.which}${op.reason === null ? "" : `, "${op.reason}"`})`
    case "Eject":
      return `Eject(c${op.client}, r${op.room})`
    case "Pause":
    case "Resume":
    case "Skip":
    case "Purge":
    case "DropLetters":
      return `${op._tag}(r${op.room})`
    case "Redrive":
      return `Redrive(r${op.room}, ${op.which})`
  }
}

/**
 * The epoch of one client's claim of its id (S21), with one owner: `durable.ts` sets it when the
 * claim succeeded, the other parts of the backend read it for every script that writes for the
 * client, and the refusal of a fenced client (a script's `superseded` reply) becomes
 * `ClientSuperseded` here.
 */
import { type Backend, QueueError } from "@lockstep/core"
import { isSupersededReply } from "../errors.js"
import type * as Keys from "../keys.js"

export class ClaimEpoch {
  /**
   * "" for a client that is not durable, and for a durable one until its claim answered; then the
   * decimal epoch that claim got, a positive safe integer (the claim's decoder checks it). Set
   * once: `makeQueue` claims before any other operation. A script given an epoch that a newer
   * claim replaced does nothing (`fenced` in `prelude.ts`), so an old epoch is never reused.
   */
  private value: Keys.Epoch = ""

  constructor(private readonly clientId: string) {}

  /** The epoch to pass to a script that writes for this client: read it at each call. */
  get current(): Keys.Epoch {
    return this.value
  }

  /** Whether this client claimed its id: a durable client, whose memberships may be on any shard (S23). */
  get claimed(): boolean {
    return this.value !== ""
  }

  /** The claim of the id answered `epoch`: from now on every write carries it. */
  set(epoch: number): void {
    this.value = String(epoch)
  }

  /** A failure of one of this client's scripts, the refusal of a fenced client as `ClientSuperseded`. */
  readonly fence = (failure: Backend.BackendError): Backend.BackendError =>
    isSupersededReply(failure) ? new QueueError.ClientSuperseded({ clientId: this.clientId }) : failure
}

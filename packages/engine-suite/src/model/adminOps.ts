/** The generators of rejects and of the operator's actions (S27–S30) in a model-based scenario. */
import { Arbitrary } from "effect"
import * as Gen from "../arbitrary.js"
import type { Op } from "./ops.js"

/** Rejects and the operator's actions (S27–S30). */
export const adminOps = (
  client: Arbitrary.Arbitrary<number>,
  room: Arbitrary.Arbitrary<number>,
  w: Record<Op["_tag"], number>
): Array<Gen.Weighted<Op>> => [
  {
    weight: w.Reject,
    arbitrary: Arbitrary.all({
      _tag: Arbitrary.Constant("Reject"),
      client,
      room,
      which: Gen.constantFrom<Array<"latest" | "stale">>("latest", "latest", "latest", "stale"),
      reason: Gen.constantFrom<Array<string | null>>(null, null, "bad-data")
    })
  },
  { weight: w.Eject, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Eject"), client, room }) },
  { weight: w.Pause, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Pause"), room }) },
  { weight: w.Resume, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Resume"), room }) },
  { weight: w.Skip, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Skip"), room }) },
  { weight: w.Purge, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("Purge"), room }) },
  {
    weight: w.Redrive,
    arbitrary: Arbitrary.all({
      _tag: Arbitrary.Constant("Redrive"),
      room,
      which: Gen.constantFrom<Array<"newest" | "oldest">>("newest", "oldest")
    })
  },
  { weight: w.DropLetters, arbitrary: Arbitrary.all({ _tag: Arbitrary.Constant("DropLetters"), room }) }
]

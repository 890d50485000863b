import assert from "node:assert/strict";
import { test } from "node:test";
import type { Message } from "../src/client/frames";
import { pendingSurvey } from "../src/panel/nps";

function event(seq: number, name: string, data: Record<string, unknown> = {}): Message {
  return { conversation: "c1", seq, ts: seq, kind: "event", author: { kind: "system", id: "", name: "" }, body: "", event: name, data };
}

test("the survey of the latest offer waits until it is answered", () => {
  assert.equal(pendingSurvey([]), null);
  assert.equal(pendingSurvey([event(1, "closed")]), null);
  assert.equal(pendingSurvey([event(1, "closed"), event(2, "nps", { survey: "n_1" })]), "n_1");
  assert.equal(pendingSurvey([event(2, "nps", { survey: "n_1" }), event(3, "nps_answered", { survey: "n_1", score: 9 })]), null);
  // Reopened, closed again, offered again much later: the new survey is the one asked.
  const again = [event(2, "nps", { survey: "n_1" }), event(3, "nps_answered", { survey: "n_1" }), event(4, "reopened"), event(5, "closed"), event(6, "nps", { survey: "n_2" })];
  assert.equal(pendingSurvey(again), "n_2");
  // An answer to another survey does not answer this one; an offer without a survey id is ignored.
  assert.equal(pendingSurvey([event(2, "nps", { survey: "n_2" }), event(3, "nps_answered", { survey: "n_1" })]), "n_2");
  assert.equal(pendingSurvey([event(2, "nps", {})]), null);
});

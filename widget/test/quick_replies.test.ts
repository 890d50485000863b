import assert from "node:assert/strict";
import { test } from "node:test";
import type { Message } from "../src/client/frames";
import { answeredOffers, chosenOption, latestOffer, offeredOptions, ownData } from "../src/client/quick_replies";

function msg(seq: number, kind: "agent" | "visitor", data: Record<string, unknown> | null = null): Message {
  return { conversation: "c_1", seq, ts: seq, kind: "text", author: { kind, id: kind, name: "" }, body: `m${seq}`, data };
}

const offer = (seq: number, ...labels: string[]): Message => msg(seq, "agent", { quick_replies: labels.map((label) => ({ label })) });
const tap = (seq: number, of: number, option: number): Message =>
  msg(seq, "visitor", { quick_reply: { seq: of, option, label: "x", value: "x" } });

test("an offer's options, and only an agent's text offers any", () => {
  assert.deepEqual(offeredOptions(offer(2, "Yes", "No")), [{ label: "Yes" }, { label: "No" }]);
  assert.deepEqual(offeredOptions(msg(2, "visitor", { quick_replies: [{ label: "Yes" }] })), []);
  assert.deepEqual(offeredOptions({ ...offer(2, "Yes"), kind: "note" }), []);
  assert.deepEqual(offeredOptions(msg(2, "agent", { quick_replies: "nope" })), []);
  assert.deepEqual(offeredOptions(msg(2, "agent", { quick_replies: [{ label: 3 }, { label: "ok", value: "v" }] })), [{ label: "ok", value: "v" }]);
});

test("answered is read from the history, the first tap wins, then the outbox", () => {
  const history = [msg(1, "visitor"), offer(2, "A", "B"), tap(3, 2, 1), tap(4, 2, 0), offer(5, "C", "D")];
  assert.equal(chosenOption(history[2])?.option, 1);
  assert.equal(chosenOption(offer(2, "A")), null);
  const answers = answeredOffers(history);
  assert.equal(answers.get(2), 1);
  assert.equal(answers.has(5), false);
  assert.equal(answeredOffers(history, [undefined, { seq: 5, option: 1 }]).get(5), 1);
  assert.equal(latestOffer(history), 5);
  assert.equal(latestOffer([msg(1, "visitor")]), 0);
});

test("our own message keeps its quick-reply data after the ack", () => {
  assert.deepEqual(ownData({ body: "Hi", quick_replies: [{ label: " Yes " }, { label: "No", value: "n" }] }), {
    quick_replies: [{ label: "Yes" }, { label: "No", value: "n" }],
  });
  assert.deepEqual(ownData({ body: "No", quick_reply: { seq: 2, option: 1 } }), {
    quick_reply: { seq: 2, option: 1, label: "No", value: "No" },
  });
  assert.equal(ownData({ body: "plain" }), null);
});

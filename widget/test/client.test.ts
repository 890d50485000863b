import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { BACKOFF_CAP_MS, backoffDelay } from "../src/client/backoff";
import { Connection, ConnectionState, PONG_TIMEOUT_MS, socketUrl } from "../src/client/connection";
import type { HistoryFrame, Message } from "../src/client/frames";
import { Timeline } from "../src/client/timeline";
import { FakeClock, FakeSocket, welcome } from "./fakes";

function message(seq: number, extra: Partial<Message> = {}): Message {
  return { conversation: "c_1", seq, ts: seq, kind: "text", author: { kind: "agent", id: "a_1", name: "Léa" }, body: `m${seq}`, ...extra };
}

function history(messages: Message[], extra: Partial<HistoryFrame> = {}): HistoryFrame {
  const last = messages.length ? messages[messages.length - 1].seq : 0;
  return { t: "history", conversation: "c_1", recovered: true, messages, more: false, last_seq: last, ...extra };
}

let clock: FakeClock;
function connect(): Connection {
  const conn = new Connection({
    url: "ws://127.0.0.1:1/ws/visitor",
    hello: () => ({ t: "hello", v: 1, site: "pk_test" }),
    self: () => ({ kind: "visitor", id: "v_1", name: "" }),
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    clock,
    random: () => 0.5,
    watchNetwork: false,
  });
  conn.start();
  return conn;
}

beforeEach(() => {
  FakeSocket.all = [];
  clock = new FakeClock();
});

test("backoff is full jitter under base·2^n, capped", () => {
  assert.equal(backoffDelay(0, () => 0.999), 499);
  assert.equal(backoffDelay(3, () => 0.5), 2000);
  assert.equal(backoffDelay(50, () => 0.999), BACKOFF_CAP_MS - 30);
  assert.equal(backoffDelay(5, () => 0), 0);
});

test("socket URL follows the server's scheme", () => {
  assert.equal(socketUrl("https://chat.example/", "/ws/visitor"), "wss://chat.example/ws/visitor");
  assert.equal(socketUrl("http://127.0.0.1:8000", "/ws/agent"), "ws://127.0.0.1:8000/ws/agent");
});

test("timeline dedupes, orders, and only moves its cursor once synced", () => {
  const timeline = new Timeline();
  assert.ok(timeline.addMessage(message(3)));
  assert.ok(!timeline.addMessage(message(3)));
  assert.equal(timeline.cursor().c_1, 0, "a live message before the resume history must not move the cursor");
  timeline.applyHistory(history([message(1), message(2)]));
  assert.deepEqual(timeline.view("c_1").messages.map((m) => m.seq), [1, 2, 3]);
  assert.equal(timeline.cursor().c_1, 3);
  timeline.addMessage(message(5));
  assert.equal(timeline.cursor().c_1, 5);
  timeline.applyHistory(history([message(9)], { recovered: false, last_seq: 9 }));
  assert.deepEqual(timeline.view("c_1").messages.map((m) => m.seq), [9]);
});

test("hello, welcome, resume with the cursor, then live", () => {
  const conn = connect();
  const ws = FakeSocket.last();
  ws.accept();
  assert.equal(ws.sent[0].t, "hello");
  ws.deliver(welcome({ conversations: [{ id: "c_1", status: "open", last_seq: 4, read_seq: 0, peer_read_seq: 0, unread: 1 }] }));
  assert.equal(conn.state, ConnectionState.Open);
  assert.deepEqual(ws.sentOf("resume")[0], { t: "resume", epoch: "e1", conversations: { c_1: 0 } });
  ws.deliver(history([message(1), message(4)], { last_seq: 4 }));
  ws.deliver({ t: "message", ...message(5) });
  assert.equal(conn.timeline.cursor().c_1, 5);
  // Dropped: reconnect after backoff and resume from 5 with the old epoch.
  ws.serverClose(1001);
  assert.equal(conn.state, ConnectionState.Waiting);
  clock.advance(BACKOFF_CAP_MS);
  const ws2 = FakeSocket.last();
  assert.notEqual(ws2, ws);
  ws2.accept();
  ws2.deliver(welcome({ epoch: "e2" }));
  assert.deepEqual(ws2.sentOf("resume")[0], { t: "resume", epoch: "e1", conversations: { c_1: 5 } });
});

test("a message written offline is sent once connected, and resent with the same id after a drop", () => {
  const conn = connect();
  const item = conn.sendMessage("hello?", null);
  const ws = FakeSocket.last();
  assert.equal(ws.sent.length, 0);
  assert.equal(conn.deliveryState(item.client_msg_id), "pending");
  ws.accept();
  ws.deliver(welcome());
  const [send] = ws.sentOf("send");
  assert.equal(send.client_msg_id, item.client_msg_id);
  assert.equal(send.conversation, null);
  assert.equal(conn.deliveryState(item.client_msg_id), "sending");
  ws.serverClose(1006); // lost before the ack
  clock.advance(BACKOFF_CAP_MS);
  const ws2 = FakeSocket.last();
  ws2.accept();
  ws2.deliver(welcome());
  assert.equal(ws2.sentOf("send")[0].client_msg_id, item.client_msg_id, "same client_msg_id: the server dedupes");
  ws2.deliver({ t: "ack", ref: item.client_msg_id, client_msg_id: item.client_msg_id, conversation: "c_1", seq: 1, ts: 10 });
  assert.equal(conn.outbox.items().length, 0);
  assert.deepEqual(conn.timeline.view("c_1").messages.map((m) => m.body), ["hello?"]);
  // The server's echo of the same message is not shown twice.
  ws2.deliver({ t: "message", ...message(1, { author: { kind: "visitor", id: "v_1", name: "" }, body: "hello?", client_msg_id: item.client_msg_id }) });
  assert.equal(conn.timeline.view("c_1").messages.length, 1);
});

test("only one message at a time may start a conversation; the others wait for its id", () => {
  const conn = connect();
  const first = conn.sendMessage("one", null);
  const second = conn.sendMessage("two", null);
  const ws = FakeSocket.last();
  ws.accept();
  ws.deliver(welcome());
  assert.deepEqual(ws.sentOf("send").map((f) => f.body), ["one"]);
  ws.deliver({ t: "ack", client_msg_id: first.client_msg_id, conversation: "c_9", seq: 1, ts: 1 });
  const sends = ws.sentOf("send");
  assert.equal(sends.length, 2);
  assert.equal(sends[1].client_msg_id, second.client_msg_id);
  assert.equal(sends[1].conversation, "c_9");
});

test("an ack lost with the connection: the history that settles the first message gives the others its conversation", () => {
  const conn = connect();
  const ws = FakeSocket.last();
  ws.accept();
  ws.deliver(welcome());
  const first = conn.sendMessage("Hello from the train", null);
  assert.deepEqual(ws.sentOf("send").map((f) => f.body), ["Hello from the train"]);
  // Stored by the server, but the connection drops before its ack reaches us; meanwhile two more
  // are written, still without a conversation id.
  ws.serverClose(1006);
  const second = conn.sendMessage("Written in the tunnel", null);
  const third = conn.sendMessage("Still in the tunnel", null);
  clock.advance(BACKOFF_CAP_MS);
  const ws2 = FakeSocket.last();
  ws2.accept();
  ws2.deliver(welcome({ conversations: [{ id: "c_1", status: "open", last_seq: 1, read_seq: 0, peer_read_seq: 0, unread: 0 }] }));
  // The resume's history answers first and already holds the first message...
  const mine = { author: { kind: "visitor" as const, id: "v_1", name: "" } };
  ws2.deliver(history([message(1, { ...mine, body: "Hello from the train", client_msg_id: first.client_msg_id })]));
  // ...then the resent send's ack (deduped by the server), which finds it already settled.
  ws2.deliver({ t: "ack", client_msg_id: first.client_msg_id, conversation: "c_1", seq: 1, ts: 1 });
  const sends = ws2.sentOf("send").filter((f) => f.client_msg_id !== first.client_msg_id);
  assert.deepEqual(
    sends.map((f) => [f.client_msg_id, f.conversation]),
    [
      [second.client_msg_id, "c_1"],
      [third.client_msg_id, "c_1"],
    ],
    "the messages written behind it belong to its conversation, not to a new one",
  );
});

test("a refused message leaves the outbox; a rate-limited one is retried", () => {
  const conn = connect();
  const ws = FakeSocket.last();
  ws.accept();
  ws.deliver(welcome());
  const rejected: string[] = [];
  conn.on("rejected", ({ item }) => rejected.push(item.body));
  const bad = conn.sendMessage("x".repeat(10), "c_1");
  ws.deliver({ t: "error", code: "too_large", message: "body", ref: bad.client_msg_id, frame: "send" });
  assert.deepEqual(rejected, ["x".repeat(10)]);
  const slow = conn.sendMessage("later", "c_1");
  ws.deliver({ t: "error", code: "rate_limited", message: "slow down", ref: slow.client_msg_id, frame: "send" });
  assert.equal(conn.outbox.items().length, 1);
  clock.advance(5_000);
  assert.equal(ws.sentOf("send").filter((f) => f.client_msg_id === slow.client_msg_id).length, 2);
});

test("heartbeat: a ping without an answer means a dead path, and we reconnect", () => {
  const conn = connect();
  const ws = FakeSocket.last();
  ws.accept();
  ws.deliver(welcome({ heartbeat: 25 }));
  clock.advance(25_000); // random() = 0.5: exactly the announced heartbeat
  assert.equal(ws.sentOf("ping").length, 1);
  ws.deliver({ t: "pong", n: 1 });
  clock.advance(25_000);
  assert.equal(ws.sentOf("ping").length, 2);
  clock.advance(PONG_TIMEOUT_MS - 1);
  assert.equal(ws.closedWith, null, "still within the pong window");
  clock.advance(1);
  assert.notEqual(ws.closedWith, null, "the silent socket was dropped");
  assert.equal(conn.state, ConnectionState.Waiting);
  clock.advance(1_000);
  assert.equal(FakeSocket.all.length, 2, "and a new one opened after the backoff");
});

test("final close codes stop reconnecting", () => {
  const conn = connect();
  const ws = FakeSocket.last();
  ws.accept();
  ws.serverClose(4003);
  assert.equal(conn.state, ConnectionState.Stopped);
  clock.advance(60_000);
  assert.equal(FakeSocket.all.length, 1);
});

test("read frames move the peer's read position, never backwards", () => {
  const conn = connect();
  const ws = FakeSocket.last();
  ws.accept();
  ws.deliver(welcome({ conversations: [{ id: "c_1", status: "open", last_seq: 2, read_seq: 0, peer_read_seq: 0, unread: 0 }] }));
  ws.deliver({ t: "read", conversation: "c_1", reader: { kind: "agent", id: "a_1", name: "Léa" }, seq: 2 });
  ws.deliver({ t: "read", conversation: "c_1", reader: { kind: "agent", id: "a_1", name: "Léa" }, seq: 1 });
  assert.equal(conn.timeline.view("c_1").summary?.peer_read_seq, 2);
});

test("site storage holds writes back until the visitor interacts", async () => {
  const { MemoryStore, SiteStorage } = await import("../src/client/storage");
  const backend = new MemoryStore();
  const storage = new SiteStorage("pk_1", backend, false);
  storage.set("token", "vt_secret");
  assert.equal(storage.get("token"), "vt_secret", "readable from memory meanwhile");
  assert.equal(backend.get("papote:pk_1:token"), null, "but not written to the browser");
  storage.enable();
  assert.equal(backend.get("papote:pk_1:token"), "vt_secret");
  storage.remove("token");
  assert.equal(backend.get("papote:pk_1:token"), null);
});

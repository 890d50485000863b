// One protocol connection, shared by the visitor widget and the agent console. It owns the
// socket's life (hello → welcome → resume → live), the heartbeat, reconnecting with backoff, and
// the outbox; it draws nothing. Callers listen to events and send frames.
//
//   Idle ──start()──▶ Connecting ──welcome──▶ Open ──drop──▶ Waiting ──timer/online──▶ Connecting
//     ▲                     │                                  ▲
//     └──────stop()─────────┴──── final close code ──▶ Stopped ┘(never leaves until start())

import { Decoder, Encoder } from "@msgpack/msgpack";
import { backoffDelay } from "./backoff";
import {
  type AckFrame,
  type Author,
  type ClientFrame,
  type Conversation,
  type ConversationFrame,
  type ErrorFrame,
  FINAL_CLOSE_CODES,
  type HistoryFrame,
  type Message,
  type MessageFrame,
  PROTOCOL_VERSION,
  type ReadFrame,
  type SendFrame,
  type ServerFrame,
  type WelcomeFrame,
} from "./frames";
import { Outbox, type OutboxItem, MemoryOutboxStore, type SendOptions } from "./outbox";
import { ownData } from "./quick_replies";
import { Timeline } from "./timeline";

export enum ConnectionState {
  Idle = "idle",
  Connecting = "connecting",
  Open = "open",
  Waiting = "waiting",
  Stopped = "stopped",
}

export type DeliveryState = "pending" | "sending";

// The server closes a connection silent for 60 s (4011); our pings keep it busy, and a pong that
// does not come within this window means the path is dead even if the socket looks open (a
// sleeping laptop, a NAT that forgot us): drop it and resume on a new one.
export const PONG_TIMEOUT_MS = 10_000;
// docs/protocol.md gives the client 10 s to say hello; we give the server as long to welcome us.
export const WELCOME_TIMEOUT_MS = 15_000;
// Frames other than messages (track, set…) wait in memory while offline; beyond this many the
// oldest go, since they describe a moment that has passed.
export const MAX_QUEUED_FRAMES = 100;
// A send the server could not take now (rate_limited, internal) is tried again after this.
export const SEND_RETRY_MS = 5_000;
/** A message the server failed to store this many times in a row (its `internal`, `busy`, a rate
 * limit) is still tried every SEND_RETRY_MS, and says so: "Sending…" for ever told nothing. */
export const SEND_STALLED_AFTER = 2;
// A `resume` names at most this many conversations (docs/protocol.md §3): more go in several.
export const MAX_RESUME_IDS = 100;
// Errors after which a message can never be stored: retrying would only fail again.
// `blocked` and `held` are answers for good too: the first is not stored, the second waits for an agent;
// so is `answered`: a second tap on quick replies already answered is never stored.
const REJECTING_ERRORS = new Set(["bad_field", "too_large", "conflict", "not_found", "forbidden", "blocked", "held",
  "window_closed", "answered"]);

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface ConnectionOptions {
  /** ws(s):// URL of `/ws/visitor` or `/ws/agent`. */
  url: string;
  /** The first frame, built at every attempt (the token may have changed since the last one). */
  hello(): ClientFrame;
  /** Who "we" are, to build our own message once the ack comes. */
  self(): Author;
  outbox?: Outbox;
  timeline?: Timeline;
  /** Which conversations to resume after a welcome; default: those the welcome lists plus those
   * already in the timeline. The console narrows this to what it shows. */
  resumeIds?(welcome: WelcomeFrame, timeline: Timeline): Iterable<string>;
  /** Whether a `conversation` frame makes us resume (and so subscribe to) that conversation;
   * default yes. The console follows only what an agent may act on, not every chat of the site. */
  follow?(conversation: Conversation): boolean;
  WebSocket?: typeof WebSocket;
  random?: () => number;
  clock?: Clock;
  /** Hook the browser's online/offline and visibility events (on by default in a browser). */
  watchNetwork?: boolean;
}

export interface ConnectionEvents {
  state: ConnectionState;
  /** Every frame from the server, after the connection applied it. */
  frame: ServerFrame;
  /** A message new to this client; `live` is false for history (resume, fetch). */
  message: { message: Message; live: boolean };
  /** The timeline or the outbox changed: redraw. */
  change: undefined;
  /** The socket closed; `final` means no reconnect will be attempted. */
  closed: { code: number; reason: string; final: boolean };
  /** The server refused a message for good (e.g. too long): it left the outbox. */
  rejected: { item: OutboxItem; error: ErrorFrame };
}

type Listener<K extends keyof ConnectionEvents> = (value: ConnectionEvents[K]) => void;

export class Connection {
  state = ConnectionState.Idle;
  /** The store epoch from the latest welcome ("" before any). */
  epoch = "";
  welcome: WelcomeFrame | null = null;
  readonly timeline: Timeline;
  readonly outbox: Outbox;

  private socket: WebSocket | null = null;
  private attempt = 0;
  private pingCount = 0;
  private readonly inFlight = new Set<string>();
  /** Retriable refusals in a row, per message still in the outbox. */
  private readonly failures = new Map<string, number>();
  private readonly resumed = new Set<string>();
  private queued: ClientFrame[] = [];
  private heartbeatTimer: unknown = null;
  private deadlineTimer: unknown = null;
  private retryTimer: unknown = null;
  private readonly listeners = new Map<keyof ConnectionEvents, Set<(value: never) => void>>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly encoder = new Encoder({ ignoreUndefined: true });
  private readonly decoder = new Decoder();
  private readonly WebSocketImpl: typeof WebSocket;

  constructor(private readonly options: ConnectionOptions) {
    this.timeline = options.timeline ?? new Timeline();
    this.outbox = options.outbox ?? new Outbox(new MemoryOutboxStore());
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.WebSocketImpl = options.WebSocket ?? WebSocket;
    if (options.watchNetwork !== false && typeof window !== "undefined") this.watchNetwork();
  }

  // ---- events ----

  on<K extends keyof ConnectionEvents>(event: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (value: never) => void);
    return () => this.off(event, listener);
  }

  off<K extends keyof ConnectionEvents>(event: K, listener: Listener<K>): void {
    this.listeners.get(event)?.delete(listener as (value: never) => void);
  }

  private emit<K extends keyof ConnectionEvents>(event: K, value: ConnectionEvents[K]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as Listener<K>)(value);
      } catch (err) {
        // A broken listener must not break delivery for the others.
        console.error("papote:", err);
      }
    }
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  // ---- lifecycle ----

  /** Connects (again); also the way out of Stopped once the cause changed (new token, login). */
  start(): void {
    if (this.state === ConnectionState.Connecting || this.state === ConnectionState.Open) return;
    this.clearTimer("retryTimer");
    this.attempt = 0;
    this.open();
  }

  /** Closes for good; `start()` reconnects. */
  stop(): void {
    this.clearTimer("retryTimer");
    this.drop(1000, "stop");
    this.setState(ConnectionState.Stopped);
  }

  /** Skips the backoff wait (the network is back, the tab woke up). */
  reconnectNow(): void {
    if (this.state === ConnectionState.Waiting) {
      this.clearTimer("retryTimer");
      this.open();
    }
  }

  private open(): void {
    this.setState(ConnectionState.Connecting);
    let socket: WebSocket;
    try {
      socket = new this.WebSocketImpl(this.options.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    // A black-holed network can leave a socket "connecting" for minutes: the deadline covers the
    // TCP/TLS handshake and the welcome together.
    this.armDeadline(WELCOME_TIMEOUT_MS);
    socket.onopen = () => this.write(this.options.hello());
    socket.onmessage = (event: MessageEvent) => this.receive(event.data);
    socket.onclose = (event: CloseEvent) => this.closed(event.code, event.reason);
    // An error is always followed by a close event, which does the work.
    socket.onerror = () => undefined;
  }

  /** Detaches and closes the socket without waiting for the close handshake, which never ends on
   * a dead path. */
  private drop(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.clearTimer("heartbeatTimer");
    this.clearTimer("deadlineTimer");
    this.inFlight.clear();
    this.resumed.clear();
    this.timeline.unsync();
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    try {
      // Browsers only let a page close with 1000 or 3000–4999, and a reason of ≤ 123 bytes.
      socket.close(code >= 3000 && code <= 4999 ? code : 1000, reason.slice(0, 60));
    } catch {
      // Already closed.
    }
    this.emit("change", undefined);
  }

  private closed(code: number, reason: string): void {
    this.drop(code, reason);
    const final = FINAL_CLOSE_CODES.has(code);
    this.setState(final ? ConnectionState.Stopped : ConnectionState.Waiting);
    // Listeners may call start() (a visitor whose token was refused drops it and retries): then
    // the connection is already Connecting and no retry is scheduled.
    this.emit("closed", { code, reason, final });
    if (this.state === ConnectionState.Waiting && this.retryTimer === null) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.setState(ConnectionState.Waiting);
    const delay = backoffDelay(this.attempt++, this.random);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  /** The path is presumed dead: drop the socket and go through the backoff like any close. */
  private dead(reason: string): void {
    if (!this.socket) return;
    this.closed(4000, reason);
  }

  private watchNetwork(): void {
    window.addEventListener("offline", () => this.dead("offline"));
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      // Back from a sleeping laptop or a backgrounded phone: the socket may be a ghost.
      if (this.state === ConnectionState.Open) this.ping();
      else this.reconnectNow();
    });
  }

  // ---- timers ----

  private clearTimer(name: "heartbeatTimer" | "deadlineTimer" | "retryTimer"): void {
    if (this[name] !== null) this.clock.clearTimeout(this[name]);
    this[name] = null;
  }

  /** Any frame from the server proves the path alive; silence until the deadline proves it dead. */
  private armDeadline(ms: number): void {
    if (this.deadlineTimer !== null) return;
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.deadlineTimer = null;
      this.dead("timeout");
    }, ms);
  }

  private scheduleHeartbeat(): void {
    this.clearTimer("heartbeatTimer");
    const secs = this.welcome?.heartbeat || 25;
    // ±10% so that widgets opened together do not ping together forever.
    const ms = secs * 1000 * (0.9 + 0.2 * this.random());
    this.heartbeatTimer = this.clock.setTimeout(() => {
      this.heartbeatTimer = null;
      this.ping();
      this.scheduleHeartbeat();
    }, ms);
  }

  private ping(): void {
    this.write({ t: "ping", n: ++this.pingCount });
    this.armDeadline(PONG_TIMEOUT_MS);
  }

  // ---- frames ----

  /** Sends a frame now, or when the connection is next open (unless `queue` is false: a frame that
   * only matters now, like a typing indicator). */
  send(frame: ClientFrame, queue = true): void {
    if (this.state === ConnectionState.Open) this.write(frame);
    else if (queue) {
      this.queued.push(frame);
      if (this.queued.length > MAX_QUEUED_FRAMES) this.queued.shift();
    }
  }

  private write(frame: ClientFrame): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return false;
    try {
      socket.send(this.encoder.encode(frame));
      return true;
    } catch {
      return false;
    }
  }

  private receive(data: unknown): void {
    this.clearTimer("deadlineTimer");
    if (!(data instanceof ArrayBuffer)) return; // the server never sends text frames
    let frame: ServerFrame;
    try {
      frame = this.decoder.decode(new Uint8Array(data)) as ServerFrame;
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object" || typeof frame.t !== "string") return;
    switch (frame.t) {
      case "welcome":
        this.onWelcome(frame);
        break;
      case "history":
        this.onHistory(frame);
        break;
      case "message":
        this.onMessage(frame);
        break;
      case "ack":
        this.onAck(frame);
        break;
      case "conversation":
        this.onConversation(frame);
        break;
      case "read":
        this.onRead(frame);
        break;
      case "error":
        this.onError(frame);
        break;
      case "identified":
      case "linked": {
        // The identified person's conversations replace the anonymous visitor's: the server
        // merged what belongs to them, and anything else is no longer ours to show. A code from
        // another device (`linked`) makes us that device's visitor the same way.
        if (frame.switched) {
          // Another person on a shared browser: the previous one's unsent messages are theirs,
          // not the new person's to send.
          this.outbox.clear();
          this.inFlight.clear();
        }
        const ids = new Set(frame.conversations.map((c) => c.id));
        for (const id of [...this.timeline.conversations.keys()]) if (!ids.has(id)) this.timeline.conversations.delete(id);
        for (const c of frame.conversations) this.timeline.upsertSummary(c);
        this.resume(ids);
        this.emit("change", undefined);
        break;
      }
    }
    this.emit("frame", frame);
  }

  private onWelcome(frame: WelcomeFrame): void {
    if (frame.v !== PROTOCOL_VERSION) {
      this.closed(4005, "version");
      return;
    }
    this.welcome = frame;
    this.attempt = 0;
    for (const c of frame.conversations ?? []) this.timeline.upsertSummary(c);
    const ids = this.options.resumeIds
      ? this.options.resumeIds(frame, this.timeline)
      : [...new Set([...(frame.conversations ?? []).map((c) => c.id), ...this.timeline.conversations.keys()])];
    // The epoch we resume from is the one our timeline came from; the server compares it with its own.
    const epoch = this.epoch || frame.epoch;
    this.epoch = frame.epoch;
    this.setState(ConnectionState.Open);
    this.scheduleHeartbeat();
    this.writeResume(epoch, [...ids], true);
    for (const id of ids) this.resumed.add(id);
    const queued = this.queued;
    this.queued = [];
    for (const f of queued) this.write(f);
    this.flush();
  }

  /** Asks for what we missed in these conversations (also subscribes to them). */
  resume(ids: Iterable<string>): void {
    const fresh = [...ids].filter((id) => !this.resumed.has(id));
    if (!fresh.length || this.state !== ConnectionState.Open) return;
    for (const id of fresh) this.resumed.add(id);
    this.writeResume(this.epoch, fresh, false);
  }

  /** One `resume` per MAX_RESUME_IDS conversations; after a welcome, one even for none (it also
   * tells the server the held live frames may go). */
  private writeResume(epoch: string, ids: string[], always: boolean): void {
    if (always && !ids.length) this.write({ t: "resume", epoch, conversations: {} });
    for (let i = 0; i < ids.length; i += MAX_RESUME_IDS) {
      this.write({ t: "resume", epoch, conversations: this.timeline.cursor(ids.slice(i, i + MAX_RESUME_IDS)) });
    }
  }

  private onHistory(frame: HistoryFrame): void {
    for (const message of this.timeline.applyHistory(frame)) {
      this.settleOwn(message);
      this.emit("message", { message, live: false });
    }
    this.emit("change", undefined);
  }

  private onMessage(frame: MessageFrame): void {
    const { t: _t, ...message } = frame;
    const known = this.timeline.conversations.has(message.conversation);
    if (this.timeline.addMessage(message)) {
      this.settleOwn(message);
      this.emit("message", { message, live: true });
      this.emit("change", undefined);
    }
    if (!known) this.resume([message.conversation]);
  }

  /** Our message came back through history or from another tab: it is stored, stop sending it.
   * If it was the one starting a conversation, this is how we learn that conversation's id when its
   * ack was lost with the connection (the resume's history comes before the resent send's ack, which
   * then finds nothing left to settle): the messages waiting behind it go to the same conversation
   * instead of each starting one of its own. */
  private settleOwn(message: Message): void {
    const item = message.client_msg_id ? this.outbox.remove(message.client_msg_id) : undefined;
    if (!item) return;
    this.inFlight.delete(item.client_msg_id);
    this.failures.delete(item.client_msg_id);
    if (item.conversation === null) this.outbox.assignConversation(message.conversation);
  }

  private onAck(frame: AckFrame): void {
    const item = this.outbox.remove(frame.client_msg_id);
    this.inFlight.delete(frame.client_msg_id);
    this.failures.delete(frame.client_msg_id);
    if (item) {
      if (item.conversation === null) this.outbox.assignConversation(frame.conversation);
      const added = this.timeline.addMessage({
        conversation: frame.conversation,
        seq: frame.seq,
        ts: frame.ts,
        kind: item.note ? "note" : "text",
        author: this.options.self(),
        body: item.body,
        client_msg_id: item.client_msg_id,
        // As the server stores it: a note keeps whom it mentions (deduplicated, never the author).
        data: item.mentions?.length ? { ...ownData(item), mentions: item.mentions } : ownData(item),
        attachments: item.attachments,
      });
      if (added) this.emit("message", { message: this.lastOf(frame.conversation, frame.seq), live: true });
      this.resume([frame.conversation]);
    }
    this.flush();
    this.emit("change", undefined);
  }

  private lastOf(conversation: string, seq: number): Message {
    const list = this.timeline.view(conversation).messages;
    return list.find((m) => m.seq === seq) ?? list[list.length - 1];
  }

  private onConversation(frame: ConversationFrame): void {
    const current = this.timeline.conversations.get(frame.conversation.id)?.summary;
    const next = { ...frame.conversation };
    // Read positions only move forward, whatever order frames arrive in.
    if (current) {
      next.peer_read_seq = Math.max(current.peer_read_seq ?? 0, next.peer_read_seq ?? 0);
      next.read_seq = Math.max(current.read_seq ?? 0, next.read_seq ?? 0);
    }
    this.timeline.upsertSummary(next);
    if (this.options.follow?.(next) ?? true) this.resume([next.id]);
    this.emit("change", undefined);
  }

  private onRead(frame: ReadFrame): void {
    const summary = this.timeline.conversations.get(frame.conversation)?.summary;
    if (!summary) return;
    const self = this.options.self();
    if (frame.reader.kind === self.kind && frame.reader.id === self.id) {
      // We read it in another tab.
      summary.read_seq = Math.max(summary.read_seq ?? 0, frame.seq);
    } else {
      summary.peer_read_seq = Math.max(summary.peer_read_seq ?? 0, frame.seq);
    }
    this.emit("change", undefined);
  }

  private onError(frame: ErrorFrame): void {
    if (frame.frame !== "send" || typeof frame.ref !== "string") return;
    const id = frame.ref;
    this.inFlight.delete(id);
    if (REJECTING_ERRORS.has(frame.code)) {
      const item = this.outbox.remove(id);
      if (item) this.emit("rejected", { item, error: frame });
    } else {
      this.failures.set(id, (this.failures.get(id) ?? 0) + 1);
      this.clock.setTimeout(() => this.flush(), SEND_RETRY_MS);
    }
    this.emit("change", undefined);
  }

  // ---- outbox ----

  /** Writes a message: it is kept (with its client_msg_id) until the server acknowledges it, and
   * sent now if connected, otherwise after the next resume. `conversation` nil starts one.
   * `note` (agents only) makes it a private note. */
  sendMessage(body: string, conversation: string | null, options: SendOptions = {}): OutboxItem {
    const item = this.outbox.add(conversation, body, this.clock.now(), options.note === true, options.answers, options);
    this.flush();
    this.emit("change", undefined);
    return item;
  }

  /** Tells the server (and our other tabs) we have read up to `seq`; no-op if we already had. */
  markRead(conversation: string, seq: number): void {
    const summary = this.timeline.conversations.get(conversation)?.summary;
    if (summary && (summary.read_seq ?? 0) >= seq) return;
    if (summary) {
      summary.read_seq = seq;
      summary.unread = 0;
    }
    this.send({ t: "read", conversation, seq });
    this.emit("change", undefined);
  }

  deliveryState(clientMsgId: string): DeliveryState {
    return this.inFlight.has(clientMsgId) ? "sending" : "pending";
  }

  /** The server failed to store this message several times in a row: it is still being tried. */
  stalled(clientMsgId: string): boolean {
    return (this.failures.get(clientMsgId) ?? 0) >= SEND_STALLED_AFTER;
  }

  /** Sends every waiting message not already on its way, in the order they were written. */
  flush(): void {
    if (this.state !== ConnectionState.Open) return;
    let newConversationInFlight = false;
    for (const item of this.outbox.items()) {
      if (item.conversation === null) {
        // One message at a time may start a conversation; the others wait for its id.
        if (newConversationInFlight) continue;
        newConversationInFlight = true;
      }
      if (this.inFlight.has(item.client_msg_id)) continue;
      const frame: SendFrame = {
        t: "send",
        ref: item.client_msg_id,
        conversation: item.conversation,
        client_msg_id: item.client_msg_id,
        body: item.body,
      };
      // Only the console writes notes; the visitor endpoint would refuse the field.
      if (item.note) frame.note = true;
      if (item.note && item.mentions?.length) frame.mentions = item.mentions;
      if (item.answers) frame.answers = item.answers;
      if (item.topic && item.conversation === null) frame.topic = item.topic;
      if (item.quick_reply) frame.quick_reply = item.quick_reply;
      if (item.quick_replies) frame.quick_replies = item.quick_replies;
      if (item.attachments && item.attachments.length) {
        // The files go by id, the same ones on every retry: the server's dedupe covers them too.
        frame.attachments = item.attachments.map((a) => a.id);
        if (!item.body) delete frame.body;
      }
      if (this.write(frame)) this.inFlight.add(item.client_msg_id);
    }
  }
}

/** http(s)://host → ws(s)://host + path. */
export function socketUrl(base: string, path: string): string {
  return base.replace(/\/+$/, "").replace(/^http/, "ws") + path;
}

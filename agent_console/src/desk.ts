// The agent's desk: everything the console knows live, built on the shared protocol client.
//
// The `Connection` (widget/src/client) owns the socket, resume and the outbox; its timeline holds the
// messages and the latest summary of each conversation. The desk adds what only agents have: who is
// online (presence), visitors' live context, typing, unread counts, open chat tabs and drafts.
//
// Conversation frames broadcast to a site carry no per-reader fields (unread, last message): the desk
// keeps those itself, from the welcome and then from the live messages it sees.

import type { QuickReplyOption } from "../../widget/src/client/quick_replies";
import { Connection, ConnectionState, socketUrl } from "../../widget/src/client/connection";
import { Outbox, type OutboxItem, type OutboxStore } from "../../widget/src/client/outbox";
import type { Attachment, ClientFrame, Message, ServerFrame } from "../../widget/src/client/frames";
import type {
  AgentConversation,
  AgentPresence,
  AgentStatus,
  AgentWelcome,
  Author,
  CannedResponse,
  PresenceFrame,
  SiteRef,
  TrackedEvent,
  VisitorFrame,
  VisitorFull,
} from "./types";
import { isSnoozed } from "./types";
import { api } from "./api";
import type { Timeline } from "./contacts";

/** Replies written but not yet acknowledged survive a reload of the console: an agent who hit Enter
 * just before closing the laptop has not lost the answer. Kept per agent, dropped at sign-out. */
class LocalOutboxStore implements OutboxStore {
  constructor(private readonly key: string) {}
  load(): OutboxItem[] {
    try {
      return JSON.parse(localStorage.getItem(this.key) ?? "[]") as OutboxItem[];
    } catch {
      return [];
    }
  }
  save(items: OutboxItem[]): void {
    try {
      if (items.length) localStorage.setItem(this.key, JSON.stringify(items));
      else localStorage.removeItem(this.key);
    } catch {
      // Storage full or blocked: this write is lost, the previous list stays; the server dedupes.
    }
  }
}

const storageKey = (kind: string, agentId: string): string => `papote.console.${kind}.${agentId}`;

/** Forgets what this browser kept for an agent (sign-out on a shared machine). */
export function forgetLocal(agentId: string): void {
  for (const kind of ["outbox", "drafts"]) localStorage.removeItem(storageKey(kind, agentId));
}

/** A visitor's typing indicator fades if the "off" never comes (their tab closed mid-word). */
export const TYPING_TTL_MS = 8_000;

export interface Me extends Author {
  email: string;
  status: AgentStatus;
  capacity: number;
}

export interface DeskEvents {
  /** Something changed: redraw (coalesced by the caller). */
  change(): void;
  /** A message from someone else arrived live. */
  message(message: Message, conversation: AgentConversation | null): void;
  /** A conversation appeared, or was newly assigned to me. */
  conversation(conversation: AgentConversation, reason: "new" | "assigned"): void;
  /** An action was refused. */
  error(code: string, message: string): void;
  /** Another agent mentioned me in a note (the conversation may be someone else's). */
  mentioned(frame: MentionedFrame): void;
  /** The server ended our session (logout elsewhere, password change, disabled). */
  ended(): void;
}

/** Another agent's note mentions me (docs/protocol.md, "mentioned"): sent to each of my consoles. */
export interface MentionedFrame {
  t: "mentioned";
  conversation: string;
  /** The note's seq in its conversation. */
  seq: number;
  by: Author;
  /** The note's first characters. */
  body: string;
}

/** A conversation's channel as the composer needs it (GET /api/conversations/{cid}/channel). */
export interface ChannelInfo {
  channel: string;
  account: { id: string; name: string } | null;
  address: string | null;
  window: { open: boolean; closes_at: number | null; fallback: string | null } | null;
  can_send: boolean;
  reason: string | null;
  email: string | null;
  deliveries: Record<string, { state: string; error: string }>;
}

export interface DeliveryState {
  state: string;
  error: string;
}

/** Provider states by rank: receipts arrive in any order and the furthest stands (failed is final). */
const DELIVERY_RANK: Record<string, number> = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

export class Desk {
  readonly conn: Connection;
  sites: SiteRef[] = [];
  readonly presence = new Map<string, AgentPresence>();
  readonly visitors = new Map<string, VisitorFull>();
  readonly visitorEvents = new Map<string, TrackedEvent[]>();
  /** Whether the visitor has a widget open right now (from live `visitor` frames; unknown before one). */
  readonly visitorOnline = new Map<string, boolean>();
  readonly pastConversations = new Map<string, AgentConversation[]>();
  /** Each contact's identities and conversations on every channel (contacts.ts). */
  readonly timelines = new Map<string, Timeline>();
  readonly typing = new Map<string, { name: string; until: number }>();
  readonly unread = new Map<string, number>();
  readonly lastMessage = new Map<string, Message>();
  /** The latest text or note per conversation, for list previews: an `assigned` or `closed` event
   * coming after the visitor's question must not blank the preview. */
  readonly lastSaid = new Map<string, Message>();
  /** Closed conversations fetched over REST (the welcome lists open ones only). */
  readonly closedExtra = new Map<string, AgentConversation>();
  readonly canned = new Map<string, CannedResponse[]>();
  readonly drafts = new Map<string, string>();
  /** Messaging channels of the conversations opened, and where each agent reply stands on them. */
  readonly channels = new Map<string, ChannelInfo & { loadedAt: number }>();
  readonly deliveries = new Map<string, Map<number, DeliveryState>>();
  private readonly channelLoads = new Set<string>();
  readonly noteMode = new Map<string, boolean>();
  /** Per draft, whom each `@Name` picked in it stands for (mentions.ts); dropped once sent. */
  readonly mentionDrafts = new Map<string, Map<string, string>>();
  /** Conversations whose notes mentioned me since I last opened them: their rows say "@". */
  readonly mentionedIn = new Set<string>();
  tabs: string[] = [];
  private draftTimer = 0;

  /** Open tabs survive a reload of this browser tab (sessionStorage: not shared, not kept). */
  private saveTabs(): void {
    try {
      sessionStorage.setItem(storageKey("tabs", this.me.id), JSON.stringify({ tabs: this.tabs, active: this.active }));
    } catch {
      // Tabs are a convenience.
    }
  }

  private restoreTabs(): void {
    try {
      const saved = JSON.parse(sessionStorage.getItem(storageKey("tabs", this.me.id)) ?? "null") as { tabs: string[]; active: string | null } | null;
      if (!saved) return;
      this.tabs = saved.tabs.filter((id) => typeof id === "string").slice(0, 20);
      this.active = saved.active && this.tabs.includes(saved.active) ? saved.active : (this.tabs[0] ?? null);
    } catch {
      // Start with no tabs.
    }
  }

  /** Keeps drafts across reloads; written at most every half second while typing. */
  saveDrafts(): void {
    clearTimeout(this.draftTimer);
    this.draftTimer = window.setTimeout(() => {
      try {
        localStorage.setItem(storageKey("drafts", this.me.id), JSON.stringify(Object.fromEntries(this.drafts)));
      } catch {
        // Drafts stay in memory.
      }
    }, 500);
  }
  active: string | null = null;
  welcomed = false;
  private refs = 0;

  constructor(
    public me: Me,
    private readonly events: DeskEvents,
  ) {
    try {
      for (const [id, text] of Object.entries(JSON.parse(localStorage.getItem(storageKey("drafts", me.id)) ?? "{}") as Record<string, string>)) {
        this.drafts.set(id, text);
      }
    } catch {
      // No drafts, then.
    }
    this.conn = new Connection({
      url: socketUrl(location.origin, "/ws/agent"),
      outbox: new Outbox(new LocalOutboxStore(storageKey("outbox", me.id))),
      hello: () => ({ t: "hello", v: 1 }),
      self: () => ({ kind: "agent", id: this.me.id, name: this.me.name, avatar: this.me.avatar ?? null }),
      // Resume only what this console looked at: history of the 200 open conversations of a busy
      // site would be read for nothing. The others stay summaries until opened.
      resumeIds: (_welcome, timeline) => {
        const ids = new Set(this.tabs);
        for (const view of timeline.conversations.values()) if (view.lastSeq > 0) ids.add(view.id);
        return ids;
      },
      follow: (conv) => {
        const view = this.conn.timeline.conversations.get(conv.id);
        return this.tabs.includes(conv.id) || !conv.assignee || conv.assignee.id === this.me.id || (view?.lastSeq ?? 0) > 0;
      },
    });
    this.conn.on("frame", (frame) => this.onFrame(frame));
    this.conn.on("message", ({ message, live }) => this.onMessage(message, live));
    this.conn.on("change", () => this.events.change());
    // A reply refused for good (a messaging app's window shut meanwhile): say why, give the text back
    // to the reply box, and read the channel again so the composer explains.
    this.conn.on("rejected", ({ item, error }) => {
      if (item.conversation && !this.drafts.get(item.conversation)) this.drafts.set(item.conversation, item.body);
      this.events.error(error.code, error.message);
      if (item.conversation) void this.loadChannel(item.conversation);
    });
    this.conn.on("state", () => this.events.change());
    this.conn.on("closed", ({ code, final }) => {
      if (final && (code === 4001 || code === 4010)) this.events.ended();
    });
  }

  start(): void {
    this.restoreTabs();
    for (const id of this.tabs) void this.loadConversation(id);
    this.conn.start();
  }

  stop(): void {
    this.conn.stop();
  }

  get online(): boolean {
    return this.conn.state === ConnectionState.Open;
  }

  // ---- reading ----

  summary(id: string): AgentConversation | null {
    return (this.conn.timeline.conversations.get(id)?.summary as AgentConversation | null) ?? this.closedExtra.get(id) ?? null;
  }

  /** Every conversation known: the live ones, plus closed ones fetched for the Closed queue — of the
   * sites I still belong to (a membership that ends or is disabled closes the socket with 4012, and the
   * next welcome lists the sites left). */
  all(): AgentConversation[] {
    const out = new Map<string, AgentConversation>();
    for (const c of this.closedExtra.values()) out.set(c.id, c);
    for (const view of this.conn.timeline.conversations.values()) {
      if (view.summary) out.set(view.id, view.summary as AgentConversation);
    }
    return [...out.values()].filter((c) => !this.welcomed || this.siteOf(c) !== undefined);
  }

  unreadOf(id: string): number {
    return this.unread.get(id) ?? this.summary(id)?.unread ?? 0;
  }

  /** The latest message worth a preview line (events like "assigned" are not). */
  previewOf(id: string): Message | null {
    const messages = this.conn.timeline.conversations.get(id)?.messages ?? [];
    for (let i = messages.length - 1; i >= 0; i--) if (messages[i].kind !== "event") return messages[i];
    const known = this.lastSaid.get(id) ?? this.summary(id)?.last_message ?? null;
    return known && known.kind !== "event" ? known : null;
  }

  lastOf(id: string): Message | null {
    const view = this.conn.timeline.conversations.get(id);
    const fromView = view && view.messages.length ? view.messages[view.messages.length - 1] : null;
    const known = this.lastMessage.get(id) ?? this.summary(id)?.last_message ?? null;
    if (fromView && (!known || fromView.seq >= known.seq)) return fromView;
    return known;
  }

  siteOf(conv: AgentConversation): SiteRef | undefined {
    return this.sites.find((s) => s.key === conv.site || s.id === conv.site_id);
  }

  visitorName(conv: AgentConversation | null, visitorId?: string): string {
    const id = visitorId ?? conv?.visitor?.id ?? "";
    const live = this.visitors.get(id);
    return live?.name || conv?.visitor?.name || "";
  }

  /** Agents of a site with their load counted from the conversations we see: presence frames only
   * come when an agent connects or changes status, so their `load` goes stale between. */
  agentsOfSite(siteId: string | undefined): AgentPresence[] {
    const loads = new Map<string, number>();
    for (const c of this.all()) {
      // A snoozed conversation is off its agent's plate until it comes back, as the server counts it.
      if (c.status === "open" && c.assignee && !isSnoozed(c)) loads.set(c.assignee.id, (loads.get(c.assignee.id) ?? 0) + 1);
    }
    return [...this.presence.values()]
      .filter((a) => !siteId || !a.sites || siteId in a.sites)
      .map((a) => ({ ...a, load: this.sites.length === 1 ? (loads.get(a.id) ?? 0) : Math.max(a.load, loads.get(a.id) ?? 0) }));
  }

  isTyping(id: string): string | null {
    const entry = this.typing.get(id);
    if (!entry || entry.until < Date.now()) return null;
    return entry.name;
  }

  // ---- frames ----

  private onFrame(frame: ServerFrame | { t: string; [k: string]: unknown }): void {
    switch (frame.t) {
      case "welcome":
        this.onWelcome(frame as unknown as AgentWelcome);
        break;
      case "conversation":
        this.onConversation((frame as { conversation: AgentConversation }).conversation);
        break;
      case "presence": {
        const agent = (frame as unknown as PresenceFrame).agent;
        const before = this.presence.get(agent.id);
        this.presence.set(agent.id, { ...before, ...agent, sites: agent.sites ?? before?.sites });
        if (agent.id === this.me.id) {
          this.me = { ...this.me, status: agent.status, capacity: agent.capacity };
        }
        break;
      }
      case "visitor": {
        const f = frame as unknown as VisitorFrame;
        this.visitors.set(f.visitor.id, f.visitor);
        this.visitorOnline.set(f.visitor.id, f.online);
        if (f.event) {
          const list = this.visitorEvents.get(f.visitor.id) ?? [];
          list.unshift({ name: f.event.name, data: f.event.data ?? null, at: f.event.at ?? Date.now() });
          this.visitorEvents.set(f.visitor.id, list.slice(0, 50));
        }
        break;
      }
      case "typing": {
        const f = frame as { conversation: string; author: Author; on: boolean };
        if (f.author.kind === "visitor") {
          if (f.on) this.typing.set(f.conversation, { name: f.author.name, until: Date.now() + TYPING_TTL_MS });
          else this.typing.delete(f.conversation);
          setTimeout(() => this.events.change(), TYPING_TTL_MS + 50);
        }
        break;
      }
      case "delivery": {
        const f = frame as unknown as { conversation: string; seq: number; state: string; error: string };
        this.noteDelivery(f.conversation, f.seq, f.state, f.error);
        break;
      }
      case "attachments": {
        // A customer's files on a messaging app reach their message once fetched from the provider.
        const f = frame as unknown as { conversation: string; seq: number; attachments: Attachment[] };
        const message = this.conn.timeline.conversations.get(f.conversation)?.messages.find((m) => m.seq === f.seq);
        if (message) message.attachments = f.attachments;
        break;
      }
      case "mentioned": {
        const f = frame as unknown as MentionedFrame;
        if (typeof f.conversation !== "string") break;
        // Not necessarily a conversation this console follows (it may be a colleague's): read it, so
        // that its row, with its "@", is there to open.
        if (!this.summary(f.conversation)) void this.loadConversation(f.conversation);
        if (!this.isReading(f.conversation)) this.mentionedIn.add(f.conversation);
        this.events.mentioned(f);
        break;
      }
      case "error": {
        const f = frame as { code: string; message: string; frame?: string };
        if (f.frame !== "send" && f.frame !== "resume") this.events.error(f.code, f.message);
        break;
      }
    }
    this.events.change();
  }

  private noteDelivery(conversation: string, seq: number, state: string, error: string): void {
    let states = this.deliveries.get(conversation);
    if (!states) this.deliveries.set(conversation, (states = new Map()));
    const known = states.get(seq);
    if (!known || (DELIVERY_RANK[state] ?? 0) > (DELIVERY_RANK[known.state] ?? 0)) states.set(seq, { state, error });
  }

  /** Read (again) a conversation's channel: whether a reply can go now, and its replies' states. */
  async loadChannel(conversation: string): Promise<void> {
    if (this.channelLoads.has(conversation)) return;
    this.channelLoads.add(conversation);
    try {
      const info = await api<ChannelInfo>("GET", `/api/conversations/${encodeURIComponent(conversation)}/channel`);
      this.channels.set(conversation, { ...info, loadedAt: Date.now() });
      for (const [seq, d] of Object.entries(info.deliveries)) this.noteDelivery(conversation, Number(seq), d.state, d.error);
      this.events.change();
    } catch {
      // Not fatal: the composer works as for a web chat, and the server still refuses what cannot go.
    } finally {
      this.channelLoads.delete(conversation);
    }
  }

  private onWelcome(frame: AgentWelcome): void {
    this.welcomed = true;
    this.sites = frame.sites;
    this.me = { ...this.me, ...frame.agent };
    this.presence.clear();
    for (const a of frame.agents ?? []) this.presence.set(a.id, a);
    this.remember(frame.conversations);
    for (const c of frame.conversations) {
      // Server counts are the truth after a (re)connect; later conversation frames carry none.
      this.unread.set(c.id, c.unread ?? 0);
      if (c.last_message) this.heard(c.id, c.last_message);
    }
    void this.loadCanned();
  }

  private onConversation(conv: AgentConversation): void {
    const view = this.conn.timeline.conversations.get(conv.id);
    const summary = view?.summary as AgentConversation | null | undefined;
    const known = this.knownIds.has(conv.id);
    this.knownIds.add(conv.id);
    if (conv.status === "closed") this.closedExtra.set(conv.id, conv);
    else this.closedExtra.delete(conv.id);
    if (!known && conv.status === "open") this.events.conversation(summary ?? conv, "new");
    else if (conv.assignee?.id === this.me.id && this.lastAssignee.get(conv.id) !== this.me.id) {
      this.events.conversation(summary ?? conv, "assigned");
    }
    this.lastAssignee.set(conv.id, conv.assignee?.id ?? null);
  }

  private readonly knownIds = new Set<string>();
  private readonly lastAssignee = new Map<string, string | null>();

  /** Conversations already seen (welcome, REST) are not "new" when their frame comes. */
  remember(convs: AgentConversation[]): void {
    for (const c of convs) {
      this.knownIds.add(c.id);
      this.lastAssignee.set(c.id, c.assignee?.id ?? null);
    }
  }

  /** Keeps the latest message, and the latest said one, of its conversation. */
  private heard(id: string, message: Message): Message | undefined {
    const prev = this.lastMessage.get(id);
    if (!prev || prev.seq <= message.seq) this.lastMessage.set(id, message);
    const said = this.lastSaid.get(id);
    if (message.kind !== "event" && (!said || said.seq <= message.seq)) this.lastSaid.set(id, message);
    return prev;
  }

  private onMessage(message: Message, live: boolean): void {
    const prev = this.heard(message.conversation, message);
    const fromMe = message.author.kind === "agent" && message.author.id === this.me.id;
    if (message.author.kind === "visitor") this.typing.delete(message.conversation);
    // New to this console: pushed live, or replayed by a resume past the last message it knew (a
    // message written while it reconnected arrives in the history, once, not as a live frame).
    const fresh = live || (prev !== undefined && message.seq > prev.seq);
    if (!fresh || fromMe || message.kind === "event") return;
    if (this.isReading(message.conversation)) {
      this.markRead(message.conversation);
    } else {
      this.unread.set(message.conversation, this.unreadOf(message.conversation) + 1);
    }
    this.events.message(message, this.summary(message.conversation));
  }

  /** The agent has this conversation in front of them right now. */
  isReading(id: string): boolean {
    return this.active === id && document.visibilityState === "visible" && document.hasFocus();
  }

  // ---- actions ----

  open(id: string): void {
    if (!this.tabs.includes(id)) this.tabs.push(id);
    this.active = id;
    this.saveTabs();
    void this.loadConversation(id);
    this.conn.resume([id]);
    this.markRead(id);
    this.events.change();
  }

  closeTab(id: string): void {
    const i = this.tabs.indexOf(id);
    if (i < 0) return;
    this.tabs.splice(i, 1);
    if (this.active === id) this.active = this.tabs[Math.min(i, this.tabs.length - 1)] ?? null;
    this.saveTabs();
    this.events.change();
  }

  markRead(id: string): void {
    const view = this.conn.timeline.conversations.get(id);
    const seq = Math.max(view?.lastSeq ?? 0, view?.messages[view.messages.length - 1]?.seq ?? 0, view?.summary?.last_seq ?? 0);
    this.unread.set(id, 0);
    this.mentionedIn.delete(id); // read: a mention in it is seen too
    if (seq > 0) this.conn.markRead(id, seq);
  }

  /** The draft's picked mentions (name → agent id), made on first use. */
  mentionDraft(id: string): Map<string, string> {
    let picked = this.mentionDrafts.get(id);
    if (!picked) this.mentionDrafts.set(id, (picked = new Map()));
    return picked;
  }

  /** Sends a reply, or a note (`note`) that may mention agents of the site (`mentions`, notes only). */
  send(id: string, body: string, note: boolean, quickReplies: QuickReplyOption[] = [], attachments?: Attachment[], mentions: string[] = []): void {
    this.conn.sendMessage(body, id, { note, quick_replies: quickReplies, attachments, mentions: note && mentions.length ? mentions : undefined });
    this.typingOff(id);
  }

  private typingSentAt = new Map<string, number>();
  private typingTimers = new Map<string, number>();

  /** The agent typed in a reply box: tell the visitor (at most every 3 s), and stop after 4 s idle. */
  typed(id: string): void {
    if (this.noteMode.get(id)) return; // a note being written is nobody's business but agents'
    const now = Date.now();
    if (now - (this.typingSentAt.get(id) ?? 0) > 3_000) {
      this.typingSentAt.set(id, now);
      this.conn.send({ t: "typing", conversation: id, on: true }, false);
    }
    clearTimeout(this.typingTimers.get(id));
    this.typingTimers.set(id, window.setTimeout(() => this.typingOff(id), 4_000));
  }

  private typingOff(id: string): void {
    clearTimeout(this.typingTimers.get(id));
    if (!this.typingSentAt.get(id)) return;
    this.typingSentAt.delete(id);
    this.conn.send({ t: "typing", conversation: id, on: false }, false);
  }

  action(frame: ClientFrame): void {
    this.conn.send({ ...frame, ref: `act-${++this.refs}` });
  }

  setStatus(status: AgentStatus, capacity?: number): void {
    const frame: ClientFrame = { t: "status", status };
    if (capacity !== undefined) frame.capacity = capacity;
    this.me = { ...this.me, status, capacity: capacity ?? this.me.capacity };
    this.action(frame);
  }

  fetchOlder(id: string): void {
    const first = this.conn.timeline.conversations.get(id)?.messages[0];
    if (first) this.conn.send({ t: "fetch", conversation: id, before_seq: first.seq, limit: 50 });
  }

  async loadCanned(): Promise<void> {
    for (const site of this.sites) {
      try {
        const data = await api<{ canned: CannedResponse[] }>("GET", `/api/sites/${encodeURIComponent(site.key)}/canned`);
        this.canned.set(site.key, data.canned);
      } catch {
        // Canned responses are a convenience: the chat works without them.
      }
    }
    this.events.change();
  }

  async loadVisitor(visitorId: string): Promise<void> {
    try {
      const data = await api<{ visitor: VisitorFull; conversations: AgentConversation[]; events: TrackedEvent[] }>(
        "GET",
        `/api/visitors/${encodeURIComponent(visitorId)}`,
      );
      // A live frame may have come while we waited: it is newer than this answer.
      if (!this.visitors.has(visitorId)) this.visitors.set(visitorId, data.visitor);
      else this.visitors.set(visitorId, { ...data.visitor, ...this.visitors.get(visitorId) });
      this.pastConversations.set(visitorId, data.conversations);
      const live = this.visitorEvents.get(visitorId) ?? [];
      const seen = new Set(live.map((e) => `${e.name}@${e.at}`));
      this.visitorEvents.set(visitorId, [...live, ...data.events.filter((e) => !seen.has(`${e.name}@${e.at}`))]);
      this.events.change();
    } catch {
      // The panel shows what the summary had.
    }
    try {
      this.timelines.set(visitorId, await api<Timeline>("GET", `/api/visitors/${encodeURIComponent(visitorId)}/timeline`));
      this.events.change();
    } catch {
      // Without it the panel lists the visitor's past conversations as before.
    }
  }

  private readonly fetching = new Set<string>();
  /** Why a conversation could not be read (gone, not ours any more, the network): its tab says so. */
  readonly loadFailed = new Map<string, string>();

  /** A conversation we have no summary of (a past one from the context panel, a restored tab). */
  async loadConversation(id: string): Promise<void> {
    if (this.summary(id) || this.fetching.has(id)) return;
    this.fetching.add(id);
    try {
      const conv = await api<AgentConversation & { visitor: VisitorFull }>("GET", `/api/conversations/${encodeURIComponent(id)}`);
      if (!this.conn.timeline.conversations.get(id)?.summary) this.closedExtra.set(id, conv);
      this.loadFailed.delete(id);
      this.remember([conv]);
      this.events.change();
    } catch (err) {
      this.loadFailed.set(id, (err as Error).message);
      this.events.change();
    } finally {
      this.fetching.delete(id);
    }
  }

  async loadClosed(siteKey: string | null, q: string | null): Promise<void> {
    const params = new URLSearchParams({ status: "closed", limit: "100" });
    if (siteKey) params.set("site", siteKey);
    if (q) params.set("q", q);
    const data = await api<{ conversations: AgentConversation[] }>("GET", `/api/conversations?${params}`);
    for (const c of data.conversations) {
      if (!this.conn.timeline.conversations.get(c.id)?.summary) this.closedExtra.set(c.id, c);
      if (c.last_message) this.heard(c.id, c.last_message);
    }
    this.remember(data.conversations);
    this.events.change();
  }
}

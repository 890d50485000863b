// The visitor's side of the protocol on top of the shared Connection: the token, the hello, the
// site's settings, page context, identity, proactive rules, queue and availability. It draws
// nothing; the view reads its state and listens to `changed`.

import { Connection, ConnectionState, socketUrl } from "../client/connection";
import type {
  Attachment,
  Author,
  ClientFrame,
  Conversation,
  Message,
  ProactiveRule,
  QueueInfo,
  ServerFrame,
  SiteInfo,
  VisitorInfo,
} from "../client/frames";
import { Outbox, type OutboxItem, type OutboxStore } from "../client/outbox";
import { StorageKey } from "../client/storage";
import type { LoaderHost } from "../loader/host";
import { toLocale } from "../i18n/locale";
import { RuleRunner } from "./rules";
import { type Choice, type Screen, resolveScreen } from "./threads";

// An agent's typing indicator that never got its "off" (the agent closed the tab) fades after this.
const TYPING_EXPIRY_MS = 30_000;
// Without a keystroke for this long, the visitor is no longer typing.
const TYPING_IDLE_MS = 5_000;
// SPAs set the new title a moment after pushState; wait for it before reporting the page.
const PAGE_SETTLE_MS = 300;
// The rules wait this long at most for an identify's answer (which says what the person was already
// shown): an answer is a database read away, so this only matters when the socket is in trouble, and
// then a rule shown twice beats rules that never show.
const IDENTIFY_WAIT_MS = 5_000;
/** The refs of `transcript` frames (no other frame of the widget carries a number this high). */
const TRANSCRIPT_REF = 700_000;
// The pre-chat form's `set`: its `error` is told apart by this ref from one of the page's own `set` calls (they carry none).
const PRECHAT_REF = 699_999;

export interface ProactiveNote {
  rule: ProactiveRule;
  ts: number;
  /** The visitor wrote after it: their message carries it into the conversation. */
  answered?: boolean;
}

export interface LinkInfo {
  code: string;
  expires_at: number;
  url?: string;
  qr?: { size: number; path: string };
}

/** One line of the conversation as the view shows it: a stored message, or one of ours still in
 * the outbox. */
export type Line =
  | { kind: "message"; message: Message; mine: boolean }
  | { kind: "pending"; item: OutboxItem; state: "pending" | "sending" | "retrying" };

type Changed = () => void;

export class VisitorSession {
  readonly conn: Connection;
  site: SiteInfo | null = null;
  visitor: VisitorInfo | null = null;
  agentsOnline = 0;
  openNow = true;
  maxBody = 4000;
  readonly queue = new Map<string, QueueInfo>();
  readonly typing = new Map<string, { author: Author; until: number }>();
  readonly proactive: ProactiveNote[] = [];
  link: LinkInfo | null = null;
  /** Why the last code from another device opened nothing (`not_found`, `rate_limited`), until one works. */
  linkError: string | null = null;
  /** The transcript asked for (`transcript` frame): "asking", then "sent" or the refusal's code. */
  transcript: { conversation: string; state: string } | null = null;
  private transcriptRef = 0;
  /** A code from another device continued the conversation on this one: say so once. */
  linked = false;
  /** What the server refused of the visitor's answers (`rate`, `nps`, `contact`, `set` of the pre-chat
   * form, `link`), by frame: the error code, until they try again. Their forms said "thanks" at once,
   * and a refusal (a comment too long, an address the server does not take) was lost. */
  readonly refused = new Map<string, string>();
  /** The visitor's email before one typed in a form, to put back if the server refuses the new one. */
  private emailBefore: string | undefined = undefined;
  rejected: OutboxItem[] = [];
  /** Messages the site's spam filter held for review (moderation): shown as waiting. */
  held: OutboxItem[] = [];
  /** The site refused a message with `blocked`: the panel says so, politely. */
  blocked = false;
  /** Which conversation the panel shows (threads.ts): the visitor's pick, or `auto`. */
  choice: Choice = { kind: "auto" };
  /** The message that starts the conversation the visitor asked for: its ack selects it. */
  private startedBy: string | null = null;
  /** An identify was sent: the rules wait for its answer, which says what this person was shown. */
  private identifying = false;
  private pendingRules: SiteInfo | null = null;
  private readonly fired: Set<string>;
  readonly rules: RuleRunner;
  private linkCode: string | null;
  private lastPage = "";
  private changedListeners: Changed[] = [];
  private retriedWithoutToken = false;

  constructor(private readonly host: LoaderHost) {
    this.linkCode = host.linkCode;
    const storage = host.storage;
    const outboxStore: OutboxStore = {
      load: () => storage.getJSON<OutboxItem[]>(StorageKey.outbox, []),
      save: (items) => (items.length ? storage.setJSON(StorageKey.outbox, items) : storage.remove(StorageKey.outbox)),
    };
    const fired = (this.fired = new Set<string>(storage.getJSON<string[]>(StorageKey.firedRules, [])));
    this.rules = new RuleRunner({
      fired: {
        has: (id) => fired.has(id),
        add: (id) => {
          fired.add(id);
          storage.setJSON(StorageKey.firedRules, [...fired]);
          // The server remembers it for the person, so their other devices do not show it again.
          this.conn.send({ t: "fired", rule: id });
        },
      },
      onFire: (rule) => {
        this.proactive.push({ rule, ts: Date.now() });
        // An invitation to talk: shown where the visitor would answer it, not behind the list.
        if (this.screen().kind === "list") this.choice = { kind: "new" };
        this.emitChanged();
        this.onProactive?.(rule);
      },
      // performance.now() counts from the navigation start: the time on this page.
      secondsOnPage: () => performance.now() / 1000,
    });
    this.conn = new Connection({
      url: socketUrl(host.baseUrl, "/ws/visitor"),
      hello: () => this.hello(),
      self: () => ({ kind: "visitor", id: this.visitor?.id ?? "", name: this.visitor?.name ?? "" }),
      outbox: new Outbox(outboxStore),
    });
    this.conn.on("frame", (frame) => this.onFrame(frame));
    this.conn.on("change", () => this.emitChanged());
    this.conn.on("state", () => this.emitChanged());
    this.conn.on("closed", ({ code }) => {
      // An identify written on this socket will not be answered on the next one.
      this.identifyAnswered();
      // Nor a transcript asked for on it: the button comes back, to ask again.
      if (this.transcript?.state === "asking") this.transcript = null;
      // The site erased this visitor (docs/privacy.md): forget everything here, and stay closed.
      if (code === 4013) {
        for (const key of Object.values(StorageKey)) if (key !== StorageKey.consent) storage.remove(key);
        this.conn.timeline.clear();
        this.conn.outbox.clear();
        this.visitor = null;
        this.emitChanged();
        return;
      }
      // The server refused our token (expired, revoked): start over as a new visitor, once.
      if (code === 4001 && !this.retriedWithoutToken) {
        this.retriedWithoutToken = true;
        storage.remove(StorageKey.token);
        this.conn.start();
      }
    });
    this.watchPages();
    // Another tab of this site wrote to the outbox (or sent from it): redraw the pending lines.
    window.addEventListener("storage", (event) => {
      if (event.key && event.key.startsWith(`papote:${host.siteKey}:`)) this.emitChanged();
    });
  }

  onProactive: ((rule: ProactiveRule) => void) | null = null;
  onSite: ((site: SiteInfo) => void) | null = null;

  onChanged(fn: Changed): void {
    this.changedListeners.push(fn);
  }

  private emitChanged(): void {
    for (const fn of this.changedListeners) fn();
  }

  start(): void {
    this.conn.start();
  }

  private hello(): ClientFrame {
    const frame: ClientFrame = {
      t: "hello",
      v: 1,
      site: this.host.siteKey,
      locale: this.host.locale,
      page: this.page(),
      device: {
        tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
        lang: navigator.language,
        screen: `${screen.width}x${screen.height}`,
      },
    };
    const token = this.host.storage.get(StorageKey.token);
    if (token) frame.token = token;
    if (this.linkCode) frame.link_code = this.linkCode;
    return frame;
  }

  private page(): { url: string; title: string; referrer?: string } {
    // Cut to the protocol's limits (url 2048, title 300): a frame over them would be refused whole.
    const page: { url: string; title: string; referrer?: string } = {
      url: location.href.slice(0, 2048),
      title: document.title.slice(0, 300),
    };
    if (document.referrer) page.referrer = document.referrer.slice(0, 2048);
    return page;
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.t) {
      case "welcome":
        this.linkCode = null; // used once
        if (frame.token) this.host.storage.set(StorageKey.token, frame.token);
        if (frame.visitor) this.visitor = frame.visitor;
        if (frame.max_body) this.maxBody = frame.max_body;
        if (frame.site) {
          this.site = frame.site;
          this.agentsOnline = frame.site.agents_online ?? 0;
          this.openNow = frame.site.open_now ?? true;
          this.host.setLook(frame.site.color, frame.site.position, frame.site.theme);
          // The owner's language for the site applies unless the visitor or the page chose one.
          const siteLocale = toLocale(frame.site.locale);
          const chosen = this.host.storage.get(StorageKey.locale) || this.host.settings.locale;
          if (siteLocale && !chosen && siteLocale !== this.host.locale) this.host.setLocale(siteLocale, false);
          this.onSite?.(frame.site);
          if (frame.site.storage === "always") this.host.consent();
          this.learnFired(frame.fired);
          // An identify on its way may say this person was shown some rules on another device.
          if (this.identifying) {
            this.pendingRules = frame.site;
            setTimeout(() => this.identifyAnswered(), IDENTIFY_WAIT_MS);
          } else this.installRules(frame.site);
        }
        for (const c of frame.conversations ?? []) if (c.queue) this.queue.set(c.id, c.queue);
        this.lastPage = location.href;
        break;
      case "identified":
      case "linked":
        if (frame.t === "linked") {
          this.linked = true;
          this.linkError = null;
          this.link = null;
          this.choice = { kind: "auto" };
        }
        if (frame.switched) {
          // Another person on a shared browser: drop what the previous one left here, their
          // token first (the server revoked it too).
          this.host.storage.remove(StorageKey.token);
          this.queue.clear();
          this.typing.clear();
          this.proactive.length = 0;
          this.link = null;
          this.rejected = [];
          this.choice = { kind: "auto" };
        }
        this.visitor = frame.visitor;
        this.host.storage.set(StorageKey.token, frame.token);
        this.learnFired(frame.fired);
        this.identifyAnswered();
        break;
      case "error":
        // Not identified: the rules go on with what this browser knows.
        if (frame.frame === "identify") this.identifyAnswered();
        else if (frame.frame === "redeem" || frame.frame === "hello") {
          this.linkError = frame.code;
        } else if (frame.frame === "transcript" && this.transcript) {
          this.transcript = { ...this.transcript, state: frame.code };
        } else if (frame.frame === "contact" || (frame.frame === "set" && frame.ref === PRECHAT_REF)) {
          if (frame.frame === "set") this.prechatDone = false; // the form comes back, with what went wrong
          this.refused.set(frame.frame, frame.code);
          if (this.visitor) this.visitor = { ...this.visitor, email: this.emailBefore ?? "" };
        } else if (frame.frame === "rate" || frame.frame === "nps" || frame.frame === "link") {
          this.refused.set(frame.frame, frame.code);
        } else return;
        break;
      case "ok":
        if (frame.ref !== this.transcriptRef || !this.transcript) return;
        this.transcript = { ...this.transcript, state: "sent" };
        break;
      case "ack":
        if (frame.client_msg_id === this.startedBy) {
          this.startedBy = null;
          this.choice = { kind: "thread", id: frame.conversation };
        }
        break;
      case "queue":
        this.queue.set(frame.conversation, { position: frame.position, wait_secs: frame.wait_secs });
        break;
      case "conversation": {
        // A summary without queue info does not mean "left the queue"; an agent or a close does.
        const c = frame.conversation;
        if (c.queue) this.queue.set(c.id, c.queue);
        else if (c.assignee || c.status === "closed") this.queue.delete(c.id);
        break;
      }
      case "availability":
        this.agentsOnline = frame.agents_online;
        this.openNow = frame.open_now;
        break;
      case "typing":
        if (frame.author.kind === "visitor") break;
        if (frame.on) {
          this.typing.set(frame.conversation, { author: frame.author, until: Date.now() + TYPING_EXPIRY_MS });
          // Redraw when it expires, in case the "off" never comes.
          setTimeout(() => this.emitChanged(), TYPING_EXPIRY_MS + 100);
        } else this.typing.delete(frame.conversation);
        break;
      case "message": {
        // A message from the typist ends their typing; a system event (an assignment that lands just
        // after the agent started typing) does not.
        const typist = this.typing.get(frame.conversation)?.author;
        if (typist && typist.kind === frame.author.kind && typist.id === frame.author.id) {
          this.typing.delete(frame.conversation);
        }
        break;
      }
      case "link":
        this.link = { code: frame.code, expires_at: frame.expires_at, url: frame.url, qr: frame.qr };
        break;
      default:
        return;
    }
    this.emitChanged();
  }

  /** The identify was answered (or is given up on): the rules held back run now. */
  private identifyAnswered(): void {
    this.identifying = false;
    const site = this.pendingRules;
    this.pendingRules = null;
    if (site) this.installRules(site);
  }

  private installRules(site: SiteInfo): void {
    this.rules.setRules(site.rules, location.href);
    this.replayEarlyEvents();
  }

  /** Rules the server says this person was already shown (on any device) are fired here too. */
  private learnFired(ids: string[] | undefined): void {
    if (!ids?.length) return;
    for (const id of ids) this.fired.add(id);
    this.host.storage.setJSON(StorageKey.firedRules, [...this.fired]);
  }

  // ---- what the view reads ----

  get connected(): boolean {
    return this.conn.state === ConnectionState.Open;
  }

  /** The server closed the socket for good (a final close code): no reconnect will come. */
  get stopped(): boolean {
    return this.conn.state === ConnectionState.Stopped;
  }

  conversations(): Conversation[] {
    const out: Conversation[] = [];
    for (const view of this.conn.timeline.conversations.values()) if (view.summary) out.push(view.summary);
    return out;
  }

  /** What the panel shows: the list, a new conversation, or one thread (threads.ts). */
  screen(): Screen {
    const pendingNew = this.conn.outbox.items().some((item) => item.conversation === null);
    const screen = resolveScreen(this.choice, this.conversations(), Date.now(), pendingNew);
    // The thread taken up stays on screen: an agent closing it must not swap it for the list under
    // the visitor's eyes (they are about to rate it).
    if (this.choice.kind === "auto" && screen.kind === "thread") this.choice = screen;
    return screen;
  }

  /** The conversation the panel shows, if it shows one. */
  current(): Conversation | null {
    const screen = this.screen();
    if (screen.kind !== "thread") return null;
    return this.conn.timeline.conversations.get(screen.id)?.summary ?? null;
  }

  /** The visitor picked a conversation, asked for a new one, or went back to the list. */
  choose(choice: Choice): void {
    this.choice = choice;
    this.emitChanged();
  }

  lines(): Line[] {
    const current = this.current();
    const out: Line[] = [];
    const stored = new Set<string>();
    if (current) {
      for (const message of this.conn.timeline.view(current.id).messages) {
        if (message.kind === "note") continue;
        if (message.client_msg_id) stored.add(message.client_msg_id);
        out.push({ kind: "message", message, mine: message.author.kind === "visitor" });
      }
    }
    // Connected, a waiting message is on its way (or waits a moment for its conversation's id);
    // not connected, it waits for the network.
    const state = this.connected ? "sending" : "pending";
    for (const item of this.conn.outbox.items()) {
      if (stored.has(item.client_msg_id)) continue;
      // A message waiting to start a conversation shows on the new one's screen; others in their own.
      if (item.conversation !== (current ? current.id : null)) continue;
      out.push({ kind: "pending", item, state: state === "sending" && this.conn.stalled(item.client_msg_id) ? "retrying" : state });
    }
    return out;
  }

  /** Replies not yet read, over all the visitor's conversations. */
  unread(): number {
    let total = 0;
    for (const view of this.conn.timeline.conversations.values()) {
      const summary = view.summary;
      if (!summary) continue;
      if (!view.synced && !view.messages.length) {
        total += summary.unread ?? 0;
        continue;
      }
      const readSeq = summary.read_seq ?? 0;
      for (const m of view.messages) {
        if (m.seq > readSeq && m.kind === "text" && m.author.kind !== "visitor") total++;
      }
    }
    return total;
  }

  typingIn(conversation: string | undefined): Author | null {
    if (!conversation) return null;
    const entry = this.typing.get(conversation);
    if (!entry || entry.until < Date.now()) return null;
    return entry.author;
  }

  // ---- what the visitor does ----

  /** The visitor's token, for the widget's HTTP routes (sent in a header, never in a URL). */
  token(): string | null {
    return this.host.storage.get(StorageKey.token);
  }

  sendMessage(body: string, attachments?: Attachment[]): void {
    this.host.consent();
    const current = this.current();
    // The first message after a proactive one answers it: it goes with the message, for the agents.
    const note = this.proactive[this.proactive.length - 1];
    const answers = note && !note.answered ? note.rule.id : undefined;
    if (note) note.answered = true;
    const topic = current ? undefined : this.topic || undefined;
    const item = this.conn.sendMessage(body, current ? current.id : null, { answers, attachments, topic });
    if (!current) {
      this.startedBy = item.client_msg_id;
      this.choice = { kind: "new" };
    }
    this.sendTyping(false);
  }

  /** A tap on a quick reply: the visitor's next message, the option's label as its text, carrying
   * which option of which message it chose (a normal send: outbox, client_msg_id, exactly once). */
  chooseQuickReply(seq: number, option: number, label: string): void {
    const current = this.current();
    if (!current) return;
    this.host.consent();
    this.conn.sendMessage(label, current.id, { quick_reply: { seq, option } });
  }

  private typingSentAt = 0;
  private typingOn = false;
  private typingIdle: ReturnType<typeof setTimeout> | undefined;

  sendTyping(on: boolean): void {
    const conversation = this.current()?.id;
    if (!conversation || !this.connected) return;
    // The visitor stopped typing without sending or clearing: say so after a pause.
    clearTimeout(this.typingIdle);
    if (on) this.typingIdle = setTimeout(() => this.sendTyping(false), TYPING_IDLE_MS);
    const now = Date.now();
    // "on" at most every 3 s: the agent's indicator stays up without a frame per keystroke.
    if (on && this.typingOn && now - this.typingSentAt < 3000) return;
    if (!on && !this.typingOn) return;
    this.typingOn = on;
    this.typingSentAt = now;
    this.conn.send({ t: "typing", conversation, on }, false);
  }

  markRead(): void {
    const current = this.current();
    if (!current) return;
    // Only replies count: telling the server we read our own message would be noise.
    const messages = this.conn.timeline.view(current.id).messages;
    for (let i = messages.length - 1; i >= 0; i--) {
      if (messages[i].author.kind === "visitor") continue;
      if (messages[i].seq > (current.read_seq ?? 0)) this.conn.markRead(current.id, messages[i].seq);
      return;
    }
  }

  fetchEarlier(): void {
    const current = this.current();
    if (!current) return;
    const first = this.conn.timeline.view(current.id).messages[0];
    if (first) this.conn.send({ t: "fetch", conversation: current.id, before_seq: first.seq, limit: 50 }, false);
  }

  /** The pre-chat form's topic for the conversation the next message starts ("" for none). */
  topic = "";
  /** Whether the pre-chat (or away) form was filled in this page. */
  prechatDone = false;

  /** The pre-chat form: the name and email go to the visitor (`set`; an email also as the contact of the
   * current conversation when away), the topic with the message that starts the conversation. */
  savePrechat(name: string, email: string, topic: string): void {
    this.host.consent();
    this.topic = topic;
    this.prechatDone = true;
    const frame: ClientFrame = { t: "set", ref: PRECHAT_REF, attributes: {} };
    if (name) frame.name = name;
    if (email && !this.visitor?.verified) frame.email = email;
    this.refused.delete("set");
    this.emailBefore = this.visitor?.email;
    if (name || frame.email) this.conn.send(frame);
    if (email && this.current()) this.leaveEmail(email);
    else if (this.visitor) this.visitor = { ...this.visitor, ...(name ? { name } : {}), ...(email ? { email } : {}) };
    this.emitChanged();
  }

  leaveEmail(email: string): void {
    this.host.consent();
    const frame: ClientFrame = { t: "contact", email };
    const current = this.current();
    if (current) frame.conversation = current.id;
    this.refused.delete("contact");
    this.emailBefore = this.visitor?.email;
    this.conn.send(frame);
    if (this.visitor) this.visitor = { ...this.visitor, email };
    this.emitChanged();
  }

  rate(conversation: string, rating: number, comment: string): void {
    const frame: ClientFrame = { t: "rate", conversation, rating };
    if (comment) frame.comment = comment;
    this.refused.delete("rate");
    this.conn.send(frame);
  }

  answerNps(conversation: string, survey: string, score: number, comment: string): void {
    const frame: ClientFrame = { t: "nps", conversation, survey, score };
    if (comment) frame.comment = comment;
    this.refused.delete("nps");
    this.conn.send(frame);
  }

  /** Ask for the conversation's transcript by email (the server sends it only to a known address). */
  requestTranscript(conversation: string): void {
    this.host.consent();
    // Refs of its own, well above the connection's: the `ok` is recognised as this one's.
    this.transcriptRef = TRANSCRIPT_REF + ((this.transcriptRef + 1) % 1000);
    this.transcript = { conversation, state: "asking" };
    // Queued while offline (the button would wait for ever for an answer to a frame never sent); a
    // socket that closes before the answer gives the button back (see the constructor).
    this.conn.send({ t: "transcript", ref: this.transcriptRef, conversation });
    this.emitChanged();
  }

  requestLink(): void {
    this.host.consent();
    // The page, without its fragment: the server answers the link to it and its QR code.
    this.refused.delete("link");
    this.conn.send({ t: "link", url: location.href.split("#")[0].slice(0, 2000) });
  }

  /** A code from another device (typed, or from a link opened in this very tab): continue as them. */
  redeem(code: string): void {
    this.host.consent();
    this.linkError = null;
    this.conn.send({ t: "redeem", code: code.replace(/[\s-]/g, "").toUpperCase() });
    this.emitChanged();
  }

  identify(payload: Record<string, unknown>): void {
    this.identifying = true;
    this.conn.send({ t: "identify", ...pick(payload, ["user_id", "hash", "jwt", "name", "email"]) });
  }

  set(payload: Record<string, unknown>): void {
    const { name, email, ...attributes } = payload;
    const frame: ClientFrame = { t: "set", attributes };
    if (typeof name === "string") frame.name = name;
    if (typeof email === "string") frame.email = email;
    this.conn.send(frame);
  }

  track(event: string, data: Record<string, unknown> | undefined): void {
    const frame: ClientFrame = { t: "track", event };
    if (data && typeof data === "object") frame.data = data;
    this.conn.send(frame);
    // Before the welcome the rules are not known yet (nor installed while an identify holds them
    // back): the runner would ignore the event, so keep it for then.
    if (this.site && !this.pendingRules) this.rules.onEvent(event, data);
    else this.earlyEvents.push([event, data]);
  }

  private earlyEvents: [string, Record<string, unknown> | undefined][] = [];

  /** After the first welcome: replay host events that came before the rules were known. */
  replayEarlyEvents(): void {
    for (const [event, data] of this.earlyEvents.splice(0)) this.rules.onEvent(event, data);
  }

  /** Logout on a shared computer: forget everything and become a new anonymous visitor. */
  reset(): void {
    this.conn.stop();
    this.conn.timeline.clear();
    this.conn.outbox.clear();
    this.host.storage.remove(StorageKey.token);
    this.visitor = null;
    this.queue.clear();
    this.typing.clear();
    this.proactive.length = 0;
    this.link = null;
    this.linkError = null;
    this.choice = { kind: "auto" };
    this.conn.epoch = "";
    this.emitChanged();
    this.conn.start();
  }

  // ---- page context ----

  private watchPages(): void {
    const report = () => setTimeout(() => this.reportPage(), PAGE_SETTLE_MS);
    for (const method of ["pushState", "replaceState"] as const) {
      const original = history[method];
      history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
        const result = original.apply(this, args);
        report();
        return result;
      };
    }
    window.addEventListener("popstate", report);
    window.addEventListener("hashchange", report);
  }

  private reportPage(): void {
    if (location.href === this.lastPage) return;
    this.lastPage = location.href;
    this.conn.send({ t: "page", ...this.page() }, false);
    this.rules.onUrl(location.href);
  }
}

function pick(source: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (source[key] !== undefined && source[key] !== null) out[key] = source[key];
  return out;
}

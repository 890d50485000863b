// The chat panel's DOM. The skeleton is built once; `draw()` redraws the parts that depend on the
// session (batched to one redraw per frame). The message list is rebuilt whole: a visitor's
// conversation is short, and a rebuild cannot drift out of sync with the timeline.

import type { Attachment, Conversation, Message, SiteInfo } from "../client/frames";
import { type PanelStrings, panelStrings } from "../i18n/panel";
import { format } from "../i18n/locale";
import type { LoaderHost } from "../loader/host";
import { Continuation } from "./continuation";
import { Files, filesNode, PAPERCLIP_PATH, trayRows } from "./attachments";
import { h, linkify, safeImageUrl } from "./dom";
import { offerState, quickRepliesNode } from "./quick_replies";
import { composerEmoji } from "./emoji";
import type { EmojiButton } from "../emoji/button";
import type { OutboxItem } from "../client/outbox";
import type { Line, VisitorSession } from "./session";
import { type SiteTexts, siteTexts } from "./texts";
import { byActivity, lastText, threadList, threadUnread } from "./threads";
import { pendingSurvey } from "./nps";

const SEND_ICON =
  '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="currentColor" d="M3 20.5v-7l9-1.5-9-1.5v-7L22 12z"/></svg>';
const BACK_ICON =
  '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round" d="M15 5l-7 7 7 7"/></svg>';
const CLOSE_ICON =
  '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" d="M6 6l12 12M18 6L6 18"/></svg>';
const ATTACH_ICON = `<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" d="${PAPERCLIP_PATH}"/></svg>`;
// The server's bounds (docs/protocol.md: `rate`, `nps`, `contact`, `set`): a longer comment or an
// address it does not take was refused after the form had said thanks.
const COMMENT_MAX = 2000;
const EMAIL_MAX = 254;
const EMAIL_PATTERN = "[^@\\s]+@[^@\\s]+\\.[^@\\s]+";

function emailInput(t: PanelStrings, required: boolean): HTMLInputElement {
  return h("input", {
    type: "email",
    autocomplete: "email",
    maxlength: EMAIL_MAX,
    pattern: EMAIL_PATTERN,
    title: t.emailHint,
    "aria-label": t.email,
    placeholder: t.email,
    required,
  });
}

// Within this many px of the bottom, the visitor is "following" the conversation: keep them there.
const STICK_TO_BOTTOM_PX = 48;

export class PanelView {
  isOpen = false;
  private readonly panel: HTMLElement;
  private readonly title = h("div", { class: "title" });
  private readonly status = h("div", { class: "status" });
  private readonly closeButton = h("button", { class: "icon", type: "button" });
  private readonly backButton = h("button", { class: "icon", type: "button" });
  // The visitor's conversations (threads.ts), instead of the log and the composer.
  private readonly threads = h("div", { class: "threads" });
  private readonly continuation: Continuation;
  private readonly composer: HTMLFormElement;
  private linkOpen = false;
  private readonly banner = h("div", { class: "banner", role: "status" });
  private readonly notice = h("div", { class: "notice" });
  // Focusable, so that a keyboard can scroll back through a conversation longer than the panel.
  // A named region rather than role=log: new messages are already announced by the live region.
  private readonly log = h("div", { class: "log", role: "region", tabindex: 0 });
  private readonly extras = h("div", { class: "extras" });
  private readonly textarea = h("textarea", { rows: 1, maxlength: 4000 });
  private readonly sendButton = h("button", { class: "btn", type: "submit" });
  private readonly emoji: EmojiButton;
  private readonly attachButton = h("button", { class: "icon attach", type: "button" });
  private readonly fileInput = h("input", { type: "file", multiple: true, hidden: true });
  private readonly tray = h("div", { class: "tray", role: "group" });
  private readonly files: Files;
  private readonly linkButton = h("button", { class: "linkbtn", type: "button" });
  private readonly live = h("div", { class: "sr", "aria-live": "polite", "aria-atomic": "true" });
  private drawQueued = false;
  private readonly rated = new Set<string>();
  private rating = 0;
  private emailSaved = "";
  /** Why Send did nothing: files still uploading, or one that failed (cleared once none is pending). */
  private filesHint = "";
  /** The last rating and survey answer sent (their keys in `rated`), taken back if refused. */
  private readonly lastAnswer: Record<string, string> = {};
  /** Their comments, given back to the form a refusal brings back. */
  private readonly lastComment: Record<string, string> = {};

  constructor(
    private readonly host: LoaderHost,
    private readonly session: VisitorSession,
  ) {
    this.files = new Files(host.baseUrl, host.siteKey, () => session.token(), () => this.draw());
    this.closeButton.innerHTML = CLOSE_ICON; // constant markup
    this.closeButton.addEventListener("click", () => this.close(true));
    this.backButton.innerHTML = BACK_ICON; // constant markup
    this.attachButton.innerHTML = ATTACH_ICON; // constant markup
    this.backButton.addEventListener("click", () => {
      this.session.choose({ kind: "list" });
      this.drawNow();
      // The button is gone with the thread: a keyboard user lands on the list's first conversation.
      this.threads.querySelector("button")?.focus();
    });
    this.continuation = new Continuation(session, () => {
      this.closeLink();
      this.linkButton.focus(); // the button the box came from: focus must not fall out of the panel
    });
    this.panel = h("section", { class: "panel", role: "dialog", hidden: true });
    this.emoji = composerEmoji(host, this.textarea, this.panel);
    const form = (this.composer = h(
      "form",
      { class: "composer", onsubmit: (e) => this.submit(e) },
      this.attachButton,
      this.fileInput,
      this.textarea,
      this.emoji.button,
      this.sendButton,
    ));
    this.attachButton.addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      if (this.fileInput.files) this.addFiles(Array.from(this.fileInput.files));
      this.fileInput.value = "";
    });
    this.textarea.addEventListener("paste", (e) => {
      const pasted = Array.from(e.clipboardData?.files || []);
      if (pasted.length) {
        e.preventDefault();
        this.addFiles(pasted);
      }
    });
    this.textarea.addEventListener("keydown", (e) => {
      // Enter sends, Shift+Enter breaks the line; not while an IME is composing (Japanese, Chinese…).
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) this.submit(e);
    });
    this.textarea.addEventListener("input", () => {
      this.host.consent();
      this.autosize();
      this.session.sendTyping(this.textarea.value.trim().length > 0);
    });
    this.linkButton.addEventListener("click", () => {
      if (this.linkShown()) return this.closeLink();
      this.linkOpen = true;
      // A code is for a conversation to take along; on the device that receives one, the field is enough.
      if (this.session.conversations().length) this.session.requestLink();
      this.draw();
    });
    this.panel.append(
      h("div", { class: "head" }, this.backButton, h("div", { class: "who" }, this.title, this.status), this.closeButton),
      this.banner,
      this.notice,
      this.threads,
      this.log,
      this.extras,
      this.continuation.root,
      this.tray,
      form,
      h("div", { class: "foot" }, this.linkButton),
      this.live,
    );
    this.panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        this.close(true);
      }
    });
    this.panel.addEventListener("dragover", (e) => e.preventDefault());
    this.panel.addEventListener("drop", (e) => {
      const dropped = Array.from(e.dataTransfer?.files || []);
      if (dropped.length) {
        e.preventDefault();
        this.addFiles(dropped);
      }
    });
    host.frame.append(this.panel);
    this.applyStrings();
    this.watchViewport();
    document.addEventListener("visibilitychange", () => this.draw());
  }

  private get t(): PanelStrings {
    return panelStrings[this.host.locale];
  }

  applyStrings(): void {
    const t = this.t;
    this.textarea.setAttribute("aria-label", t.message);
    this.log.setAttribute("aria-label", t.messages);
    this.textarea.placeholder = t.placeholder;
    this.sendButton.setAttribute("aria-label", t.send);
    this.sendButton.title = t.send;
    this.sendButton.innerHTML = SEND_ICON;
    this.emoji.applyStrings();
    this.attachButton.setAttribute("aria-label", t.attach);
    this.attachButton.title = t.attach;
    this.tray.setAttribute("aria-label", t.attachments);
    this.closeButton.setAttribute("aria-label", t.close);
    this.backButton.setAttribute("aria-label", t.back);
    this.backButton.title = t.back;
    this.linkButton.textContent = t.continueDevice;
    this.panel.lang = this.host.locale;
    this.draw();
  }

  /** The box of "continue on another device": asked for, or saying how a code went. */
  private linkShown(): boolean {
    const s = this.session;
    return this.linkOpen || !!s.linkError || s.linked;
  }

  /** The visitor is done with that box: it goes, with what it said (a refusal, "continued here"). It
   * took a third of a phone's panel, and stayed as long as the page did. */
  private closeLink(): void {
    this.linkOpen = false;
    this.session.linkError = null;
    this.session.linked = false;
    this.draw();
  }

  // ---- open / close ----

  /** `byVisitor` false: opened by a proactive rule, which is not the visitor interacting. */
  open(focus = true, byVisitor = true): void {
    if (byVisitor) this.host.consent();
    if (!this.isOpen) {
      this.isOpen = true;
      this.panel.hidden = false;
      this.host.frame.classList.add("open");
      this.host.setOpen(true);
      this.fitViewport();
    }
    this.drawNow();
    this.scrollToBottom();
    if (focus) this.textarea.focus({ preventScroll: true });
  }

  close(byVisitor = false): void {
    if (byVisitor) this.host.consent();
    if (!this.isOpen) return;
    this.emoji.close();
    this.isOpen = false;
    this.panel.hidden = true;
    this.host.frame.classList.remove("open");
    this.host.setOpen(false);
    if (byVisitor) this.host.launcher.focus();
    this.draw();
  }

  toggle(): void {
    if (this.isOpen) this.close(true);
    else this.open();
  }

  /** Says a new message out loud for screen-reader users. */
  announce(text: string): void {
    this.live.textContent = text;
  }

  get visible(): boolean {
    return this.isOpen && document.visibilityState === "visible";
  }

  // ---- drawing ----

  draw(): void {
    if (this.drawQueued) return;
    this.drawQueued = true;
    // A microtask, not requestAnimationFrame: rAF does not run in a hidden tab, and the unread
    // count and title must still update there.
    queueMicrotask(() => this.drawNow());
  }

  private drawNow(): void {
    this.drawQueued = false;
    const s = this.session;
    const t = this.t;
    const site = s.site;
    const siteName = site?.name || "";
    this.title.textContent = siteName;
    this.drawTray();
    this.panel.setAttribute("aria-label", format(t.dialog, { site: siteName }));
    this.textarea.maxLength = s.maxBody;

    const available = s.openNow && s.agentsOnline > 0;
    let status = available ? t.online : "";
    // In line, the header gives the line's own estimate, the very number of the queue box below.
    const current = s.current();
    const queued = current?.status === "open" ? s.queue.get(current.id) : undefined;
    const wait = queued && queued.position > 0 && queued.wait_secs != null ? queued.wait_secs : null;
    const reply = wait ?? site?.reply_time;
    if (available && reply) status += ` · ${format(t.replyTimeText, { time: this.replyTime(reply) })}`;
    this.status.textContent = status;

    this.banner.hidden = s.connected;
    // Closed for good (the site is gone, this page's origin is refused, the visitor was erased): not
    // "Connecting…" for ever.
    this.banner.textContent = s.stopped ? t.unavailable : navigator.onLine === false ? t.offline : t.connecting;

    this.notice.hidden = available || !site;
    if (!available) {
      let text = this.texts.away || t.away;
      if (site?.next_open) text += " " + format(t.nextOpen, { when: this.when(site.next_open) });
      this.notice.textContent = text;
    }

    if (this.isOpen) {
      const screen = s.screen();
      const listing = screen.kind === "list";
      this.threads.hidden = !listing;
      this.log.hidden = this.extras.hidden = this.composer.hidden = listing;
      this.backButton.hidden = listing || !s.conversations().length;
      if (listing) this.drawThreads();
      else {
        this.drawLog();
        this.drawExtras(available);
      }
      const shown = this.linkShown();
      this.continuation.draw(shown, t, (ts) => this.time(ts));
      this.linkButton.setAttribute("aria-expanded", String(shown));
      if (this.visible && !listing) s.markRead();
    }
    this.host.setUnread(s.unread());
  }

  /** The site's texts in the visitor's language (texts.ts): the widget's own, then the browser's. */
  private get texts(): SiteTexts {
    return siteTexts(this.session.site, [this.host.locale, navigator.language]);
  }

  private drawThreads(): void {
    const s = this.session;
    const t = this.t;
    const rows = byActivity(s.conversations()).map((c) => {
      const view = s.conn.timeline.view(c.id);
      const last = lastText(view);
      // Live messages do not touch the summary's updated_at: the latest of both is the last activity.
      const at = Math.max(c.updated_at ?? 0, last?.ts ?? 0);
      return {
        id: c.id,
        preview: last ? last.body.slice(0, 80) : "",
        mine: last?.author.kind === "visitor",
        when: this.whenShort(at),
        open: c.status === "open",
        unread: threadUnread(view),
        at,
      };
    });
    rows.sort((a, b) => b.at - a.at);
    // Keep the list while the visitor tabs through it: a rebuild would drop their focus.
    const key = JSON.stringify([rows, this.host.locale]);
    if (this.threads.dataset.key === key) return;
    this.threads.dataset.key = key;
    this.threads.replaceChildren(
      ...threadList(rows, t, (id) => this.pick(id), () => this.pick(null)),
    );
  }

  /** Opens a thread (null: a new conversation) and puts the visitor in the composer. */
  private pick(id: string | null): void {
    this.session.choose(id ? { kind: "thread", id } : { kind: "new" });
    this.drawNow();
    this.scrollToBottom();
    this.textarea.focus({ preventScroll: true });
  }

  private drawLog(): void {
    const s = this.session;
    const t = this.t;
    const log = this.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < STICK_TO_BOTTOM_PX;
    const scrollTop = log.scrollTop;
    const current = s.current();
    const items: Node[] = [];
    const view = current ? s.conn.timeline.view(current.id) : null;
    if (view?.more) {
      items.push(h("button", { class: "earlier", type: "button", onclick: () => s.fetchEarlier() }, t.earlier));
    }
    const texts = this.texts;
    items.push(this.siteBubble(texts.greeting || t.greeting));
    let lastDay = "";
    // Proactive messages sit where they happened in time, among the stored ones.
    const proactive = s.proactive.slice();
    const lines = s.lines();
    const offers = offerState(view?.messages ?? [], lines.flatMap((l) => (l.kind === "pending" ? [l.item] : [])));
    for (const line of lines) {
      const ts = line.kind === "message" ? line.message.ts : line.item.created_at;
      const day = new Date(ts).toDateString();
      if (day !== lastDay) {
        lastDay = day;
        items.push(h("div", { class: "day" }, this.dayLabel(ts)));
      }
      while (proactive.length && proactive[0].ts <= ts) items.push(this.siteBubble(texts.rule(proactive.shift()!.rule)));
      const node = this.lineNode(line, current);
      if (node) items.push(node);
      const buttons = line.kind === "message" && quickRepliesNode(line.message, offers, t.quickReplies, (option, label) => {
        s.chooseQuickReply(line.message.seq, option, label);
        this.textarea.focus();
      });
      if (buttons) items.push(buttons);
    }
    // Each in its own conversation (one that never started shows wherever the visitor is), with its
    // files: a message of files only was an empty bubble.
    const here = (item: OutboxItem): boolean => item.conversation === null || item.conversation === current?.id;
    const said = (item: OutboxItem): string => item.body || (item.attachments ?? []).map((a) => a.name).join(", ");
    for (const item of s.rejected.filter(here)) {
      items.push(this.bubble(said(item), true, null, t.rejected, "rejected", item.created_at));
    }
    // A held message released by an agent is in the timeline now: it is no longer waiting.
    const delivered = new Set(lines.flatMap((l) => (l.kind === "message" && l.message.client_msg_id ? [l.message.client_msg_id] : [])));
    s.held = s.held.filter((item) => !delivered.has(item.client_msg_id));
    for (const item of s.held.filter(here)) {
      items.push(this.bubble(said(item), true, null, t.held, "held", item.created_at));
    }
    for (const note of proactive) items.push(this.siteBubble(texts.rule(note.rule)));
    const typist = s.typingIn(current?.id);
    if (typist) items.push(h("div", { class: "typing" }, format(t.typing, { name: typist.name || t.agent })));
    log.replaceChildren(...items);
    if (atBottom) this.scrollToBottom();
    else log.scrollTop = scrollTop;
  }

  private lineNode(line: Line, current: Conversation | null): Node | null {
    const t = this.t;
    if (line.kind === "pending") {
      return this.bubble(line.item.body, true, null, t[line.state], line.state, line.item.created_at, undefined,
        line.item.attachments);
    }
    const m = line.message;
    if (m.kind === "event") return this.eventNode(m);
    if (line.mine) {
      const read = current && (current.peer_read_seq ?? 0) >= m.seq;
      return this.bubble(m.body, true, null, read ? t.read : t.sent, read ? "read" : "sent", m.ts, m.seq,
        m.attachments);
    }
    return this.bubble(m.body, false, m, null, null, m.ts, m.seq, m.attachments);
  }

  private eventNode(m: Message): Node | null {
    const t = this.t;
    const agent = (m.data?.agent as { name?: string } | undefined)?.name || m.author.name || t.agent;
    const text: Record<string, string> = {
      assigned: format(t.assigned, { name: agent }),
      transferred: format(t.transferred, { name: agent }),
      closed: t.closed,
      reopened: t.reopened,
      handover: t.handover,
    };
    const label = m.event ? text[m.event] : undefined;
    return label ? h("div", { class: "event" }, label) : null;
  }

  private bubble(
    body: string,
    mine: boolean,
    from: Message | null,
    stateLabel: string | null,
    state: string | null,
    ts: number,
    seq?: number,
    files?: Attachment[],
  ): HTMLElement {
    const meta = h("div", { class: "meta" }, this.time(ts));
    if (stateLabel) meta.append(" · ", h("span", { class: "state" }, stateLabel));
    const bubble = h("div", { class: "bubble" });
    if (from && from.author.name) bubble.append(h("div", { class: "author" }, from.author.name));
    if (body) bubble.append(h("div", { class: "body" }, linkify(body)));
    if (files && files.length) bubble.append(this.attachmentsNode(files));
    bubble.append(meta);
    const row = h("div", { class: mine ? "msg mine" : "msg", "data-state": state, "data-seq": seq });
    if (!mine) row.append(this.avatar(from?.author.name || this.session.site?.name || "", from?.author.avatar));
    row.append(bubble);
    return row;
  }

  private siteBubble(text: string): HTMLElement {
    const row = h("div", { class: "msg", "data-kind": "site" });
    row.append(this.avatar(this.session.site?.name || "", this.session.site?.launcher_icon), h("div", { class: "bubble" }, linkify(text)));
    return row;
  }

  private avatar(name: string, url: string | null | undefined): HTMLElement {
    const box = h("div", { class: "avatar", "aria-hidden": "true" });
    const src = safeImageUrl(url);
    if (src) box.append(h("img", { src, alt: "" }));
    else box.textContent = name.trim().slice(0, 1).toUpperCase();
    return box;
  }

  private drawExtras(available: boolean): void {
    const s = this.session;
    const t = this.t;
    const current = s.current();
    const boxes: Node[] = [];

    const queue = current ? s.queue.get(current.id) : undefined;
    // Outside hours the notice says the team is away: no place in a line that is not moving.
    if (available && queue && current?.status === "open" && queue.position > 0) {
      const text =
        queue.wait_secs != null
          ? format(t.queue, { position: queue.position, minutes: minutes(queue.wait_secs) })
          : format(t.queueNoEta, { position: queue.position });
      boxes.push(h("div", { class: "box", role: "status", "data-kind": "queue" }, text));
    }

    if (current?.status === "closed") {
      // One rating per closing: a conversation reopened and closed again may be rated again.
      const messages = s.conn.timeline.view(current.id).messages;
      let closing = 0;
      let ratedSince = false;
      for (let i = messages.length - 1; i >= 0; i--) {
        if (messages[i].event === "rated") ratedSince = true;
        if (messages[i].event === "closed") {
          closing = messages[i].seq;
          break;
        }
      }
      const key = `${current.id}@${closing}`;
      // Answered here, unless the server refused that very answer: then its form comes back, saying so.
      const answered = (kind: string, k: string): boolean =>
        this.rated.has(k) && !(this.refusedCode(kind) && this.lastAnswer[kind] === k);
      const thanked = answered("rate", key);
      const survey = pendingSurvey(messages);
      if (survey && !answered("nps", survey)) boxes.push(this.npsForm(current.id, survey));
      else boxes.push(thanked || ratedSince ? h("div", { class: "box" }, thanked ? t.thanks : t.closedNotice) : this.ratingForm(current.id, key));
      if (s.site?.email_transcripts) boxes.push(this.transcriptBox(current.id));
    }
    if (s.blocked) boxes.push(h("div", { class: "box", role: "status", "data-kind": "blocked" }, t.blocked));

    const saved = s.refused.has("contact") || s.refused.has("set") ? "" : this.emailSaved; // refused: not saved
    const email = saved || s.visitor?.email;
    const prechat = s.site?.prechat;
    if (prechat?.enabled && !s.prechatDone && (!current || !available)) {
      // The same form before a conversation starts and, outside hours, as the away form.
      boxes.push(this.prechatForm(prechat, !available));
    } else if (!available && s.site) {
      // Promise an email only when the server sends them; an address typed here is confirmed first.
      const mails = s.site.email_continuation === true;
      const said = !mails ? t.emailKept : s.visitor?.verified && !saved ? t.emailSaved : t.emailConfirm;
      if (email) boxes.push(h("div", { class: "box small" }, format(said, { email })));
      else boxes.push(this.contactForm(mails));
    }

    // Keep a form the visitor is typing in: rebuilding it would drop their focus and text.
    if (this.extras.contains(this.host.shadow.activeElement)) return;
    this.extras.replaceChildren(...boxes);
  }

  /** "Email me this conversation", then what the server said. */
  private transcriptBox(conversation: string): HTMLElement {
    const t = this.t;
    const asked = this.session.transcript?.conversation === conversation ? this.session.transcript.state : null;
    if (asked && asked !== "asking") {
      const said = asked === "sent" ? t.transcriptSent : asked === "rate_limited" ? t.transcriptBusy : t.transcriptRefused;
      return h("div", { class: "box small", role: "status", "data-kind": "transcript" }, said);
    }
    const button = h("button", { class: "btn", type: "button", disabled: asked === "asking" }, t.transcript);
    button.addEventListener("click", () => {
      // The box is about to change: a focused element inside would hold its redraw back.
      this.textarea.focus();
      this.session.requestTranscript(conversation);
    });
    return h("div", { class: "box", "data-kind": "transcript" }, button);
  }

  private ratingForm(conversation: string, key: string): HTMLElement {
    const t = this.t;
    const comment = h("textarea", { rows: 2, maxlength: COMMENT_MAX, "aria-label": t.comment, placeholder: t.comment });
    if (this.session.refused.has("rate")) comment.value = this.lastComment.rate ?? "";
    const submit = h("button", { class: "btn", type: "submit", disabled: this.rating === 0 }, t.sendRating);
    const stars = h("div", { class: "row stars", role: "group", "aria-label": t.rateTitle });
    for (let n = 1; n <= 5; n++) {
      const star = h("button", { type: "button", "aria-pressed": String(n === this.rating), "aria-label": format(t.rateStar, { n }) }, `★ ${n}`);
      star.addEventListener("click", () => {
        this.rating = n;
        for (const b of stars.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === star));
        submit.disabled = false;
      });
      stars.append(star);
    }
    return h(
      "form",
      {
        class: "box",
        "data-kind": "rate",
        onsubmit: (e) => {
          e.preventDefault();
          if (!this.rating) return;
          this.host.consent();
          this.session.rate(conversation, this.rating, comment.value.trim());
          this.rated.add(key);
          this.lastAnswer.rate = key;
          this.lastComment.rate = comment.value;
          this.rating = 0;
          this.textarea.focus(); // the form is about to disappear: keep focus somewhere useful
          this.draw();
        },
      },
      h("div", {}, t.rateTitle),
      stars,
      comment,
      this.refusal("rate"),
      h("div", { class: "row" }, submit),
    );
  }

  /** The NPS survey (0-10 and a comment) the server offered when the conversation closed. */
  private npsForm(conversation: string, survey: string): HTMLElement {
    const t = this.t;
    let score = -1;
    const comment = h("textarea", { rows: 2, maxlength: COMMENT_MAX, "aria-label": t.comment, placeholder: t.comment });
    if (this.session.refused.has("nps")) comment.value = this.lastComment.nps ?? "";
    const submit = h("button", { class: "btn", type: "submit", disabled: true }, t.sendNps);
    const scores = h("div", { class: "row nps", role: "group", "aria-label": format(t.npsTitle, { site: this.session.site?.name || "" }) });
    for (let n = 0; n <= 10; n++) {
      const b = h("button", { type: "button", "aria-pressed": "false", "aria-label": format(t.npsScore, { n }) }, String(n));
      b.addEventListener("click", () => {
        score = n;
        for (const o of scores.querySelectorAll("button")) o.setAttribute("aria-pressed", String(o === b));
        submit.disabled = false;
      });
      scores.append(b);
    }
    return h(
      "form",
      {
        class: "box",
        "data-kind": "nps",
        onsubmit: (e) => {
          e.preventDefault();
          if (score < 0) return;
          this.host.consent();
          this.session.answerNps(conversation, survey, score, comment.value.trim());
          this.rated.add(survey);
          this.lastAnswer.nps = survey;
          this.lastComment.nps = comment.value;
          this.textarea.focus();
          this.draw();
        },
      },
      h("div", {}, format(t.npsTitle, { site: this.session.site?.name || "" })),
      scores,
      h("div", { class: "row small nps-ends" }, h("span", {}, t.npsLow), h("span", {}, t.npsHigh)),
      comment,
      this.refusal("nps"),
      h("div", { class: "row" }, submit),
    );
  }

  private prechatForm(p: NonNullable<SiteInfo["prechat"]>, away: boolean): HTMLElement {
    const t = this.t;
    const v = this.session.visitor;
    const name = h("input", { type: "text", autocomplete: "name", maxlength: "80", "aria-label": t.yourName, placeholder: t.yourName, required: p.name === "required" });
    name.value = v?.name || "";
    // Away, the email is what the team answers to: asked even if the form would not.
    const mail = emailInput(t, p.email === "required" || away);
    mail.value = v?.email || "";
    const topic = h("select", { "aria-label": t.topic }, h("option", { value: "" }, t.topic));
    for (const o of p.topics) topic.append(h("option", { value: o.id }, o.label));
    return h(
      "form",
      {
        class: "box",
        "data-kind": "prechat",
        "aria-label": t.prechat,
        onsubmit: (e) => {
          e.preventDefault();
          this.session.savePrechat(name.value.trim(), mail.value.trim(), topic.value);
          if (mail.value.trim()) this.emailSaved = mail.value.trim();
          this.textarea.focus();
          this.draw();
        },
      },
      h("div", { class: "small" }, away ? (this.session.site?.email_continuation ? t.leaveEmail : t.leaveEmailNoMail) : t.prechat),
      p.name !== "off" ? name : null,
      p.email !== "off" || away ? mail : null,
      p.topics.length ? topic : null,
      this.refusal("set"),
      h("div", { class: "row" }, h("button", { class: "btn", type: "submit" }, away ? t.save : t.start)),
    );
  }

  /** The code the server refused the form's last answer with; none for `conflict` (one was stored
   * already, from another tab: thanks all the same). */
  private refusedCode(kind: string): string | null {
    const code = this.session.refused.get(kind);
    return code && code !== "conflict" ? code : null;
  }

  /** What the server said of the form's last answer, if it refused it. */
  private refusal(kind: string): HTMLElement | null {
    if (!this.refusedCode(kind)) return null;
    return h("div", { class: "error", role: "alert" }, kind === "contact" || kind === "set" ? this.t.emailRefused : this.t.notSent);
  }

  private contactForm(mails: boolean): HTMLElement {
    const t = this.t;
    const input = emailInput(t, true);
    return h(
      "form",
      {
        class: "box",
        "data-kind": "contact",
        onsubmit: (e) => {
          e.preventDefault();
          const email = input.value.trim();
          if (!email) return;
          this.emailSaved = email;
          this.session.leaveEmail(email);
          this.textarea.focus();
          this.draw();
        },
      },
      h("div", { class: "small" }, mails ? t.leaveEmail : t.leaveEmailNoMail),
      h("div", { class: "row" }, input, h("button", { class: "btn", type: "submit" }, t.save)),
      this.refusal("contact"),
    );
  }

  // ---- input ----

  private addFiles(list: File[]): void {
    const t = this.t;
    this.host.consent();
    this.files.add(list, this.session.site?.attachments, t.fileTooBig, t.filesOff);
  }

  private drawTray(): void {
    this.attachButton.hidden = !(this.session.site?.attachments?.types.length ?? 0);
    if (!this.files.busy()) this.filesHint = "";
    const hint = this.filesHint ? h("div", { class: "small", role: "status" }, this.filesHint) : null;
    this.tray.replaceChildren(...trayRows(this.files, this.t), ...(hint ? [hint] : []));
  }

  private attachmentsNode(list: Attachment[]): HTMLElement {
    return filesNode(this.files, list, this.t, (viewer) => this.panel.append(viewer),
      () => this.textarea.focus({ preventScroll: true }));
  }

  private submit(event: Event): void {
    event.preventDefault();
    const body = this.textarea.value.trim();
    if (this.files.busy()) {
      // Said, not silent: the send waits for files still on their way, or for a failed one to be dealt with.
      this.filesHint = this.files.uploads.some((u) => u.state === "failed") ? this.t.filesFix : this.t.filesWait;
      this.drawTray();
      return;
    }
    const form = this.extras.querySelector<HTMLFormElement>("form[data-kind=prechat]");
    if (form && !this.session.current() && !form.checkValidity()) {
      form.reportValidity(); // a required field of the pre-chat form first
      return;
    }
    const attachments = this.files.take();
    if (!body && !attachments.length) return;
    this.session.sendMessage(body.slice(0, this.session.maxBody), attachments);
    this.textarea.value = "";
    this.autosize();
    this.drawNow();
    this.scrollToBottom();
  }

  private autosize(): void {
    this.textarea.style.height = "auto";
    this.textarea.style.height = `${Math.min(this.textarea.scrollHeight, 120)}px`;
  }

  private scrollToBottom(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }

  // ---- mobile ----

  /** On a phone the panel fills the screen; visualViewport shrinks when the on-screen keyboard
   * opens, so size the panel to it and the input stays above the keyboard. */
  private watchViewport(): void {
    const vv = window.visualViewport;
    if (!vv) return;
    vv.addEventListener("resize", () => this.fitViewport());
    vv.addEventListener("scroll", () => this.fitViewport());
  }

  private fitViewport(): void {
    const vv = window.visualViewport;
    const style = this.panel.style;
    if (vv && this.isOpen && window.innerWidth <= 480) {
      style.height = `${vv.height}px`;
      style.top = `${vv.offsetTop}px`;
      style.bottom = "auto";
    } else {
      style.height = style.top = style.bottom = "";
    }
  }

  // ---- formatting (in the visitor's own time zone: the browser's) ----

  private time(ts: number): string {
    return new Intl.DateTimeFormat(this.host.locale, { hour: "2-digit", minute: "2-digit" }).format(ts);
  }

  private when(ts: number): string {
    return new Intl.DateTimeFormat(this.host.locale, { weekday: "long", hour: "2-digit", minute: "2-digit" }).format(ts);
  }

  /** A thread's last activity: the time today, the date before. */
  private whenShort(ts: number): string {
    if (new Date(ts).toDateString() === new Date().toDateString()) return this.time(ts);
    return new Intl.DateTimeFormat(this.host.locale, { dateStyle: "medium" }).format(ts);
  }

  private dayLabel(ts: number): string {
    const day = new Date(ts).toDateString();
    if (day === new Date().toDateString()) return this.t.today;
    if (day === new Date(Date.now() - 86_400_000).toDateString()) return this.t.yesterday;
    return new Intl.DateTimeFormat(this.host.locale, { dateStyle: "medium" }).format(ts);
  }

  private replyTime(value: string | number): string {
    if (typeof value === "string") return value;
    const n = minutes(value);
    return n < 90 ? format(this.t.replyMinutes, { n }) : format(this.t.replyHours, { n: Math.round(n / 60) });
  }
}

/** Whole minutes for a wait or a reply time, rounded up and at least 1: the header and the queue box
 * round alike, so they say the same number. */
function minutes(secs: number): number {
  return Math.max(1, Math.ceil(secs / 60));
}


// One open conversation: header with actions, labels, the messages, and the reply box.
//
// A ChatView lives as long as its tab: the reply box keeps its text, caret and note mode while the
// rest redraws around it. Messages are rebuilt only when something in them changed.

import { h, mount } from "./dom";
import { type DeliveryState, type Desk } from "./desk";
import { ReplyFiles, attachmentsNode } from "./files";
import { type Key, dateTime, t, time } from "./i18n";
import { mt } from "./moderation";
import { answeredOffers } from "../../widget/src/client/quick_replies";
import { QuickReplyEditor, choiceNode, offerNode } from "./quick_replies";
import { composerEmoji } from "./emoji";
import { MentionPicker, displayName, mentionToken, mentionedIds, mentionsIn, noteBody } from "./mentions";
import { type AgentConversation, type AgentPresence, type CannedResponse, type Message, isSnoozed } from "./types";

export function visitorLabel(desk: Desk, conv: AgentConversation | null, visitorId?: string): string {
  const name = desk.visitorName(conv, visitorId);
  if (name) return name;
  const id = visitorId ?? conv?.visitor?.id ?? conv?.id ?? "";
  return t("anonymous", { id: id.slice(-4) });
}

/** Fills {name}, {email}, {agent}, {site} in a canned response; unknown variables stay visible. */
export function expandCanned(body: string, vars: Record<string, string>): string {
  return body.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? vars[name] : whole));
}

function eventText(m: Message): string {
  const data = (m.data ?? {}) as Record<string, unknown>;
  const agentName = (data.agent as { name?: string } | undefined)?.name ?? "";
  const fromName = (data.from as { name?: string } | undefined)?.name ?? "";
  const who = m.author.name || (m.author.kind === "system" ? t("system") : m.author.kind === "visitor" ? t("visitor") : "");
  switch (m.event) {
    case "created":
      return t("evCreated");
    case "assigned":
      return t("evAssigned", { agent: agentName });
    case "transferred":
      return t("evTransferred", { from: fromName, agent: agentName });
    case "closed":
      return t("evClosed", { name: who });
    case "reopened":
      return t("evReopened", { name: who });
    case "rated": {
      const comment = typeof data.comment === "string" && data.comment ? ` — “${data.comment}”` : "";
      return t("evRated", { rating: String(data.rating ?? "?") }) + comment;
    }
    case "contact":
      return t("evContact", { email: String(data.email ?? "") });
    case "nps":
      return mt("evNps");
    case "nps_answered": {
      const comment = typeof data.comment === "string" && data.comment ? ` — “${data.comment}”` : "";
      return mt("evNpsAnswered", { score: String(data.score ?? "?") }) + comment;
    }
    default:
      return m.event ?? "";
  }
}

const CHANNEL_LABELS: Record<string, Key> = {
  web: "channelWeb",
  whatsapp: "channelWhatsapp",
  telegram: "channelTelegram",
  twilio: "channelTwilio",
  messenger: "channelMessenger",
  instagram: "channelInstagram",
};

/** Where a conversation happens: what the server said of it (`…/channel`, or the contact's timeline)
 * once read, else its visitor's app. A contact merged across channels has a web chat and a WhatsApp one:
 * the visitor alone cannot say. */
export function conversationChannel(desk: Desk, conv: AgentConversation): string {
  const timeline = conv.visitor ? desk.timelines.get(conv.visitor.id) : undefined;
  const kind = timeline?.conversations.find((c) => c.id === conv.id)?.channel.kind;
  return desk.channels.get(conv.id)?.channel ?? (kind === "email" ? undefined : kind) ?? conv.visitor?.channel ?? "web";
}

export function channelLabel(kind: string | undefined): string {
  const key = CHANNEL_LABELS[kind ?? "web"];
  return key ? t(key) : kind ?? "";
}

function deliveryText(d: DeliveryState): string {
  switch (d.state) {
    case "queued":
      return t("replyQueued");
    case "sent":
      return t("replySent");
    case "delivered":
      return t("replyDelivered");
    case "read":
      return t("replyRead");
    default:
      return t("replyFailed", { error: d.error || "?" });
  }
}

export class ChatView {
  readonly root: HTMLElement;
  private readonly header = h("div", { class: "chat-header" });
  private readonly labelChips = h("div", { class: "label-chips" });
  private readonly labelInput: HTMLInputElement;
  private readonly transferBox = h("div", { class: "transfer-box", attrs: { hidden: true } });
  private readonly snoozeBox = h("div", { class: "transfer-box snooze-box", attrs: { hidden: true } });
  // Focusable, so that a keyboard can scroll back through a long conversation.
  private readonly messages = h("div", { class: "messages", attrs: { role: "log", "aria-live": "polite", "aria-label": t("messages"), tabindex: 0 } });
  private readonly typingLine = h("div", { class: "typing-line", attrs: { "aria-live": "polite" } });
  /** What the conversation's channel allows now (a messaging app's reply window), said before writing. */
  private readonly channelNotice = h("div", { class: "channel-notice", attrs: { role: "status", hidden: true } });
  private readonly cannedList = h("ul", { class: "canned-list", attrs: { role: "listbox", hidden: true } });
  readonly textarea: HTMLTextAreaElement;
  private readonly noteToggle: HTMLInputElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly composer: HTMLElement;
  private readonly quickReplies = new QuickReplyEditor();
  private readonly files: ReplyFiles;
  private readonly fileInput: HTMLInputElement;
  private signature = "";
  private cannedMatches: CannedResponse[] = [];
  private cannedIndex = 0;
  /** The "@" list of a note: the site's other agents. */
  private readonly mentions = new MentionPicker((agent) => this.insertMention(agent));

  constructor(
    private readonly desk: Desk,
    readonly id: string,
  ) {
    this.labelInput = h("input", {
      class: "label-input",
      attrs: { type: "text", "aria-label": t("addLabel"), placeholder: t("addLabel"), maxlength: 40 },
      on: {
        keydown: (e) => {
          if (e.key !== "Enter") return;
          e.preventDefault();
          const label = this.labelInput.value.trim();
          if (!label) return;
          this.desk.action({ t: "label", conversation: this.id, add: [label] });
          this.labelInput.value = "";
        },
      },
    });
    this.textarea = h("textarea", {
      class: "reply",
      attrs: { "aria-label": t("reply"), rows: 3, placeholder: t("replyPlaceholder") },
      props: { value: desk.drafts.get(id) ?? "" },
      on: {
        input: () => this.onInput(),
        keydown: (e) => this.onKeydown(e),
        // Unless the box has the focus again by then (a tap on Send, then "/" at once).
        blur: () =>
          setTimeout(() => {
            if (document.activeElement === this.textarea) return;
            this.hideCanned();
            this.mentions.hide();
          }, 150),
      },
    });
    this.noteToggle = h("input", {
      attrs: { type: "checkbox" },
      props: { checked: desk.noteMode.get(id) ?? false },
      on: { change: () => this.setNoteMode(this.noteToggle.checked) },
    });
    this.sendButton = h("button", { class: "primary", attrs: { type: "button" }, on: { click: () => this.submit() } }, t("send"));
    this.files = new ReplyFiles(() => {
      const conv = this.desk.summary(this.id);
      return conv ? this.desk.siteOf(conv)?.key ?? conv.site : undefined;
    }, () => undefined);
    this.fileInput = h("input", {
      attrs: { type: "file", multiple: true, hidden: true },
      on: {
        change: () => {
          if (this.fileInput.files) this.files.add(Array.from(this.fileInput.files));
          this.fileInput.value = "";
        },
      },
    });
    const attachButton = h("button", { class: "link attach", attrs: { type: "button" }, on: { click: () => this.fileInput.click() } }, t("attachFile"));
    this.textarea.addEventListener("paste", (e) => {
      const pasted = Array.from(e.clipboardData?.files ?? []);
      if (pasted.length) {
        e.preventDefault();
        this.files.add(pasted);
      }
    });
    this.composer = h(
      "div",
      {
        class: "composer",
        on: {
          dragover: (e) => e.preventDefault(),
          drop: (e) => {
            const dropped = Array.from(e.dataTransfer?.files ?? []);
            if (dropped.length) {
              e.preventDefault();
              this.files.add(dropped);
            }
          },
        },
      },
    );
    const emoji = composerEmoji(this.textarea, this.composer);
    mount(
      this.composer,
      this.cannedList,
      this.mentions.list,
      this.files.tray,
      this.textarea,
      this.quickReplies.root,
      h(
        "div",
        { class: "composer-bar" },
        h("div", { class: "composer-tools" }, attachButton, this.fileInput, h("label", { class: "note-toggle" }, this.noteToggle, " ", t("privateNote")), emoji.button, this.quickReplies.toggle),
        this.sendButton,
      ),
    );
    this.root = h(
      "section",
      { class: "chat", attrs: { "data-conversation": id } },
      this.header,
      h("div", { class: "labels-row" }, h("span", { class: "muted" }, t("labels"), ": "), this.labelChips, this.labelInput),
      this.transferBox,
      this.snoozeBox,
      this.messages,
      this.typingLine,
      this.channelNotice,
      this.composer,
    );
    this.applyNoteMode();
    void desk.loadChannel(id);
  }

  focus(): void {
    this.textarea.focus();
  }

  // ---- composer ----

  setNoteMode(on: boolean): void {
    this.desk.noteMode.set(this.id, on);
    this.noteToggle.checked = on;
    this.applyNoteMode();
  }

  toggleNote(): void {
    this.setNoteMode(!(this.desk.noteMode.get(this.id) ?? false));
    this.textarea.focus();
  }

  private applyNoteMode(): void {
    const note = this.desk.noteMode.get(this.id) ?? false;
    this.composer.classList.toggle("note-mode", note);
    this.textarea.placeholder = note ? t("notePlaceholder") : t("replyPlaceholder");
    this.sendButton.textContent = note ? t("addNote") : t("send");
    // A note reaches no visitor, so it offers no buttons: the editor waits for the next reply.
    this.quickReplies.toggle.hidden = note;
    if (note) this.quickReplies.setOpen(false);
    else this.mentions.hide(); // mentions belong to notes: a reply sends none
    this.applyChannel();
  }

  /** A reply the channel cannot carry now is not written at all: the composer says why first (a
   * private note still can be), and offers the customer's verified email instead. */
  private applyChannel(): void {
    const info = this.desk.channels.get(this.id);
    const note = this.desk.noteMode.get(this.id) ?? false;
    const blocked = !!info && !info.can_send && !note;
    this.textarea.disabled = blocked;
    this.sendButton.disabled = blocked;
    if (!info || info.channel === "web" || note) {
      this.channelNotice.hidden = true;
      return;
    }
    if (blocked) {
      mount(
        this.channelNotice,
        h("p", null, t("cannotSend", { channel: channelLabel(info.channel), reason: info.reason ?? "" })),
        info.email ? h("a", { class: "offer-email", attrs: { href: "mailto:" + info.email } }, t("offerEmail", { email: info.email })) : null,
      );
      this.channelNotice.dataset.blocked = "1";
      this.channelNotice.hidden = false;
    } else if (info.window && !info.window.open && info.window.fallback) {
      mount(this.channelNotice, h("p", null, t(info.window.fallback === "template" ? "windowTemplate" : "windowTag")));
      this.channelNotice.dataset.blocked = "0";
      this.channelNotice.hidden = false;
    } else {
      this.channelNotice.hidden = true;
    }
  }

  private onInput(): void {
    this.desk.drafts.set(this.id, this.textarea.value);
    this.desk.saveDrafts();
    this.desk.typed(this.id);
    this.updateCanned();
    this.updateMentions();
  }

  private submit(): void {
    const body = this.textarea.value.trim();
    if (this.files.busy()) return; // an upload still running, or failed: retry or remove it first
    const attachments = this.files.take();
    if (!body && !attachments.length) return;
    const max = (this.desk.conn.welcome?.max_body as number | undefined) ?? 4000;
    const note = this.desk.noteMode.get(this.id) ?? false;
    const text = body.slice(0, max);
    const mentions = note ? mentionsIn(text, this.desk.mentionDraft(this.id)) : [];
    this.desk.send(this.id, text, note, note ? [] : this.quickReplies.take(), attachments, mentions);
    this.textarea.value = "";
    this.desk.drafts.delete(this.id);
    this.desk.mentionDrafts.delete(this.id);
    this.desk.saveDrafts();
    this.hideCanned();
    this.mentions.hide();
  }

  private onKeydown(e: KeyboardEvent): void {
    if (this.mentions.key(e)) return;
    if (!this.cannedList.hidden && this.cannedMatches.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = this.cannedMatches.length;
        this.cannedIndex = (this.cannedIndex + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
        this.renderCanned();
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        this.insertCanned(this.cannedMatches[this.cannedIndex]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        this.hideCanned();
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    }
  }

  /** The `/word` right before the caret, if any. */
  private cannedToken(): { start: number; word: string } | null {
    const caret = this.textarea.selectionStart ?? this.textarea.value.length;
    const before = this.textarea.value.slice(0, caret);
    const m = /(^|\s)\/([\w-]*)$/.exec(before);
    if (!m) return null;
    return { start: caret - m[2].length - 1, word: m[2].toLowerCase() };
  }

  private updateCanned(): void {
    const token = this.cannedToken();
    const conv = this.desk.summary(this.id);
    const all = conv ? (this.desk.canned.get(conv.site) ?? []) : [];
    if (!token || !all.length) {
      this.hideCanned();
      return;
    }
    this.cannedMatches = all.filter((c) => c.shortcut.toLowerCase().startsWith(token.word)).slice(0, 8);
    this.cannedIndex = 0;
    if (!this.cannedMatches.length) {
      this.hideCanned();
      return;
    }
    this.renderCanned();
  }

  private renderCanned(): void {
    mount(
      this.cannedList,
      this.cannedMatches.map((c, i) =>
        h(
          "li",
          {
            class: i === this.cannedIndex ? "selected" : "",
            attrs: { role: "option", "aria-selected": i === this.cannedIndex ? "true" : "false" },
            on: {
              mousedown: (e) => {
                e.preventDefault();
                this.insertCanned(c);
              },
            },
          },
          h("strong", null, "/" + c.shortcut),
          " ",
          h("span", { class: "muted" }, c.body.slice(0, 80)),
        ),
      ),
    );
    this.cannedList.hidden = false;
  }

  private hideCanned(): void {
    this.cannedList.hidden = true;
    this.cannedMatches = [];
  }

  private insertCanned(c: CannedResponse): void {
    const token = this.cannedToken();
    const conv = this.desk.summary(this.id);
    const site = conv ? this.desk.siteOf(conv) : undefined;
    const visitor = conv?.visitor ? this.desk.visitors.get(conv.visitor.id) : undefined;
    const text = expandCanned(c.body, {
      name: visitor?.name || conv?.visitor?.name || t("there"),
      email: visitor?.email || conv?.visitor?.email || "",
      agent: this.desk.me.name,
      site: site?.name ?? "",
    });
    const value = this.textarea.value;
    const caret = this.textarea.selectionStart ?? value.length;
    const start = token ? token.start : caret;
    this.textarea.value = value.slice(0, start) + text + value.slice(caret);
    const pos = start + text.length;
    this.textarea.setSelectionRange(pos, pos);
    this.desk.drafts.set(this.id, this.textarea.value);
    this.desk.saveDrafts();
    this.hideCanned();
    this.textarea.focus();
  }

  /** In a note, the `@word` before the caret lists the site's other agents to mention. */
  private updateMentions(): void {
    const token = this.desk.noteMode.get(this.id) ? mentionToken(this.textarea.value, this.textarea.selectionStart ?? this.textarea.value.length) : null;
    if (!token) {
      this.mentions.hide();
      return;
    }
    this.mentions.show(this.mentionable(), token.word);
  }

  private mentionable(): AgentPresence[] {
    const conv = this.desk.summary(this.id);
    return this.desk.agentsOfSite(conv?.site_id).filter((a) => a.id !== this.desk.me.id);
  }

  /** `@typed` becomes `@Name `, and the draft remembers whom that name stands for. */
  private insertMention(agent: AgentPresence): void {
    const value = this.textarea.value;
    const caret = this.textarea.selectionStart ?? value.length;
    const token = mentionToken(value, caret);
    const start = token ? token.start : caret;
    const name = displayName(agent);
    const text = `@${name} `;
    this.textarea.value = value.slice(0, start) + text + value.slice(caret);
    const pos = start + text.length;
    this.textarea.setSelectionRange(pos, pos);
    this.desk.mentionDraft(this.id).set(name, agent.id);
    this.desk.drafts.set(this.id, this.textarea.value);
    this.desk.saveDrafts();
    this.mentions.hide();
    this.textarea.focus();
  }

  // ---- actions ----

  claim(): void {
    this.desk.action({ t: "claim", conversation: this.id });
  }

  private showTransfer(conv: AgentConversation): void {
    const agents = this.desk.agentsOfSite(conv.site_id).filter((a) => a.id !== conv.assignee?.id);
    const select = h(
      "select",
      { attrs: { "aria-label": t("selectAgent") } },
      agents.map((a) =>
        h("option", { attrs: { value: a.id } }, `${a.name || a.id} — ${t(a.status)} (${a.load}/${a.capacity})`),
      ),
    );
    const note = h("textarea", { attrs: { "aria-label": t("transferNote"), rows: 2, placeholder: t("transferNote"), maxlength: 4000 } });
    const done = (): void => {
      this.transferBox.hidden = true;
      this.transferBox.replaceChildren();
    };
    mount(
      this.transferBox,
      h("label", null, t("selectAgent"), " ", select),
      note,
      h(
        "div",
        { class: "row" },
        h(
          "button",
          {
            class: "primary",
            attrs: { type: "button" },
            on: {
              click: () => {
                if (!select.value) return;
                const text = note.value.trim();
                if (text) this.desk.action({ t: "transfer", conversation: this.id, agent: select.value, note: text });
                else this.desk.action({ t: "assign", conversation: this.id, agent: select.value });
                done();
              },
            },
          },
          t("confirm"),
        ),
        h("button", { attrs: { type: "button" }, on: { click: done } }, t("cancel")),
      ),
    );
    this.transferBox.hidden = false;
    select.focus();
  }

  private toggleSnooze(): void {
    if (this.snoozeBox.hidden) this.showSnooze();
    else this.hideSnooze();
    this.update(); // the button says whether its box is open
  }

  private hideSnooze(): void {
    this.snoozeBox.hidden = true;
    this.snoozeBox.replaceChildren();
  }

  /** Snooze: a few usual times, or one chosen; the conversation leaves the open queues until then. */
  private showSnooze(): void {
    const done = (): void => {
      this.hideSnooze();
      this.update();
    };
    const snooze = (until: number): void => {
      this.desk.action({ t: "snooze", conversation: this.id, until });
      done();
    };
    const now = new Date();
    const chosen = h("input", {
      attrs: { type: "datetime-local", "aria-label": t("snoozeUntilLabel"), min: localInput(now), max: localInput(new Date(now.getTime() + SNOOZE_MAX_MS)), required: true },
    });
    const error = h("p", { class: "form-error", attrs: { role: "alert", hidden: true } });
    mount(
      this.snoozeBox,
      h("p", { class: "muted small" }, t("snoozeHint")),
      h(
        "div",
        { class: "row" },
        snoozePresets(now).map(({ key, until }) =>
          h("button", { attrs: { type: "button", title: dateTime(until) }, on: { click: () => snooze(until) } }, t(key)),
        ),
      ),
      h(
        "div",
        { class: "row" },
        h("label", null, t("snoozeUntilLabel"), " ", chosen),
        h(
          "button",
          {
            class: "primary",
            attrs: { type: "button" },
            on: {
              click: () => {
                const until = chosen.value ? new Date(chosen.value).getTime() : NaN;
                if (!(until > Date.now() && until <= Date.now() + SNOOZE_MAX_MS)) {
                  error.textContent = t("snoozeOutOfRange");
                  error.hidden = false;
                  chosen.focus();
                  return;
                }
                snooze(until);
              },
            },
          },
          t("snooze"),
        ),
        h("button", { attrs: { type: "button" }, on: { click: done } }, t("cancel")),
      ),
      error,
    );
    this.snoozeBox.hidden = false;
    this.snoozeBox.querySelector<HTMLButtonElement>("button")?.focus();
  }

  // ---- drawing ----

  update(): void {
    const desk = this.desk;
    const conv = desk.summary(this.id);
    const view = desk.conn.timeline.conversations.get(this.id);
    if (!conv) {
      // Still on its way, or it could not be read: then the tab says why rather than wait for ever.
      const failed = desk.loadFailed.get(this.id);
      mount(this.header, failed ? h("p", { class: "form-error", attrs: { role: "alert" } }, t("error", { message: failed })) : h("h2", null, "…"));
      return;
    }
    const mine = conv.assignee?.id === desk.me.id;
    const open = conv.status === "open";
    if ((!open || isSnoozed(conv)) && !this.snoozeBox.hidden) this.hideSnooze(); // snoozed or closed meanwhile
    const site = desk.siteOf(conv);
    mount(
      this.header,
      h(
        "div",
        { class: "chat-title" },
        h("h2", null, visitorLabel(desk, conv)),
        h("span", { class: "channel-badge", attrs: { "data-channel": conversationChannel(desk, conv) } }, channelLabel(conversationChannel(desk, conv))),
        h(
          "span",
          { class: "muted" },
          [site && desk.sites.length > 1 ? site.name + " · " : "", conv.assignee ? t("assignedTo", { name: conv.assignee.name }) : t("unassigned")].join(""),
          " · ",
          open ? (isSnoozed(conv) ? t("snoozedUntil", { time: dateTime(conv.snoozed_until ?? 0) }) : t("statusOpen")) : t("statusClosed"),
        ),
      ),
      h(
        "div",
        { class: "chat-actions" },
        open && !mine && !conv.assignee ? h("button", { class: "primary", attrs: { type: "button" }, on: { click: () => this.claim() } }, t("claim")) : null,
        open ? h("button", { attrs: { type: "button" }, on: { click: () => this.showTransfer(conv) } }, conv.assignee ? t("transfer") : t("assign")) : null,
        open && isSnoozed(conv)
          ? h("button", { attrs: { type: "button" }, on: { click: () => desk.action({ t: "unsnooze", conversation: this.id }) } }, t("unsnooze"))
          : open
            ? h("button", { attrs: { type: "button", "aria-expanded": String(!this.snoozeBox.hidden) }, on: { click: () => this.toggleSnooze() } }, t("snooze"))
            : null,
        open
          ? h("button", { attrs: { type: "button" }, on: { click: () => desk.action({ t: "close", conversation: this.id }) } }, t("close"))
          : h("button", { attrs: { type: "button" }, on: { click: () => desk.action({ t: "reopen", conversation: this.id }) } }, t("reopen")),
      ),
    );
    mount(
      this.labelChips,
      (conv.labels ?? []).map((label) =>
        h(
          "span",
          { class: "chip" },
          label,
          h(
            "button",
            {
              class: "chip-x",
              attrs: { type: "button", "aria-label": t("removeLabel", { label }) },
              on: { click: () => desk.action({ t: "label", conversation: this.id, remove: [label] }) },
            },
            "×",
          ),
        ),
      ),
    );
    const typingName = desk.isTyping(this.id);
    this.typingLine.textContent = typingName !== null ? t("typing", { name: typingName || visitorLabel(desk, conv) }) : "";

    const info = desk.channels.get(this.id);
    this.applyChannel();
    const messages = view?.messages ?? [];
    const lastVisitor = [...messages].reverse().find((m) => m.kind === "text" && m.author.kind === "visitor");
    // The customer wrote again since the channel was read: their window may be open again.
    if (info && !info.can_send && lastVisitor && lastVisitor.ts > info.loadedAt) void desk.loadChannel(this.id);
    const states = desk.deliveries.get(this.id);
    const pending = desk.conn.outbox.items().filter((i) => i.conversation === this.id);
    const sig = [[...(states?.entries() ?? [])].map(([seq, d]) => seq + d.state).join(","), messages.length, (messages.length ? messages[messages.length - 1].seq : 0), conv.peer_read_seq ?? 0, pending.length, view?.more, conv.visitor?.name].join("|");
    if (sig === this.signature) return;
    this.signature = sig;
    const atBottom = this.messages.scrollHeight - this.messages.scrollTop - this.messages.clientHeight < 40;
    const peerRead = conv.peer_read_seq ?? 0;
    let lastAgentText = -1;
    messages.forEach((m, i) => {
      if (m.kind === "text" && m.author.kind === "agent") lastAgentText = i;
    });
    const answers = answeredOffers(messages);
    mount(
      this.messages,
      view?.more
        ? h("button", { class: "link", attrs: { type: "button" }, on: { click: () => desk.fetchOlder(this.id) } }, t("loadOlder"))
        : null,
      messages.map((m, i) => this.renderMessage(m, i === lastAgentText && m.seq <= peerRead, answers.get(m.seq))),
      pending.map((p) =>
        h(
          "div",
          { class: "msg agent mine pending" + (p.note ? " note" : ""), attrs: { "data-state": "sending" } },
          h("div", { class: "body" }, p.body),
          attachmentsNode(p.attachments),
          h("div", { class: "meta" }, t("sending")),
        ),
      ),
    );
    if (atBottom || this.messages.dataset.drawn !== "1") this.messages.scrollTop = this.messages.scrollHeight;
    this.messages.dataset.drawn = "1";
  }

  private renderMessage(m: Message, seen: boolean, picked?: number): HTMLElement {
    if (m.kind === "event") {
      return h("div", { class: "event", attrs: { "data-seq": m.seq, "data-event": m.event ?? "" } }, eventText(m), " · ", time(m.ts));
    }
    const mine = m.author.kind === "agent" && m.author.id === this.desk.me.id;
    const classes = ["msg", m.author.kind];
    if (mine) classes.push("mine");
    if (m.kind === "note") classes.push("note");
    const author =
      m.author.kind === "visitor" ? visitorLabel(this.desk, this.desk.summary(this.id), m.author.id) : m.author.name || t("agent");
    // A reply to a proactive message shows what the widget had said, quoted above the visitor's words.
    const proactive = (m.data as { proactive?: { message?: unknown } } | null | undefined)?.proactive;
    return h(
      "div",
      { class: classes.join(" "), attrs: { "data-seq": m.seq, "data-kind": m.kind } },
      typeof proactive?.message === "string"
        ? h("blockquote", { class: "proactive", attrs: { "aria-label": t("answersProactive") } }, h("span", { class: "muted small" }, t("answersProactive") + ": "), proactive.message)
        : null,
      h("div", { class: "author" }, m.kind === "note" ? h("span", { class: "note-badge" }, t("noteBadge")) : null, author),
      choiceNode(m),
      m.body ? h("div", { class: "body" }, m.kind === "note" ? this.noteText(m) : m.body) : null,
      attachmentsNode(m.attachments),
      mediaPending(m) ? h("div", { class: "muted small" }, t("mediaPending")) : null,
      offerNode(m, picked),
      h("div", { class: "meta" }, time(m.ts), seen ? h("span", { class: "seen" }, " · " + t("seen")) : null, this.deliveryNode(m)),
    );
  }

  /** A note's text, the agents it mentions (`data.mentions`) in bold by their current name. */
  private noteText(m: Message): (string | HTMLElement)[] {
    const mentioned = mentionedIds(m.data).map((id) => ({ id, name: displayName({ id, name: this.desk.presence.get(id)?.name }) }));
    return noteBody(m.body, mentioned, this.desk.me.id);
  }

  /** Where an agent's reply stands on the customer's messaging app. */
  private deliveryNode(m: Message): HTMLElement | null {
    if (m.kind !== "text" || m.author.kind !== "agent") return null;
    const state = this.desk.deliveries.get(this.id)?.get(m.seq);
    if (!state) return null;
    return h("span", { class: "delivery", attrs: { "data-delivery": state.state } }, " · " + deliveryText(state));
  }
}

/** A customer's message from a messaging app whose files are still being fetched (an `attachments`
 *  frame brings them; one that cannot be kept leaves a note instead). */
function mediaPending(m: Message): boolean {
  const media = (m.data as { channel?: { media?: unknown[] } } | null | undefined)?.channel?.media;
  return Array.isArray(media) && media.length > (m.attachments?.length ?? 0);
}

/** The furthest a snooze may end: the server's bound (conversations/snooze.py MAX_SNOOZE_MS). */
const SNOOZE_MAX_MS = 366 * 86_400_000;

/** The usual snooze ends, in the agent's own time zone: in an hour, tomorrow at 9:00, next Monday at 9:00. */
export function snoozePresets(now: Date): { key: Key; until: number }[] {
  const at9 = (days: number): number => {
    const d = new Date(now);
    d.setDate(d.getDate() + days);
    d.setHours(9, 0, 0, 0);
    return d.getTime();
  };
  const toMonday = (8 - now.getDay()) % 7 || 7; // Monday after this one when today is a Monday
  return [
    { key: "snoozeHour", until: now.getTime() + 3_600_000 },
    { key: "snoozeTomorrow", until: at9(1) },
    { key: "snoozeNextWeek", until: at9(toMonday) },
  ];
}

/** A date as a `datetime-local` input's value (the agent's local time, to the minute). */
function localInput(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

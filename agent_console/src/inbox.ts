// The inbox page: queues with live counts, search and site filter on the left; chat tabs in the
// middle; the visitor's context on the right.

import { api } from "./api";
import { ChatView, channelLabel, conversationChannel, visitorLabel } from "./chat";
import { renderContext } from "./context";
import { PAPERCLIP_PATH } from "../../widget/src/panel/attachments";
import { h, mount, mountKept, svg } from "./dom";
import { type Desk } from "./desk";
import { dateTime, duration, lang, t, time } from "./i18n";
import { phoneText } from "./i18n_phone";
import { isPhone, type Place, type Screen } from "./phone";
import { dismissAlerts } from "./push";
import { type AgentConversation, isSnoozed } from "./types";
import { inView, SavedViews, type SavedView } from "./views";

export type Queue = "unassigned" | "mine" | "open" | "snoozed" | "closed";
const QUEUES: { id: Queue; label: "unassigned" | "mine" | "allOpen" | "snoozedQueue" | "closed" }[] = [
  { id: "unassigned", label: "unassigned" },
  { id: "mine", label: "mine" },
  { id: "open", label: "allOpen" },
  { id: "snoozed", label: "snoozedQueue" },
  { id: "closed", label: "closed" },
];

export class Inbox {
  readonly root: HTMLElement;
  queue: Queue = "mine";
  site = "";
  private q = "";
  private searchResults: AgentConversation[] | null = null;
  /** Why the closed conversations or the search could not be read from the server, until they are:
   * without it, a failed search read "No conversation matches." and a failed Closed queue was empty. */
  private readonly remoteFailed = new Map<"closed" | "search", string>();
  private searchTimer = 0;
  private readonly queueNav = h("nav", { class: "queues", attrs: { "aria-label": t("inbox") } });
  private readonly queueButtons = new Map<Queue, HTMLButtonElement>();
  private readonly list = h("ul", { class: "conv-list" });
  private readonly team = h("section", { class: "team", attrs: { "aria-label": t("team") } });
  // The open conversations: a list of switches (Alt+1…9), each with its close button. Not an ARIA
  // tablist, whose children may only be tabs.
  private readonly tabsBar = h("ul", { class: "tabs", attrs: { "aria-label": t("openChats") } });
  private readonly chatSlot = h("div", { class: "chat-slot" });
  private readonly context = h("aside", { class: "context", attrs: { "aria-label": t("visitor") } });
  private readonly contextBody = h("div", { class: "context-body" });
  /** Moves between the phone's screens (phone.ts `Navigator.go`); the shell sets it. */
  navigate: (next: Partial<Place>) => void = (next) => this.showScreen(next.screen ?? "list");
  back: (to: Screen) => void = (to) => this.showScreen(to);
  readonly search: HTMLInputElement;
  private readonly siteSelect: HTMLSelectElement;
  private readonly views = new Map<string, ChatView>();
  private loadedVisitor = new Set<string>();
  /** The agent's saved views (views.ts): one chosen replaces the queue in the list. */
  private readonly saved = new SavedViews(() => this.render());

  constructor(private readonly desk: Desk) {
    this.search = h("input", {
      attrs: { type: "search", "aria-label": t("search"), placeholder: t("searchPlaceholder") },
      on: { input: () => this.onSearch() },
    });
    this.siteSelect = h("select", {
      attrs: { "aria-label": t("site") },
      on: {
        change: () => {
          this.site = this.siteSelect.value;
          this.refreshRemote();
          this.render();
        },
      },
    });
    const tp = (key: "backToList" | "backToChat" | "visitorDetails"): string => phoneText(lang, key);
    // Shown on a phone only (phone.css): the way back to the list, and to the visitor's context.
    const chatBar = h(
      "div",
      { class: "phone-bar" },
      h("button", { class: "back", attrs: { type: "button" }, on: { click: () => this.back("list") } }, tp("backToList")),
      h("button", { attrs: { type: "button" }, on: { click: () => this.navigate({ screen: "context" }) } }, tp("visitorDetails")),
    );
    mount(
      this.context,
      h("div", { class: "phone-bar" }, h("button", { class: "back", attrs: { type: "button" }, on: { click: () => this.back("chat") } }, tp("backToChat"))),
      this.contextBody,
    );
    this.root = h(
      "div",
      { class: "inbox", attrs: { "data-screen": "list" } },
      h("aside", { class: "sidebar" }, h("div", { class: "filters" }, this.siteSelect, this.search), this.queueNav, this.saved.root, this.list, this.team),
      h("section", { class: "chats", attrs: { "aria-label": t("chats") } }, h("h1", { class: "sr" }, t("inbox")), chatBar, this.tabsBar, this.chatSlot),
      this.context,
    );
  }

  /** Which pane a phone shows (every pane shows on wider screens). */
  showScreen(screen: Screen): void {
    if (screen !== "list" && !this.desk.active) screen = "list";
    // Back on a phone's list, no conversation is in front of the agent: what arrives counts as unread.
    if (screen === "list" && isPhone() && this.desk.active) {
      this.desk.active = null;
      this.render();
    }
    if (this.root.dataset.screen === screen) return;
    this.root.dataset.screen = screen;
    // Focus follows the screen, so a screen reader and a keyboard land on what is now shown.
    const target = screen === "list" ? this.list.querySelector<HTMLElement>(".conv.active") ?? this.search : screen === "chat" ? this.root.querySelector<HTMLElement>(".chats .phone-bar .back") : this.context.querySelector<HTMLElement>(".back");
    target?.focus({ preventScroll: true });
  }

  // ---- queues ----

  private inQueue(c: AgentConversation, queue: Queue): boolean {
    if (this.site && c.site !== this.site) return false;
    // A snoozed conversation waits in its own list until it comes back (its time, or its visitor).
    const open = c.status === "open" && !isSnoozed(c);
    switch (queue) {
      case "unassigned":
        return open && !c.assignee;
      case "mine":
        return open && c.assignee?.id === this.desk.me.id;
      case "open":
        return open;
      case "snoozed":
        return isSnoozed(c);
      case "closed":
        return c.status === "closed";
    }
  }

  private matches(c: AgentConversation): boolean {
    if (!this.q) return true;
    const q = this.q.toLowerCase();
    const v = c.visitor;
    const last = this.desk.lastOf(c.id);
    return [v?.name, v?.email, this.desk.visitorName(c), last?.body].some((s) => (s ?? "").toLowerCase().includes(q));
  }

  private rows(queue: Queue): AgentConversation[] {
    const byId = new Map<string, AgentConversation>();
    for (const c of this.desk.all()) byId.set(c.id, c);
    // Server-side search also finds older messages' text; live state wins for what we know.
    for (const c of this.searchResults ?? []) if (!byId.has(c.id)) byId.set(c.id, c);
    const rows = [...byId.values()].filter((c) => this.inQueue(c, queue) && (this.matches(c) || this.searchResults?.some((r) => r.id === c.id)));
    if (queue === "unassigned") rows.sort((a, b) => a.created_at - b.created_at); // first come, first served
    else if (queue === "snoozed") rows.sort((a, b) => (a.snoozed_until ?? 0) - (b.snoozed_until ?? 0)); // next back first
    else rows.sort((a, b) => (this.desk.lastOf(b.id)?.ts ?? b.updated_at) - (this.desk.lastOf(a.id)?.ts ?? a.updated_at));
    return rows;
  }

  private viewRows(view: SavedView, site: string): AgentConversation[] {
    const rows = this.desk.all().filter((c) => c.site === site && inView(c, view) && this.matches(c));
    return rows.sort((a, b) => (this.desk.lastOf(b.id)?.ts ?? b.updated_at) - (this.desk.lastOf(a.id)?.ts ?? a.updated_at));
  }

  private onSearch(): void {
    this.q = this.search.value.trim();
    clearTimeout(this.searchTimer);
    this.render();
    this.searchTimer = window.setTimeout(() => this.refreshRemote(), 250);
  }

  /** Closed conversations and full-text search come from the REST API. */
  refreshRemote(): void {
    const site = this.site || null;
    const asked = this.q;
    // Each read clears only its own failure: a search that failed stays said when the Closed queue's
    // read of the same moment worked.
    const failed = (what: "closed" | "search") => (err: unknown): void => {
      if (asked !== this.q) return;
      this.remoteFailed.set(what, t("error", { message: (err as Error).message }));
      this.render();
    };
    const read = (what: "closed" | "search"): void => {
      if (asked !== this.q || !this.remoteFailed.delete(what)) return;
      this.render();
    };
    void this.desk.loadClosed(site, this.q || null).then(() => read("closed"), failed("closed"));
    if (!this.q) {
      this.searchResults = null;
      this.remoteFailed.delete("search");
      return;
    }
    const params = new URLSearchParams({ q: this.q, limit: "100" });
    if (site) params.set("site", site);
    api<{ conversations: AgentConversation[] }>("GET", `/api/conversations?${params}`)
      .then((data) => {
        if (asked !== this.q) return;
        this.searchResults = data.conversations;
        this.desk.remember(data.conversations);
        read("search");
        this.render();
      })
      .catch(failed("search"));
  }

  // ---- chats ----

  open(id: string): void {
    this.desk.open(id);
    this.render();
    dismissAlerts(id);
    this.navigate({ page: "inbox", screen: "chat", conversation: id });
    // On a phone the keyboard would cover the conversation: the reply box is one tap away instead.
    if (!isPhone()) this.views.get(id)?.focus();
  }

  activeView(): ChatView | null {
    return this.desk.active ? (this.views.get(this.desk.active) ?? null) : null;
  }

  step(delta: number): void {
    const tabs = this.desk.tabs;
    if (!tabs.length) return;
    const i = this.desk.active ? tabs.indexOf(this.desk.active) : -1;
    this.open(tabs[(i + delta + tabs.length) % tabs.length]);
  }

  nth(n: number): void {
    const id = this.desk.tabs[n];
    if (id) this.open(id);
  }

  closeActive(): void {
    if (this.desk.active) this.closeTab(this.desk.active);
  }

  private closeTab(id: string): void {
    this.desk.closeTab(id);
    this.views.delete(id);
    this.render();
  }

  // ---- drawing ----

  render(): void {
    const desk = this.desk;
    // Site filter options (sites arrive with the welcome).
    if (this.siteSelect.options.length !== desk.sites.length + 1) {
      mount(
        this.siteSelect,
        h("option", { attrs: { value: "" } }, t("allSites")),
        desk.sites.map((s) => h("option", { attrs: { value: s.key } }, s.name)),
      );
      this.siteSelect.value = this.site;
    }
    // The queue buttons are made once and updated in place: redrawn on every change, one pressed while
    // the inbox redraws lost its click, and the keyboard focus on it went to the page.
    for (const { id, label } of QUEUES) {
      let button = this.queueButtons.get(id);
      if (!button) {
        button = h(
          "button",
          {
            attrs: { type: "button", "data-queue": id },
            on: {
              click: () => {
                this.queue = id;
                this.saved.clear();
                if (id === "closed") this.refreshRemote();
                this.render();
              },
            },
          },
          h("span", { class: "label" }),
          " ",
          h("span", { class: "count" }),
        );
        this.queueButtons.set(id, button);
        this.queueNav.append(button);
      }
      button.className = "queue" + (this.queue === id ? " active" : "");
      button.setAttribute("aria-pressed", this.queue === id ? "true" : "false");
      // Only what changed is written (the language may have, too): the nodes under the pointer stay.
      const texts: [string, string][] = [[".label", t(label)], [".count", String(this.rows(id).length)]];
      for (const [selector, text] of texts) {
        const shown = button.querySelector(selector);
        if (shown && shown.textContent !== text) shown.textContent = text;
      }
    }
    const siteId = desk.sites.find((s) => s.key === this.site)?.id;
    const team = desk.agentsOfSite(siteId).sort((a, b) => (a.name || "").localeCompare(b.name || ""));
    mount(
      this.team,
      h("h3", null, t("team")),
      h(
        "ul",
        null,
        team.map((a) =>
          h(
            "li",
            { attrs: { "data-agent": a.id } },
            h("span", { class: "dot " + a.status, attrs: { title: t(a.status) } }),
            h("span", null, a.name || a.id, a.id === desk.me.id ? ` (${t("me")})` : ""),
            h("span", { class: "load muted small", attrs: { title: t("capacity") } }, `${t(a.status)} · ${a.load}/${a.capacity}`),
          ),
        ),
      ),
    );
    // Views belong to a site: the filtered one, else the first.
    const viewSite = this.site || desk.sites[0]?.key || "";
    void this.saved.load(viewSite).catch(() => undefined);
    const rows = this.saved.active ? this.viewRows(this.saved.active, viewSite) : this.rows(this.queue);
    const failure = this.remoteFailed.get("search") ?? this.remoteFailed.get("closed");
    const listed = rows.length ? rows.map((c, i) => this.renderRow(c, i)) : failure ? [] : [this.emptyList()];
    if (failure) listed.unshift(h("li", { class: "empty form-error", attrs: { role: "alert" } }, failure));
    mountKept(this.list, listed);

    mountKept(
      this.tabsBar,
      desk.tabs.map((id, i) => {
        const conv = desk.summary(id);
        const unread = desk.unreadOf(id);
        const active = desk.active === id;
        return h(
          "li",
          { class: "tab" + (active ? " active" : ""), attrs: { "data-conversation": id } },
          h(
            "button",
            {
              class: "tab-open",
              attrs: { type: "button", "aria-current": active ? "true" : null, title: `Alt+${i + 1}` },
              on: { click: () => this.open(id) },
            },
            visitorLabel(desk, conv),
            unread && !active ? h("span", { class: "badge unread", attrs: { "aria-label": t("unreadCount", { n: unread }) } }, String(unread)) : null,
            desk.mentionedIn.has(id) ? mentionBadge() : null,
            desk.isTyping(id) !== null ? h("span", { class: "dots", attrs: { "aria-hidden": "true" } }, " …") : null,
          ),
          h("button", { class: "tab-close", attrs: { type: "button", "aria-label": t("closeTab") }, on: { click: () => this.closeTab(id) } }, "×"),
        );
      }),
    );

    const active = desk.active;
    if (!active) {
      this.root.dataset.screen = "list";
      mount(this.chatSlot, h("p", { class: "placeholder muted" }, t("noChatOpen")));
      mount(this.contextBody);
      return;
    }
    let view = this.views.get(active);
    if (!view) {
      view = new ChatView(desk, active);
      this.views.set(active, view);
    }
    if (this.chatSlot.firstChild !== view.root) mount(this.chatSlot, view.root);
    view.update();
    const conv = desk.summary(active);
    const vid = conv?.visitor?.id;
    if (vid && !this.loadedVisitor.has(vid + active)) {
      this.loadedVisitor.add(vid + active);
      void desk.loadVisitor(vid);
    }
    renderContext(this.contextBody, desk, conv, (id) => this.open(id));
  }

  /** An empty queue. While searching, it says where the matches are instead (a hit under Closed
   * must not look like no hit at all), with a button to go there. */
  private emptyList(): HTMLElement {
    if (!this.q) return h("li", { class: "empty muted" }, t("noConversations"));
    const elsewhere = QUEUES.filter(({ id }) => id !== this.queue && id !== "open")
      .map((q) => ({ ...q, n: this.rows(q.id).length }))
      .filter((q) => q.n > 0);
    if (!elsewhere.length) return h("li", { class: "empty muted", attrs: { role: "status" } }, t("searchNowhere"));
    return h(
      "li",
      { class: "empty search-elsewhere", attrs: { role: "status" } },
      h("span", { class: "muted" }, t("noConversations")),
      elsewhere.map(({ id, label, n }) =>
        h(
          "button",
          {
            class: "link",
            attrs: { type: "button" },
            on: {
              click: () => {
                this.queue = id;
                this.render();
              },
            },
          },
          t("searchElsewhere", { queue: t(label), n }),
        ),
      ),
    );
  }

  private renderRow(c: AgentConversation, index: number): HTMLElement {
    const desk = this.desk;
    const last = desk.lastOf(c.id);
    const shown = desk.previewOf(c.id);
    const unread = desk.unreadOf(c.id);
    const site = desk.siteOf(c);
    const snoozed = isSnoozed(c);
    const waiting = !c.assignee && c.status === "open" && !snoozed;
    // A message that is only files previews as their names, after a paperclip.
    const onlyFiles = !!shown && !shown.body && (shown.attachments ?? []).length > 0;
    const said = shown ? shown.body || (shown.attachments ?? []).map((a) => a.name).join(", ") : "";
    const preview = shown ? (shown.kind === "note" ? `${t("noteBadge")}: ` : "") : "";
    return h(
      "li",
      null,
      h(
        "button",
        {
          class: "conv" + (desk.active === c.id ? " active" : "") + (unread ? " has-unread" : ""),
          attrs: { type: "button", "data-conversation": c.id },
          on: { click: () => this.open(c.id) },
        },
        h(
          "div",
          { class: "conv-top" },
          h("span", { class: "conv-name" }, visitorLabel(desk, c)),
          conversationChannel(desk, c) !== "web"
            ? h("span", { class: "channel-badge small", attrs: { "data-channel": conversationChannel(desk, c) } }, channelLabel(conversationChannel(desk, c)))
            : null,
          unread ? h("span", { class: "badge unread" }, String(unread)) : null,
          desk.mentionedIn.has(c.id) ? mentionBadge() : null,
          h("span", { class: "muted small" }, time(last?.ts ?? c.updated_at)),
        ),
        h("div", { class: "conv-preview" }, preview, onlyFiles ? paperclip() : null, said.slice(0, 120)),
        h(
          "div",
          { class: "conv-meta muted small" },
          desk.sites.length > 1 && site ? site.name + " · " : "",
          snoozed ? t("snoozedUntil", { time: dateTime(c.snoozed_until ?? 0) }) + " · " : "",
          waiting
            ? `${t("queuePosition", { n: index + 1 })} · ${t("waiting", { time: duration((Date.now() - c.created_at) / 1000) })}`
            : c.assignee
              ? t("assignedTo", { name: c.assignee.id === desk.me.id ? t("me") : c.assignee.name })
              : "",
          (c.labels ?? []).length ? " · " + (c.labels ?? []).join(", ") : "",
        ),
      ),
    );
  }
}

/** A note mentioned me in this conversation, and I have not opened it since. */
function mentionBadge(): HTMLElement {
  const label = t("mentionedBadge");
  return h("span", { class: "badge mention", attrs: { role: "img", "aria-label": label, title: label } }, "@");
}

function paperclip(): SVGElement {
  return svg(
    "svg",
    { viewBox: "0 0 24 24", width: 13, height: 13, "aria-hidden": "true", class: "clip" },
    svg("path", {
      fill: "none",
      stroke: "currentColor",
      "stroke-width": 2,
      "stroke-linecap": "round",
      "stroke-linejoin": "round",
      d: PAPERCLIP_PATH,
    }),
  );
}

// The console's entry point: sign-in (or an invitation), then the shell — header with navigation and
// the agent's status, the inbox, site settings, reports and account pages, shortcuts and attention.

import { api, ApiError } from "./api";
import { askNotifications, chime, notificationsAvailable, notificationTitle, notify, setTitleCount, unlockSound } from "./attention";
import { visitorLabel } from "./chat";
import { Desk, forgetLocal, type Me } from "./desk";
import { h, mount } from "./dom";
import { statusLine } from "./form_status";
import { LANGS, lang, setLang, t } from "./i18n";
import { Inbox } from "./inbox";
import { renderAdmin } from "./admin";
import { renderReports } from "./reports";
import { mt, renderModeration } from "./moderation";
import { mySitesSection } from "./team";
import type { AgentStatus } from "./types";
import { phoneText } from "./i18n_phone";
import { conversationInHash, Navigator, type PageName, type Place } from "./phone";
import { forgetThisDevice, notificationsSection, registerWorker, rememberLanguage } from "./push";

const root = document.getElementById("app") ?? document.body;

function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === "locked") return t("locked");
    if (err.code === "busy") return t("busy");
    if (err.code === "rate_limited") return t("tooManyFromHere");
    if (err.code === "network") return t("networkError");
    return err.message;
  }
  return String(err);
}

// ---- sign-in ----

function showLogin(message = ""): void {
  setTitleCount(0);
  const email = h("input", { attrs: { type: "email", name: "email", id: "login-email", autocomplete: "username", required: true } });
  const password = h("input", {
    attrs: { type: "password", name: "password", id: "login-password", autocomplete: "current-password", required: true },
  });
  const status = h("p", { class: "form-error", attrs: { role: "alert" } }, message);
  const button = h("button", { class: "primary", attrs: { type: "submit" } }, t("signIn"));
  const form = h(
    "form",
    {
      class: "card login",
      on: {
        submit: (e) => {
          e.preventDefault();
          button.disabled = true;
          status.textContent = "";
          api("POST", "/api/login", { email: email.value, password: password.value })
            .then(() => boot())
            .catch((err: unknown) => {
              button.disabled = false;
              status.textContent = err instanceof ApiError && err.code === "unauthorized" ? t("wrongLogin") : errorText(err);
            });
        },
      },
    },
    h("h1", null, t("appName")),
    h("label", { attrs: { for: "login-email" } }, t("email")),
    email,
    h("label", { attrs: { for: "login-password" } }, t("password")),
    password,
    status,
    button,
    h(
      "button",
      {
        class: "link",
        attrs: { type: "button" },
        on: {
          click: () => {
            if (!email.value.trim()) {
              status.textContent = t("emailFirst");
              email.focus();
              return;
            }
            // The same answer whatever the address (docs/rest-api.md, "Forgotten password").
            api("POST", "/api/password/forgot", { email: email.value.trim() })
              .then(() => {
                status.textContent = t("resetSent");
              })
              .catch((err: unknown) => {
                status.textContent = errorText(err);
              });
          },
        },
      },
      t("forgotPassword"),
    ),
    langPicker(() => showLogin()),
  );
  mount(root, h("main", { class: "center" }, form));
  email.focus();
}

/** The mail I want from Papote: "a conversation is waiting" (on by default). */
function mailSection(): HTMLElement {
  const box = h("input", { attrs: { type: "checkbox", id: "mail-waiting" } });
  const status = statusLine();
  box.disabled = true;
  api<{ waiting: boolean }>("GET", "/api/me/mail")
    .then((prefs) => {
      box.checked = prefs.waiting;
      box.disabled = false;
    })
    .catch((err: unknown) => {
      status.textContent = errorText(err);
    });
  box.addEventListener("change", () => {
    api<{ waiting: boolean }>("PATCH", "/api/me/mail", { waiting: box.checked })
      .then((prefs) => {
        box.checked = prefs.waiting;
        status.textContent = t("saved");
      })
      .catch((err: unknown) => {
        box.checked = !box.checked; // not saved: the box shows what is
        status.textContent = errorText(err);
      });
  });
  return h(
    "section",
    { class: "card", attrs: { "aria-labelledby": "mail-title" } },
    h("h2", { attrs: { id: "mail-title" } }, t("mailTitle")),
    h("label", { attrs: { for: "mail-waiting" } }, box, " ", t("waitingMail")),
    status,
  );
}

function langPicker(redraw: () => void): HTMLElement {
  const select = h(
    "select",
    {
      attrs: { "aria-label": t("interfaceLanguage") },
      on: {
        change: () => {
          setLang(select.value);
          rememberLanguage();
          redraw();
        },
      },
    },
    LANGS.map((l) => h("option", { attrs: { value: l }, props: { selected: l === lang } }, l === "en" ? "English" : "Français")),
  );
  return h("label", { class: "lang" }, t("interfaceLanguage"), " ", select);
}

// ---- invitation (#invite=TOKEN) ----

function inviteToken(): string | null {
  const m = /(?:^#|&)invite=([A-Za-z0-9_-]+)/.exec(location.hash);
  return m ? m[1] : null;
}

async function showInvite(token: string): Promise<void> {
  let info: { email: string; role: string; site: string };
  try {
    info = await api("POST", "/api/invites/inspect", { token });
  } catch (err) {
    const refused = err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429;
    if (!refused) {
      // The network, the server or a rate limit: the link may well be good. It stays in the address
      // bar, so that a reload tries it again.
      showLogin(errorText(err));
      return;
    }
    history.replaceState(null, "", location.pathname);
    showLogin(t("inviteInvalid"));
    return;
  }
  // Whether the email has an account is not told (nobody may probe emails with invitations): the
  // person says so, and the server checks the password of an existing account.
  const name = h("input", { attrs: { type: "text", id: "invite-name", autocomplete: "name", maxlength: 120 } });
  const password = h("input", {
    attrs: { type: "password", id: "invite-password", autocomplete: "new-password", minlength: 8, required: true },
  });
  const nameField = h("div", { class: "field" }, h("label", { attrs: { for: "invite-name" } }, t("yourName")), name);
  const existing = h("input", {
    attrs: { type: "checkbox", id: "invite-existing" },
    on: {
      change: () => {
        nameField.hidden = existing.checked;
        password.autocomplete = existing.checked ? "current-password" : "new-password";
      },
    },
  });
  const status = h("p", { class: "form-error", attrs: { role: "alert" } });
  const form = h(
    "form",
    {
      class: "card login",
      on: {
        submit: (e) => {
          e.preventDefault();
          api("POST", "/api/invites/accept", existing.checked ? { token, password: password.value } : { token, name: name.value, password: password.value })
            .then(() => {
              history.replaceState(null, "", location.pathname);
              return boot();
            })
            .catch((err: unknown) => {
              status.textContent = errorText(err);
            });
        },
      },
    },
    h("h1", null, t("invitation")),
    h("p", null, t("inviteFor", { site: info.site, role: info.role })),
    h("p", { class: "muted" }, info.email),
    h("label", { class: "check" }, existing, " ", t("haveAccount")),
    nameField,
    h("label", { attrs: { for: "invite-password" } }, t("password")),
    password,
    status,
    h("button", { class: "primary", attrs: { type: "submit" } }, t("acceptInvite")),
  );
  mount(root, h("main", { class: "center" }, form));
}

// ---- the shell ----

class Shell {
  readonly desk: Desk;
  readonly inbox: Inbox;
  page: PageName = "inbox";
  private readonly main = h("main", { class: "page" });
  private readonly nav = h("nav", { class: "top-nav", attrs: { "aria-label": phoneText(lang, "mainNav") } });
  private readonly navigator: Navigator;
  private drawnPage: PageName | null = null;
  private readonly statusBox = h("div", { class: "status-box" });
  private readonly banner = h("div", { class: "banner", attrs: { role: "status", hidden: true } });
  private readonly toasts = h("div", { class: "toasts", attrs: { "aria-live": "assertive" } });
  private readonly help: HTMLElement;
  private scheduled = false;
  private leaving = false;
  private everOpen = false;

  constructor(me: Me) {
    this.desk = new Desk(me, {
      change: () => this.schedule(),
      message: (m, conv) => {
        const mineOrQueue = !conv?.assignee || conv.assignee.id === this.desk.me.id;
        if (!mineOrQueue || m.kind !== "text") return;
        chime();
        notify(notificationTitle("message", visitorLabel(this.desk, conv)), m.body, m.conversation, () => this.openChat(m.conversation));
      },
      conversation: (conv, reason) => {
        if (reason === "assigned" || !conv.assignee) {
          chime();
          const last = this.desk.lastOf(conv.id);
          notify(notificationTitle("new", ""), `${visitorLabel(this.desk, conv)}: ${last?.body ?? ""}`, conv.id, () => this.openChat(conv.id));
        }
      },
      mentioned: (f) => {
        chime();
        notify(t("mentionedYou", { name: f.by.name || t("agent") }), f.body, f.conversation, () => this.openChat(f.conversation));
      },
      error: (_code, message) => this.toast(message),
      ended: () => {
        if (this.leaving) return;
        this.desk.stop();
        showLogin(t("sessionEnded"));
      },
    });
    this.inbox = new Inbox(this.desk);
    this.navigator = new Navigator((place) => this.show(place));
    this.inbox.navigate = (next) => this.navigator.go(next);
    this.inbox.back = (to) => this.navigator.back(to);
    this.help = this.buildHelp();
    mount(
      root,
      h("header", { class: "top" }, h("strong", { class: "brand" }, t("appName")), this.nav, this.statusBox),
      this.banner,
      this.main,
      this.help,
      this.toasts,
    );
    document.addEventListener("keydown", (e) => this.onKey(e));
    document.addEventListener("pointerdown", () => unlockSound(), { once: true });
    document.addEventListener("keydown", () => unlockSound(), { once: true });
    window.addEventListener("focus", () => {
      if (this.desk.active && this.page === "inbox") this.desk.markRead(this.desk.active);
      this.schedule();
    });
    document.addEventListener("visibilitychange", () => this.schedule());
    // Waiting times in the queue tick even when nothing else happens.
    setInterval(() => this.schedule(), 30_000);
    this.desk.start();
    this.inbox.refreshRemote();
    // A notification's link (or one an agent shared) names a conversation: open it.
    const wanted = conversationInHash();
    this.navigator.start({ page: "inbox", screen: "list", conversation: null });
    if (wanted) this.openChat(wanted);
    window.addEventListener("hashchange", () => {
      const id = conversationInHash();
      if (id) this.openChat(id);
    });
  }

  openChat(id: string): void {
    if (conversationInHash()) this.navigator.adoptEntry();
    this.inbox.open(id);
  }

  /** A move to another page, recorded in history (phone.ts). */
  go(page: PageName): void {
    this.navigator.go({ page });
  }

  /** Draws a place: the page, and on the inbox the screen and conversation a phone shows. */
  private show(place: Place): void {
    const page = place.page;
    this.page = page;
    if (page !== "inbox" || this.drawnPage !== "inbox") {
      if (page === "inbox") mount(this.main, this.inbox.root);
      else if (page === "admin") void renderAdmin(this.main, this.desk);
      else if (page === "reports") void renderReports(this.main, this.desk);
      else if (page === "moderation") void renderModeration(this.main, this.desk);
      else this.renderAccount();
    }
    this.drawnPage = page;
    if (page === "inbox") {
      if (place.screen !== "list" && place.conversation && this.desk.active !== place.conversation) this.desk.open(place.conversation);
      this.inbox.render();
      this.inbox.showScreen(place.screen);
    }
    this.render();
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.render();
    }, 0);
  }

  render(): void {
    const desk = this.desk;
    const canManage = desk.sites.some((s) => s.role !== "agent");
    const pages: [PageName, string][] = [
      ["inbox", t("inbox")],
      ["reports", t("reports")],
      ["moderation", mt("moderation")],
      ...(canManage ? ([["admin", t("admin")]] as [PageName, string][]) : []),
      ["account", t("account")],
    ];
    mount(
      this.nav,
      pages.map(([id, label]) =>
        h(
          "button",
          { class: "nav" + (this.page === id ? " active" : ""), attrs: { type: "button", "aria-current": this.page === id ? "page" : null }, on: { click: () => this.go(id) } },
          label,
        ),
      ),
    );
    this.renderStatus();
    const open = desk.online;
    if (open) this.everOpen = true;
    this.banner.hidden = open || !this.everOpen;
    this.banner.textContent = t("reconnecting");
    let count = 0;
    for (const c of desk.all()) {
      if (c.status !== "open") continue;
      if (!c.assignee || c.assignee.id === desk.me.id) count += desk.unreadOf(c.id);
    }
    setTitleCount(count);
    if (this.page === "inbox") this.inbox.render();
  }

  private statusDrawn = "";

  private renderStatus(): void {
    const me = this.desk.me;
    const sig = `${me.status}|${me.capacity}|${lang}|${notificationsAvailable()}`;
    if (sig === this.statusDrawn) return;
    this.statusDrawn = sig;
    const select = h(
      "select",
      {
        class: "status-select status-" + me.status,
        attrs: { "aria-label": t("status") },
        on: { change: () => this.desk.setStatus(select.value as AgentStatus) },
      },
      (["online", "away", "offline"] as const).map((s) => h("option", { attrs: { value: s }, props: { selected: s === me.status } }, t(s))),
    );
    const capacity = h("input", {
      class: "capacity",
      attrs: { type: "number", min: 1, max: 50, "aria-label": t("capacity"), title: t("capacity") },
      props: { value: String(me.capacity) },
      on: {
        change: () => {
          const n = Math.max(1, Math.min(50, Number(capacity.value) || 1));
          this.desk.setStatus(this.desk.me.status, n);
        },
      },
    });
    mount(
      this.statusBox,
      h("span", { class: "me" }, me.name),
      select,
      // On a phone these live on the account page (phone.css hides them here).
      h("label", { class: "cap-label desk-only" }, t("capacity"), " ", capacity),
      notificationsAvailable()
        ? h("button", { class: "desk-only", attrs: { type: "button" }, on: { click: () => void askNotifications().then(() => ((this.statusDrawn = ""), this.render())) } }, t("enableNotifications"))
        : null,
      h("button", { class: "desk-only", attrs: { type: "button", "aria-label": t("shortcuts") }, on: { click: () => this.toggleHelp() } }, "?"),
      h("button", { class: "desk-only", attrs: { type: "button" }, on: { click: () => void this.logout() } }, t("signOut")),
    );
  }

  private async logout(): Promise<void> {
    this.leaving = true;
    // This browser stops alerting the agent who leaves it; a slow answer must not hold the sign-out.
    await Promise.race([forgetThisDevice().catch(() => undefined), new Promise((done) => setTimeout(done, 3_000))]);
    try {
      await api("POST", "/api/logout", {});
    } catch {
      // Signed out locally whatever the server says.
    }
    this.desk.stop();
    forgetLocal(this.desk.me.id);
    showLogin();
  }

  toast(message: string): void {
    const el = h("div", { class: "toast" }, message);
    this.toasts.append(el);
    setTimeout(() => el.remove(), 5_000);
  }

  // ---- keyboard ----

  private buildHelp(): HTMLElement {
    const rows: [string, string][] = [
      ["Alt + ↓", t("scNext")],
      ["Alt + ↑", t("scPrev")],
      ["Alt + 1…9", t("scNth")],
      ["Alt + W", t("scCloseTab")],
      ["Alt + K", t("scSearch")],
      ["Alt + N", t("scNote")],
      ["Alt + C", t("scClaim")],
      ["Enter", t("scSend")],
      ["Shift + Enter", t("scNewline")],
      ["/", t("scCanned")],
      ["@", t("scMention")],
      ["?", t("scHelp")],
    ];
    return h(
      "div",
      { class: "overlay", attrs: { role: "dialog", "aria-modal": "true", "aria-label": t("shortcuts"), hidden: true }, on: { click: (e) => e.target === this.help && this.toggleHelp(false) } },
      h(
        "div",
        { class: "card" },
        h("h2", null, t("shortcuts")),
        h("table", { class: "shortcuts" }, rows.map(([keys, what]) => h("tr", null, h("td", null, h("kbd", null, keys)), h("td", null, what)))),
        h("button", { attrs: { type: "button" }, on: { click: () => this.toggleHelp(false) } }, t("close")),
      ),
    );
  }

  private focusBeforeHelp: HTMLElement | null = null;

  toggleHelp(show?: boolean): void {
    const showing = show === undefined ? this.help.hidden : show;
    this.help.hidden = !showing;
    // Focus goes into the dialog and back where it was, so keyboard users are never lost.
    if (showing) {
      this.focusBeforeHelp = document.activeElement as HTMLElement | null;
      this.help.querySelector("button")?.focus();
    } else {
      this.focusBeforeHelp?.focus();
      this.focusBeforeHelp = null;
    }
  }

  private onKey(e: KeyboardEvent): void {
    const target = e.target as HTMLElement | null;
    const typing = !!target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable);
    if (e.key === "Escape" && !this.help.hidden) {
      this.toggleHelp(false);
      return;
    }
    if (e.key === "?" && !typing && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      this.toggleHelp();
      return;
    }
    if (!e.altKey || e.ctrlKey || e.metaKey) return;
    const inbox = this.inbox;
    let handled = true;
    // `code` rather than `key`: Alt+digit types a character on macOS and some layouts.
    if (e.code === "ArrowDown") inbox.step(1);
    else if (e.code === "ArrowUp") inbox.step(-1);
    else if (/^Digit[1-9]$/.test(e.code)) inbox.nth(Number(e.code.slice(5)) - 1);
    else if (e.code === "KeyW") inbox.closeActive();
    else if (e.code === "KeyK") {
      this.go("inbox");
      inbox.search.focus();
    } else if (e.code === "KeyN") inbox.activeView()?.toggleNote();
    else if (e.code === "KeyC") inbox.activeView()?.claim();
    else handled = false;
    if (handled) {
      e.preventDefault();
      if (this.page !== "inbox") this.go("inbox");
    }
  }

  // ---- account ----

  /** Display name (what visitors see on replies), avatar and default capacity. */
  private profileForm(): HTMLElement {
    const me = this.desk.me;
    const name = h("input", { attrs: { type: "text", id: "me-name", maxlength: 80, required: true }, props: { value: me.name } });
    const avatar = h("input", { attrs: { type: "url", id: "me-avatar", placeholder: "https://…" }, props: { value: me.avatar ?? "" } });
    const status = statusLine();
    return h(
      "form",
      {
        class: "card",
        on: {
          submit: (e) => {
            e.preventDefault();
            api<{ agent: Me }>("PATCH", "/api/me", { name: name.value.trim(), avatar: avatar.value.trim() || null })
              .then((data) => {
                this.desk.me = { ...this.desk.me, name: data.agent.name, avatar: data.agent.avatar };
                this.statusDrawn = "";
                this.render();
                status.textContent = t("saved");
              })
              .catch((err: unknown) => {
                status.textContent = errorText(err);
              });
          },
        },
      },
      h("h2", null, t("profile")),
      h("label", { attrs: { for: "me-name" } }, t("yourName")),
      name,
      h("label", { attrs: { for: "me-avatar" } }, t("avatar")),
      avatar,
      status,
      h("button", { class: "primary", attrs: { type: "submit" } }, t("save")),
    );
  }

  /** On a phone, what the header keeps on wider screens: capacity and sign-out (phone.css shows it). */
  private sessionCard(): HTMLElement {
    const me = this.desk.me;
    const capacity = h("input", {
      attrs: { type: "number", id: "session-capacity", min: 1, max: 50 },
      props: { value: String(me.capacity) },
      on: { change: () => this.desk.setStatus(this.desk.me.status, Math.max(1, Math.min(50, Number(capacity.value) || 1))) },
    });
    return h(
      "section",
      { class: "card phone-only", attrs: { "aria-labelledby": "session-title" } },
      h("h2", { attrs: { id: "session-title" } }, phoneText(lang, "statusAndSession")),
      h("label", { attrs: { for: "session-capacity" } }, t("capacity")),
      capacity,
      h("button", { attrs: { type: "button" }, on: { click: () => void this.logout() } }, t("signOut")),
    );
  }

  private renderAccount(): void {
    const sites = h("div");
    const current = h("input", { attrs: { type: "password", id: "pw-current", autocomplete: "current-password" } });
    const fresh = h("input", { attrs: { type: "password", id: "pw-new", autocomplete: "new-password", minlength: 8 } });
    const status = h("p", { class: "form-error", attrs: { role: "alert" } });
    mount(
      this.main,
      h(
        "div",
        { class: "narrow" },
        h("h1", null, t("account")),
        h("p", null, `${this.desk.me.name} <${this.desk.me.email}>`),
        langPicker(() => {
          this.statusDrawn = "";
          this.go("account");
        }),
        this.sessionCard(),
        this.profileForm(),
        notificationsSection(),
        mailSection(),
        h(
          "form",
          {
            class: "card",
            on: {
              submit: (e) => {
                e.preventDefault();
                // The other sessions end; this one goes on (docs/accounts.md).
                api("POST", "/api/me/password", { current: current.value, new: fresh.value })
                  .then(() => {
                    current.value = fresh.value = "";
                    status.classList.remove("form-error");
                    status.textContent = t("passwordKept");
                  })
                  .catch((err: unknown) => {
                    status.classList.add("form-error");
                    status.textContent = errorText(err);
                  });
              },
            },
          },
          h("h2", null, t("changePassword")),
          h("label", { attrs: { for: "pw-current" } }, t("currentPassword")),
          current,
          h("label", { attrs: { for: "pw-new" } }, t("newPassword")),
          fresh,
          status,
          h("button", { class: "primary", attrs: { type: "submit" } }, t("changePassword")),
        ),
        sites,
      ),
    );
    void mySitesSection(this.desk.me, () => this.render()).then((section) => mount(sites, section));
  }
}

let shell: Shell | null = null;

registerWorker((conversation) => shell?.openChat(conversation));

async function boot(): Promise<void> {
  document.documentElement.lang = lang;
  const token = inviteToken();
  if (token) {
    await showInvite(token);
    return;
  }
  let me: { agent: Me };
  try {
    me = await api<{ agent: Me }>("GET", "/api/me");
  } catch (err) {
    showLogin(err instanceof ApiError && err.status === 401 ? "" : errorText(err));
    return;
  }
  shell?.desk.stop();
  shell = new Shell(me.agent);
  (window as unknown as { papoteConsole: Shell }).papoteConsole = shell;
}

void boot();

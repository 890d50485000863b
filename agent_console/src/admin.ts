// Site settings for owners and admins: the widget's look and behaviour, the snippet, identity
// secrets, agents and invitations, canned responses, API keys, webhooks (webhooks.ts) and messaging
// channels (channels.ts). Each section saves on its own.

import { api } from "./api";
import { channelsSection } from "./channels";
import { type BotSetting, botSection } from "./bot_editor";
import { type Group, type Prechat, prechatSection } from "./prechat_editor";
import { field, h, mount } from "./dom";
import { moderationSettings, type ModerationSettings } from "./moderation";
import { type Desk } from "./desk";
import { t } from "./i18n";
import { type AgentRow, type Invitation, teamSection } from "./team";
import { auditSection, type PrivacySettings, privacySettings } from "./privacy";
import { type Translation, translationsEditor } from "./texts";
import type { CannedResponse } from "./types";
import { webhooksSection } from "./webhooks";

interface SiteFull {
  id: string;
  key: string;
  name: string;
  origins: string[];
  secrets?: string[];
  settings: {
    color: string;
    position: "left" | "right";
    greeting: string;
    away?: string;
    translations?: Record<string, Translation>;
    reply_time: number;
    locale: string;
    hours: { tz: string; days: Record<string, [string, string][]> } | null;
    launcher_icon: string | null;
    custom_css: string;
    rules: unknown[];
    storage: "consent" | "always";
    routing: "auto" | "manual";
    after_hours: "away" | "online";
    theme: "auto" | "light" | "dark";
    attachments_types?: string[];
    attachments_max_mb?: number;
    email_continuation: boolean;
    email_delay: number;
    email_foreign_sender: "flag" | "refuse";
    bot?: BotSetting;
    prechat?: Prechat;
    groups?: Group[];
  } & PrivacySettings;
  /** Whether this server sends email at all (a relay is configured). */
  email_available?: boolean;
}


const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
let current = "";

function note(): HTMLElement {
  return h("p", { class: "form-status", attrs: { role: "status" } });
}

function fail(status: HTMLElement, err: unknown): void {
  status.textContent = t("error", { message: (err as Error).message });
  status.classList.add("form-error");
}

function ok(status: HTMLElement, text = t("saved")): void {
  status.textContent = text;
  status.classList.remove("form-error");
}

export async function renderAdmin(main: HTMLElement, desk: Desk): Promise<void> {
  const manageable = desk.sites.filter((s) => s.role !== "agent");
  if (!manageable.some((s) => s.key === current)) current = manageable[0]?.key ?? "";
  if (!current) {
    mount(main, h("p", null, "—"));
    return;
  }
  const path = `/api/sites/${encodeURIComponent(current)}`;
  let loaded: [SiteFull, { agents: AgentRow[] }, { canned: CannedResponse[] }, { keys: { id: string; name: string; created_at: number }[] }, { snippet: string }, { invites: Invitation[] }];
  try {
    loaded = await Promise.all([
      api<SiteFull>("GET", path),
      api<{ agents: AgentRow[] }>("GET", path + "/agents"),
      api<{ canned: CannedResponse[] }>("GET", path + "/canned"),
      api<{ keys: { id: string; name: string; created_at: number }[] }>("GET", path + "/keys").catch(() => ({ keys: [] })),
      api<{ snippet: string }>("GET", path + "/snippet"),
      api<{ invites: Invitation[] }>("GET", path + "/invites"),
    ]);
  } catch (err) {
    mount(main, h("p", { class: "form-error" }, t("error", { message: (err as Error).message })));
    return;
  }
  const [site, agentsData, cannedData, keysData, snippetData, invitesData] = loaded;
  const myRole = manageable.find((s) => s.key === current)?.role ?? "agent";
  const redraw = (): void => void renderAdmin(main, desk);
  const picker = h(
    "select",
    { attrs: { "aria-label": t("site") }, on: { change: () => ((current = picker.value), redraw()) } },
    manageable.map((s) => h("option", { attrs: { value: s.key }, props: { selected: s.key === current } }, s.name)),
  );
  mount(
    main,
    h(
      "div",
      { class: "admin" },
      h("h1", null, t("admin")),
      manageable.length > 1 ? picker : null,
      settingsForm(site, path),
      botSection(site.settings.bot, path),
      prechatSection(site.settings.prechat, site.settings.groups, agentsData.agents, path),
      snippetSection(snippetData.snippet),
      secretsSection(site, path),
      teamSection(agentsData.agents, invitesData.invites, path, { id: desk.me.id, role: myRole }, redraw),
      cannedSection(cannedData.canned, path, desk, redraw),
      keysSection(keysData.keys, path, redraw),
      webhooksSection(path),
      myRole === "owner" ? auditSection(path, desk) : null,
      channelsSection(path),
    ),
  );
}

function settingsForm(site: SiteFull, path: string): HTMLElement {
  const s = site.settings;
  const name = h("input", { attrs: { type: "text", maxlength: 120, required: true }, props: { value: site.name } });
  const origins = h("textarea", { attrs: { rows: 3 }, props: { value: site.origins.join("\n") } });
  const color = h("input", { attrs: { type: "color" }, props: { value: s.color } });
  const position = h(
    "select",
    null,
    (["right", "left"] as const).map((p) => h("option", { attrs: { value: p }, props: { selected: s.position === p } }, t(p))),
  );
  const theme = h(
    "select",
    null,
    (["auto", "light", "dark"] as const).map((v) =>
      h("option", { attrs: { value: v }, props: { selected: s.theme === v } }, t(v === "auto" ? "themeAuto" : v === "light" ? "themeLight" : "themeDark")),
    ),
  );
  const greeting = h("textarea", { attrs: { rows: 2, maxlength: 500 }, props: { value: s.greeting } });
  const away = h("textarea", { attrs: { rows: 2, maxlength: 500, "aria-describedby": "site-away-help" }, props: { value: s.away ?? "" } });
  const icon = h("input", { attrs: { type: "url", placeholder: "https://…" }, props: { value: s.launcher_icon ?? "" } });
  const css = h("textarea", { class: "code", attrs: { rows: 4 }, props: { value: s.custom_css } });
  const locale = h(
    "select",
    null,
    [
      ["auto", t("auto")],
      ["en", "English"],
      ["fr", "Français"],
    ].map(([v, label]) => h("option", { attrs: { value: v }, props: { selected: s.locale === v } }, label)),
  );
  const replyTime = h("input", { attrs: { type: "number", min: 0, max: 10080 }, props: { value: String(Math.round(s.reply_time / 60)) } });
  const alwaysOpen = h("input", { attrs: { type: "checkbox" }, props: { checked: !s.hours } });
  const [tz, zones] = timeZoneInput(s.hours?.tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone);
  const week = hoursEditor(s.hours?.days ?? {});
  const rules = rulesEditor(s.rules as Rule[]);
  const translations = translationsEditor(s.translations ?? {}, s.rules as Rule[]);
  const storage = h(
    "select",
    null,
    h("option", { attrs: { value: "consent" }, props: { selected: s.storage === "consent" } }, t("storageConsent")),
    h("option", { attrs: { value: "always" }, props: { selected: s.storage === "always" } }, t("storageAlways")),
  );
  const routing = h(
    "select",
    null,
    h("option", { attrs: { value: "auto" }, props: { selected: s.routing === "auto" } }, t("routingAuto")),
    h("option", { attrs: { value: "manual" }, props: { selected: s.routing === "manual" } }, t("routingManual")),
  );
  const afterHours = h(
    "select",
    null,
    h("option", { attrs: { value: "away" }, props: { selected: s.after_hours !== "online" } }, t("afterHoursAway")),
    h("option", { attrs: { value: "online" }, props: { selected: s.after_hours === "online" } }, t("afterHoursOnline")),
  );
  const categories = [
    ["image", t("catImage")],
    ["pdf", t("catPdf")],
    ["text", t("catText")],
    ["office", t("catOffice")],
  ] as const;
  const allowed = new Set(s.attachments_types ?? ["image", "pdf", "text", "office"]);
  const fileTypes = categories.map(([v, label]) => {
    const box = h("input", { attrs: { type: "checkbox", value: v }, props: { checked: allowed.has(v) } });
    return { value: v, box, label: h("label", null, box, " ", label) };
  });
  const maxMb = h("input", { attrs: { type: "number", min: 1, max: 25 }, props: { value: String(s.attachments_max_mb ?? 10) } });
  const email = emailSettings(site);
  const moderation = moderationSettings(s as ModerationSettings);
  const privacy = privacySettings(s);
  const status = note();
  return h(
    "form",
    {
      class: "card settings",
      on: {
        submit: (e) => {
          e.preventDefault();
          const days = week.read();
          if (typeof days === "string") {
            fail(status, new Error(days));
            return;
          }
          api("PATCH", path, {
            name: name.value,
            origins: origins.value.split("\n").map((o) => o.trim()).filter(Boolean),
            settings: {
              color: color.value,
              position: position.value,
              theme: theme.value,
              greeting: greeting.value,
              away: away.value,
              translations: translations.read(),
              launcher_icon: icon.value.trim() || null,
              custom_css: css.value,
              locale: locale.value,
              reply_time: Math.max(0, Math.round(Number(replyTime.value) * 60)),
              hours: alwaysOpen.checked ? null : { tz: tz.value.trim(), days },
              rules: rules.read(),
              storage: storage.value,
              routing: routing.value,
              after_hours: afterHours.value,
              attachments_types: fileTypes.filter((f) => f.box.checked).map((f) => f.value),
              attachments_max_mb: Math.min(25, Math.max(1, Math.round(Number(maxMb.value) || 10))),
              ...email.read(),
              ...moderation.read(),
              ...privacy.read(),
            },
          })
            .then(() => ok(status))
            .catch((err: unknown) => fail(status, err));
        },
      },
    },
    h("h2", null, site.name),
    field(t("name"), name, "site-name"),
    field(t("origins"), origins, "site-origins"),
    h("div", { class: "grid2" }, field(t("color"), color, "site-color"), field(t("position"), position, "site-position")),
    field(t("theme"), theme, "site-theme"),
    field(t("greeting"), greeting, "site-greeting"),
    field(t("awayText"), away, "site-away"),
    h("p", { class: "muted small", attrs: { id: "site-away-help" } }, t("awayHelp")),
    field(t("launcherIcon"), icon, "site-icon"),
    field(t("customCss"), css, "site-css"),
    h("div", { class: "grid2" }, field(t("locale"), locale, "site-locale"), field(t("replyTime"), replyTime, "site-reply-time")),
    h(
      "fieldset",
      null,
      h("legend", null, t("hours")),
      h("label", null, alwaysOpen, " ", t("alwaysOpen")),
      field(t("timezone"), tz, "site-tz"),
      field(t("afterHours"), afterHours, "site-after-hours"),
      zones,
      week.root,
    ),
    rules.root,
    translations.root,
    h("div", { class: "grid2" }, field(t("storage"), storage, "site-storage"), field(t("routing"), routing, "site-routing")),
    h(
      "fieldset",
      null,
      h("legend", null, t("attachmentsTypes")),
      fileTypes.map((f) => f.label),
      field(t("attachmentsMaxMb"), maxMb, "site-attachments-max"),
    ),
    email.root,
    moderation.root,
    privacy.root,
    status,
    h("button", { class: "primary", attrs: { type: "submit" } }, t("save")),
  );
}

/** Email continuation (docs/channels.md): on or off, the delay, and what to do with a reply from another
 * address. Without a relay on the server, the fieldset says so and the switch is off. */
function emailSettings(site: SiteFull): { root: HTMLElement; read: () => Record<string, unknown> } {
  const s = site.settings;
  const available = site.email_available === true;
  const on = h("input", { attrs: { type: "checkbox" }, props: { checked: available && s.email_continuation !== false, disabled: !available } });
  const delay = h("input", { attrs: { type: "number", min: 0, max: 10080 }, props: { value: String(Math.round((s.email_delay ?? 120) / 60)) } });
  const foreign = h(
    "select",
    null,
    h("option", { attrs: { value: "flag" }, props: { selected: s.email_foreign_sender !== "refuse" } }, t("emailForeignFlag")),
    h("option", { attrs: { value: "refuse" }, props: { selected: s.email_foreign_sender === "refuse" } }, t("emailForeignRefuse")),
  );
  const root = h(
    "fieldset",
    null,
    h("legend", null, t("emailContinuation")),
    available ? null : h("p", { class: "form-status", attrs: { role: "note" } }, t("emailUnavailable")),
    h("label", null, on, " ", t("emailContinuationOn")),
    h("div", { class: "grid2" }, field(t("emailDelay"), delay, "site-email-delay"), field(t("emailForeign"), foreign, "site-email-foreign")),
  );
  return {
    root,
    // Unavailable: keep the owner's choice as it was, for the day the server gets a relay.
    read: () => ({
      ...(available ? { email_continuation: on.checked } : {}),
      email_delay: Math.max(0, Math.round(Number(delay.value) * 60)),
      email_foreign_sender: foreign.value,
    }),
  };
}

/** Every IANA zone this browser knows, as suggestions for a text box that filters as one types (a
 * select of ~400 options is not searchable). The server checks the name whatever is typed. */
function timeZoneInput(value: string): [HTMLInputElement, HTMLElement] {
  const known = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  const zones = known.includes("UTC") ? known : [...known, "UTC"];
  const input = h("input", {
    attrs: { type: "text", list: "site-tz-list", placeholder: "Europe/Paris", autocomplete: "off", spellcheck: "false" },
    props: { value },
  });
  return [input, h("datalist", { attrs: { id: "site-tz-list" } }, zones.map((z) => h("option", { attrs: { value: z } })))];
}

type Span = [string, string];

/** The week's opening spans: any number per day (a lunch break is two spans), each with its own
 * remove button. `read()` returns the days to save, or the reason they cannot be saved. */
function hoursEditor(initial: Record<string, Span[]>): { root: HTMLElement; read: () => Record<string, Span[]> | string } {
  const rows = new Map<string, HTMLElement>();
  const spanRow = (day: string, span: Span | null): HTMLElement => {
    const open = h("input", { class: "span-open", attrs: { type: "time", "aria-label": t("opensAt", { day: t(day as Day) }) }, props: { value: span?.[0] ?? "" } });
    const close = h("input", { class: "span-close", attrs: { type: "time", "aria-label": t("closesAt", { day: t(day as Day) }) }, props: { value: span?.[1] ?? "" } });
    const item: HTMLElement = h(
      "li",
      { class: "span" },
      open,
      h("span", { attrs: { "aria-hidden": "true" } }, "–"),
      close,
      h("button", { class: "link", attrs: { type: "button", "aria-label": t("removeSpan", { day: t(day as Day) }) }, on: { click: () => item.remove() } }, "×"),
    );
    return item;
  };
  // Each day is a named group (its spans and buttons); a list item may not be a group.
  const root = h(
    "div",
    { class: "days" },
    DAYS.map((d) => {
      const list = h("ul", { class: "spans" }, (initial[d] ?? []).map((span) => spanRow(d, span)));
      rows.set(d, list);
      return h(
        "div",
        { class: "day", attrs: { role: "group", "aria-label": t(d) } },
        h("span", { class: "day-name" }, t(d)),
        list,
        h("button", { class: "link", attrs: { type: "button", "aria-label": t("addSpan", { day: t(d) }) }, on: { click: () => list.append(spanRow(d, null)) } }, "+ " + t("addSpanShort")),
      );
    }),
  );
  const read = (): Record<string, Span[]> | string => {
    const days: Record<string, Span[]> = {};
    for (const [day, list] of rows) {
      for (const item of list.querySelectorAll<HTMLElement>(".span")) {
        const open = item.querySelector<HTMLInputElement>(".span-open")?.value ?? "";
        const close = item.querySelector<HTMLInputElement>(".span-close")?.value ?? "";
        if (!open && !close) continue; // an empty row is no span
        if (!open || !close) return t("spanIncomplete", { day: t(day as Day) });
        (days[day] ??= []).push([open, close]);
      }
    }
    return days;
  };
  return { root, read };
}

type Day = (typeof DAYS)[number];

interface Rule {
  id: string;
  trigger: "url" | "time_on_page" | "event";
  message: string;
  url?: string;
  seconds?: number | null;
  event?: string;
  condition?: { field: string; op: string; value: number | string } | null;
}

const OPS = [">", ">=", "<", "<=", "=="];

/** Proactive rules as a form, one card per rule; what is saved is the same JSON the API takes. */
function rulesEditor(initial: Rule[]): { root: HTMLElement; read: () => Rule[] } {
  const list = h("ol", { class: "rules" });
  const readers = new Map<HTMLElement, () => Rule>();
  let made = 0;
  const add = (rule: Rule): void => {
    const n = ++made;
    const id = `rule-${n}`;
    const ruleId = h("input", { attrs: { type: "text", pattern: "[A-Za-z0-9_-]+", maxlength: 40, required: true }, props: { value: rule.id } });
    const trigger = h(
      "select",
      null,
      (["url", "time_on_page", "event"] as const).map((v) => h("option", { attrs: { value: v }, props: { selected: rule.trigger === v } }, t(`trigger_${v}`))),
    );
    const message = h("textarea", { attrs: { rows: 2, maxlength: 1000, required: true }, props: { value: rule.message } });
    const url = h("input", { attrs: { type: "text", maxlength: 500, placeholder: "https://shop.example/cart*" }, props: { value: rule.url ?? "" } });
    const seconds = h("input", { attrs: { type: "number", min: 0, max: 3600 }, props: { value: rule.seconds == null ? "" : String(rule.seconds) } });
    const event = h("input", { attrs: { type: "text", maxlength: 64 }, props: { value: rule.event ?? "" } });
    const condField = h("input", { attrs: { type: "text", maxlength: 64 }, props: { value: rule.condition?.field ?? "" } });
    const condOp = h("select", null, OPS.map((op) => h("option", { attrs: { value: op }, props: { selected: (rule.condition?.op ?? ">") === op } }, op)));
    const condValue = h("input", { attrs: { type: "text", maxlength: 500 }, props: { value: rule.condition ? String(rule.condition.value) : "" } });
    const urlField = field(t("ruleUrl"), url, `${id}-url`);
    const eventFields = h(
      "div",
      { class: "rule-event" },
      field(t("ruleEvent"), event, `${id}-event`),
      h("div", { class: "grid3" }, field(t("ruleCondField"), condField, `${id}-cf`), field(t("ruleCondOp"), condOp, `${id}-co`), field(t("ruleCondValue"), condValue, `${id}-cv`)),
    );
    const shape = (): void => {
      urlField.hidden = trigger.value !== "url";
      eventFields.hidden = trigger.value !== "event";
    };
    trigger.addEventListener("change", shape);
    shape();
    const item: HTMLElement = h(
      "li",
      { class: "rule", attrs: { role: "group", "aria-label": t("ruleN", { n }) } },
      h("div", { class: "grid2" }, field(t("ruleId"), ruleId, `${id}-id`), field(t("ruleTrigger"), trigger, `${id}-trigger`)),
      field(t("ruleMessage"), message, `${id}-message`),
      urlField,
      field(t("ruleSeconds"), seconds, `${id}-seconds`),
      eventFields,
      h("button", { attrs: { type: "button" }, on: { click: () => (readers.delete(item), item.remove()) } }, t("removeRule", { n })),
    );
    readers.set(item, () => {
      const out: Rule = { id: ruleId.value.trim(), trigger: trigger.value as Rule["trigger"], message: message.value };
      if (out.trigger === "url") out.url = url.value.trim();
      if (seconds.value !== "") out.seconds = Number(seconds.value);
      if (out.trigger === "event") {
        out.event = event.value.trim();
        if (condField.value.trim()) {
          const raw = condValue.value.trim();
          const num = Number(raw);
          out.condition = { field: condField.value.trim(), op: condOp.value, value: raw !== "" && Number.isFinite(num) ? num : raw };
        }
      }
      return out;
    });
    list.append(item);
  };
  for (const rule of initial) add(rule);
  const root = h(
    "fieldset",
    { class: "rules-box" },
    h("legend", null, t("rules")),
    h("p", { class: "muted small" }, t("rulesHelp")),
    list,
    h("button", { attrs: { type: "button" }, on: { click: () => add({ id: `rule-${Date.now().toString(36)}`, trigger: "url", message: "" }) } }, t("addRule")),
  );
  return { root, read: () => [...list.querySelectorAll<HTMLElement>(".rule")].map((item) => readers.get(item)!()) };
}

function snippetSection(snippet: string): HTMLElement {
  const code = h("pre", { class: "code snippet" }, snippet);
  const status = note();
  return h(
    "section",
    { class: "card" },
    h("h2", null, t("snippet")),
    code,
    h(
      "button",
      {
        attrs: { type: "button" },
        on: {
          click: () => {
            navigator.clipboard
              ?.writeText(snippet)
              .then(() => ok(status, t("copied")))
              .catch(() => {
                // No clipboard permission: select the text so Ctrl+C works.
                const range = document.createRange();
                range.selectNodeContents(code);
                getSelection()?.removeAllRanges();
                getSelection()?.addRange(range);
              });
          },
        },
      },
      t("copy"),
    ),
    status,
  );
}

/** A secret signs visitors' identities: it stays masked until someone asks to see it, so a screen
 * share or a look over the shoulder does not leak it. */
function secretItem(secret: string, n: number): HTMLElement {
  const shown = h("code", { class: "secret masked" }, "•".repeat(16));
  const button: HTMLButtonElement = h(
    "button",
    {
      attrs: { type: "button", "aria-pressed": "false", "aria-label": t("revealSecret", { n }) },
      on: {
        click: () => {
          const reveal = button.getAttribute("aria-pressed") !== "true";
          button.setAttribute("aria-pressed", String(reveal));
          button.textContent = reveal ? t("hide") : t("reveal");
          shown.textContent = reveal ? secret : "•".repeat(16);
          shown.classList.toggle("masked", !reveal);
        },
      },
    },
    t("reveal"),
  );
  return h("li", null, shown, " ", button);
}

function secretsSection(site: SiteFull, path: string): HTMLElement {
  const list = h("ul", { class: "secrets" }, (site.secrets ?? []).map((s, i) => secretItem(s, i + 1)));
  const status = note();
  return h(
    "section",
    { class: "card" },
    h("h2", null, t("secrets")),
    list,
    h(
      "button",
      {
        attrs: { type: "button" },
        on: {
          click: () => {
            if (!confirm(t("rotateConfirm"))) return;
            api<{ secrets: string[] }>("POST", path + "/secrets/rotate", {})
              .then((data) => {
                mount(list, data.secrets.map((s, i) => secretItem(s, i + 1)));
                ok(status);
              })
              .catch((err: unknown) => fail(status, err));
          },
        },
      },
      t("rotate"),
    ),
    status,
  );
}

function cannedSection(items: CannedResponse[], path: string, desk: Desk, redraw: () => void): HTMLElement {
  const status = note();
  const shortcut = h("input", { attrs: { type: "text", pattern: "[A-Za-z0-9_-]+", maxlength: 40, "aria-label": t("shortcut"), placeholder: t("shortcut") } });
  const body = h("textarea", { attrs: { rows: 2, maxlength: 4000, "aria-label": t("text"), placeholder: t("text") } });
  const after = (): void => {
    void desk.loadCanned();
    redraw();
  };
  return h(
    "section",
    { class: "card" },
    h("h2", null, t("canned")),
    h("p", { class: "muted small" }, t("cannedHelp")),
    h(
      "ul",
      { class: "canned-admin" },
      items.map((c) =>
        h(
          "li",
          null,
          h("strong", null, "/" + c.shortcut),
          " ",
          h("span", null, c.body),
          " ",
          h(
            "button",
            {
              attrs: { type: "button", "aria-label": `${t("delete")} /${c.shortcut}` },
              on: { click: () => void api("DELETE", `${path}/canned/${encodeURIComponent(c.id)}`).then(after).catch((err: unknown) => fail(status, err)) },
            },
            t("delete"),
          ),
        ),
      ),
    ),
    h(
      "form",
      {
        class: "row",
        on: {
          submit: (e) => {
            e.preventDefault();
            api("POST", path + "/canned", { shortcut: shortcut.value.trim(), body: body.value })
              .then(after)
              .catch((err: unknown) => fail(status, err));
          },
        },
      },
      shortcut,
      body,
      h("button", { class: "primary", attrs: { type: "submit" } }, t("save")),
    ),
    status,
  );
}

function keysSection(keys: { id: string; name: string; created_at: number }[], path: string, redraw: () => void): HTMLElement {
  const status = note();
  const name = h("input", { attrs: { type: "text", maxlength: 80, "aria-label": t("keyName"), placeholder: t("keyName") } });
  const shown = h("div");
  return h(
    "section",
    { class: "card" },
    h("h2", null, t("apiKeys")),
    h(
      "ul",
      null,
      keys.map((k) =>
        h(
          "li",
          null,
          k.name,
          " ",
          h("code", null, k.id),
          " ",
          h(
            "button",
            { attrs: { type: "button" }, on: { click: () => void api("DELETE", `${path}/keys/${encodeURIComponent(k.id)}`).then(redraw).catch((err: unknown) => fail(status, err)) } },
            t("revoke"),
          ),
        ),
      ),
    ),
    h(
      "form",
      {
        class: "row",
        on: {
          submit: (e) => {
            e.preventDefault();
            api<{ key: string }>("POST", path + "/keys", { name: name.value })
              .then((data) => mount(shown, h("p", null, t("keyShownOnce")), h("code", { class: "secret" }, data.key)))
              .catch((err: unknown) => fail(status, err));
          },
        },
      },
      name,
      h("button", { class: "primary", attrs: { type: "submit" } }, t("createKey")),
    ),
    shown,
    status,
  );
}

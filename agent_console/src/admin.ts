// Site settings for owners and admins: the widget's look and behaviour (opening hours in
// hours_editor.ts, proactive rules in rules_editor.ts), the snippet, identity secrets and API keys
// (site_keys.ts), agents and invitations (team.ts), canned responses (canned_editor.ts), webhooks
// (webhooks.ts) and messaging channels (channels.ts). Each section saves on its own.

import { api, ApiError } from "./api";
import { channelsSection } from "./channels";
import { type BotSetting, botSection } from "./bot_editor";
import { cannedSection } from "./canned_editor";
import { type Group, type Prechat, prechatSection } from "./prechat_editor";
import { field, h, mount } from "./dom";
import { showDone, showFailure, statusLine } from "./form_status";
import { hoursEditor, timeZoneInput } from "./hours_editor";
import { moderationSettings, type ModerationSettings } from "./moderation";
import { type Desk } from "./desk";
import { t } from "./i18n";
import { type AgentRow, type Invitation, teamSection } from "./team";
import { auditSection, type PrivacySettings, privacySettings } from "./privacy";
import { type Rule, rulesEditor } from "./rules_editor";
import { type ApiKey, keysSection, secretsSection, snippetSection } from "./site_keys";
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


let current = "";

export async function renderAdmin(main: HTMLElement, desk: Desk): Promise<void> {
  const manageable = desk.sites.filter((s) => s.role !== "agent");
  if (!manageable.some((s) => s.key === current)) current = manageable[0]?.key ?? "";
  if (!current) {
    mount(main, h("p", null, "—"));
    return;
  }
  const path = `/api/sites/${encodeURIComponent(current)}`;
  let loaded: [SiteFull, { agents: AgentRow[] }, { canned: CannedResponse[] }, { keys: ApiKey[] }, { snippet: string }, { invites: Invitation[] }];
  try {
    loaded = await Promise.all([
      api<SiteFull>("GET", path),
      api<{ agents: AgentRow[] }>("GET", path + "/agents"),
      api<{ canned: CannedResponse[] }>("GET", path + "/canned"),
      // Keys are the owner's and admins' to see: a refusal (403) is no keys to show, anything else
      // fails the page as the other reads do.
      api<{ keys: ApiKey[] }>("GET", path + "/keys").catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 403) return { keys: [] };
        throw err;
      }),
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
      secretsSection(site.secrets ?? [], path),
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
  const status = statusLine();
  return h(
    "form",
    {
      class: "card settings",
      on: {
        submit: (e) => {
          e.preventDefault();
          const days = week.read();
          if (typeof days === "string") {
            showFailure(status, new Error(days));
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
            .then(() => showDone(status))
            .catch((err: unknown) => showFailure(status, err));
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

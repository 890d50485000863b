// Site settings for owners and admins: the widget's look and behaviour, the snippet, identity
// secrets, agents and invitations, canned responses and API keys. Each section saves on its own.

import { api } from "./api";
import { h, mount } from "./dom";
import { type Desk } from "./desk";
import { t } from "./i18n";
import { type AgentRow, type Invitation, teamSection } from "./team";
import type { CannedResponse } from "./types";

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
    reply_time: number;
    locale: string;
    hours: { tz: string; days: Record<string, [string, string][]> } | null;
    launcher_icon: string | null;
    custom_css: string;
    rules: unknown[];
    storage: "consent" | "always";
    routing: "auto" | "manual";
  };
}


const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
let current = "";

function field(label: string, input: HTMLElement, id: string): HTMLElement {
  input.id = id;
  return h("div", { class: "field" }, h("label", { attrs: { for: id } }, label), input);
}

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
      snippetSection(snippetData.snippet),
      secretsSection(site, path),
      teamSection(agentsData.agents, invitesData.invites, path, { id: desk.me.id, role: myRole }, redraw),
      cannedSection(cannedData.canned, path, desk, redraw),
      keysSection(keysData.keys, path, redraw),
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
  const greeting = h("textarea", { attrs: { rows: 2, maxlength: 500 }, props: { value: s.greeting } });
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
  const tz = h("input", { attrs: { type: "text", placeholder: "Europe/Paris" }, props: { value: s.hours?.tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone } });
  const dayInputs = DAYS.map((d) => {
    const span = s.hours?.days?.[d]?.[0];
    return {
      day: d,
      open: h("input", { attrs: { type: "time", "aria-label": t("opensAt", { day: t(d) }) }, props: { value: span?.[0] ?? "" } }),
      close: h("input", { attrs: { type: "time", "aria-label": t("closesAt", { day: t(d) }) }, props: { value: span?.[1] ?? "" } }),
    };
  });
  const rules = h("textarea", { class: "code", attrs: { rows: 4 }, props: { value: JSON.stringify(s.rules, null, 2) } });
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
  const status = note();
  return h(
    "form",
    {
      class: "card settings",
      on: {
        submit: (e) => {
          e.preventDefault();
          let parsedRules: unknown;
          try {
            parsedRules = JSON.parse(rules.value || "[]");
          } catch {
            fail(status, new Error(t("rules")));
            return;
          }
          const days: Record<string, [string, string][]> = {};
          for (const d of dayInputs) if (d.open.value && d.close.value) days[d.day] = [[d.open.value, d.close.value]];
          api("PATCH", path, {
            name: name.value,
            origins: origins.value.split("\n").map((o) => o.trim()).filter(Boolean),
            settings: {
              color: color.value,
              position: position.value,
              greeting: greeting.value,
              launcher_icon: icon.value.trim() || null,
              custom_css: css.value,
              locale: locale.value,
              reply_time: Math.max(0, Math.round(Number(replyTime.value) * 60)),
              hours: alwaysOpen.checked ? null : { tz: tz.value.trim(), days },
              rules: parsedRules,
              storage: storage.value,
              routing: routing.value,
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
    field(t("greeting"), greeting, "site-greeting"),
    field(t("launcherIcon"), icon, "site-icon"),
    field(t("customCss"), css, "site-css"),
    h("div", { class: "grid2" }, field(t("locale"), locale, "site-locale"), field(t("replyTime"), replyTime, "site-reply-time")),
    h(
      "fieldset",
      null,
      h("legend", null, t("hours")),
      h("label", null, alwaysOpen, " ", t("alwaysOpen")),
      field(t("timezone"), tz, "site-tz"),
      h("div", { class: "days" }, dayInputs.map((d) => h("div", { class: "day" }, h("span", null, t(d.day)), d.open, d.close))),
    ),
    field(t("rules"), rules, "site-rules"),
    h("div", { class: "grid2" }, field(t("storage"), storage, "site-storage"), field(t("routing"), routing, "site-routing")),
    status,
    h("button", { class: "primary", attrs: { type: "submit" } }, t("save")),
  );
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

function secretsSection(site: SiteFull, path: string): HTMLElement {
  const list = h("ul", { class: "secrets" }, (site.secrets ?? []).map((s) => h("li", null, h("code", null, s))));
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
                mount(list, data.secrets.map((s) => h("li", null, h("code", null, s))));
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

// The context panel: who the visitor is, where they are (live), what they did, and what they asked
// before, so an agent never has to make a customer repeat themselves.

import { h, mount } from "./dom";
import { type Desk } from "./desk";
import { dateTime, t, time } from "./i18n";
import { visitorLabel } from "./chat";
import { mergeButton, timelineSections } from "./contacts";
import { blockButton } from "./moderation";
import { privacyActions } from "./privacy";
import type { AgentConversation, Page } from "./types";

/** "Chrome 120 on Windows" from a User-Agent string; coarse on purpose (no UA database). */
export function describeBrowser(ua: string): string {
  if (!ua) return "";
  const browser =
    (/Edg\/(\d+)/.exec(ua) && `Edge ${/Edg\/(\d+)/.exec(ua)![1]}`) ||
    (/Firefox\/(\d+)/.exec(ua) && `Firefox ${/Firefox\/(\d+)/.exec(ua)![1]}`) ||
    (/Chrome\/(\d+)/.exec(ua) && `Chrome ${/Chrome\/(\d+)/.exec(ua)![1]}`) ||
    (/Version\/(\d+).*Safari/.exec(ua) && `Safari ${/Version\/(\d+).*Safari/.exec(ua)![1]}`) ||
    "";
  const os =
    (/Windows/.test(ua) && "Windows") ||
    (/Android/.test(ua) && "Android") ||
    (/iPhone|iPad/.test(ua) && "iOS") ||
    (/Mac OS X/.test(ua) && "macOS") ||
    (/Linux/.test(ua) && "Linux") ||
    "";
  return [browser, os].filter(Boolean).join(" · ");
}

function localTime(tz: string | undefined): string {
  if (!tz) return "";
  try {
    return new Date().toLocaleTimeString(undefined, { timeZone: tz, hour: "2-digit", minute: "2-digit" }) + ` (${tz})`;
  } catch {
    return tz;
  }
}

function pageLine(page: Page): HTMLElement {
  const title = page.title || page.url || "";
  return h("li", null, h("span", { class: "page-title" }, title), page.url && page.title ? h("div", { class: "muted small url" }, page.url) : null);
}

function row(label: string, value: Node | string | null, wide = false): HTMLElement | null {
  if (value === null || value === "") return null;
  return h("div", { class: wide ? "kv wide" : "kv" }, h("dt", null, label), h("dd", null, value));
}

/** An email with break opportunities after the @ and before each dot: a long address wraps between
 * its parts (jean-baptiste.delacroix@ / entreprise.example), not in the middle of one. */
export function emailText(email: string): HTMLElement | string {
  if (!email) return "";
  const out = h("span", { class: "email" });
  email.split(/(?=\.)|(?<=@)/).forEach((part, i) => {
    if (i) out.append(h("wbr"));
    out.append(part);
  });
  return out;
}

export function renderContext(panel: HTMLElement, desk: Desk, conv: AgentConversation | null, openChat: (id: string) => void): void {
  if (!conv || !conv.visitor) {
    mount(panel);
    return;
  }
  const vid = conv.visitor.id;
  const visitor = desk.visitors.get(vid);
  const name = visitorLabel(desk, conv);
  const email = visitor?.email || conv.visitor.email || conv.contact_email || "";
  const verified = visitor?.verified ?? conv.visitor.verified;
  const device = visitor?.device ?? {};
  const ua = typeof device.ua === "string" ? device.ua : "";
  const pages = (visitor?.pages ?? []).slice().reverse();
  const events = desk.visitorEvents.get(vid) ?? [];
  const past = (desk.pastConversations.get(vid) ?? []).filter((c) => c.id !== conv.id);
  const attributes = Object.entries(visitor?.attributes ?? {});
  const timeline = desk.timelines.get(vid);
  mount(
    panel,
    h(
      "div",
      { class: "ctx-head" },
      h("h3", { class: "visitor-name" }, name),
      h("span", { class: verified ? "badge verified" : "badge" }, verified ? t("verified") : t("notVerified")),
      desk.visitorOnline.has(vid)
        ? h("span", { class: desk.visitorOnline.get(vid) ? "badge live" : "badge" }, desk.visitorOnline.get(vid) ? t("visitorOnline") : t("visitorOffline"))
        : null,
    ),
    blockButton(conv.site, vid, () => renderContext(panel, desk, conv, openChat)),
    mergeButton(desk, conv),
    h(
      "dl",
      { class: "kvs" },
      row(t("email"), emailText(email), true),
      row(t("currentPage"), visitor?.page ? h("span", { class: "current-page" }, visitor.page.title || visitor.page.url || "") : null),
      row(t("browser"), [describeBrowser(ua), typeof device.screen === "string" ? device.screen : ""].filter(Boolean).join(" · ")),
      row(t("language"), String(device.lang ?? device.locale ?? "")),
      row(t("localTime"), localTime(typeof device.tz === "string" ? device.tz : undefined)),
      conv.rating ? row(t("satisfaction"), `${conv.rating}/5${conv.rating_comment ? " — " + conv.rating_comment : ""}`) : null,
    ),
    attributes.length
      ? h("section", null, h("h4", null, t("attributes")), h("dl", { class: "kvs attributes" }, attributes.map(([k, v]) => row(k, String(v)))))
      : null,
    pages.length ? h("section", null, h("h4", null, t("pagesVisited")), h("ol", { class: "pages" }, pages.slice(0, 15).map(pageLine))) : null,
    events.length
      ? h(
          "section",
          null,
          h("h4", null, t("events")),
          h(
            "ul",
            { class: "events" },
            events.slice(0, 20).map((e) =>
              h(
                "li",
                null,
                h("strong", null, e.name),
                e.data && Object.keys(e.data).length ? " " + JSON.stringify(e.data).slice(0, 120) : "",
                h("span", { class: "muted small" }, " · " + time(e.at)),
              ),
            ),
          ),
        )
      : null,
    // Every channel and every conversation of the contact once the timeline came; until then, the past ones.
    timeline ? timelineSections(timeline, conv.id, openChat) : null,
    !timeline && past.length
      ? h(
          "section",
          null,
          h("h4", null, t("pastConversations")),
          h(
            "ul",
            { class: "past", attrs: { "aria-label": t("pastConversations") } },
            // Most recently active first: what the visitor talked about last is what they come back about.
            past
              .slice()
              .sort((a, b) => (b.updated_at ?? b.created_at) - (a.updated_at ?? a.created_at))
              .map((c) =>
                h(
                  "li",
                  null,
                  h(
                    "button",
                    { class: "link", attrs: { type: "button", "data-conversation": c.id }, on: { click: () => openChat(c.id) } },
                    dateTime(c.created_at),
                    " — ",
                    c.last_message?.body?.slice(0, 60) ?? "",
                    ` (${c.status === "closed" ? t("statusClosed") : t("statusOpen")}, ${t("lastActivity", { when: dateTime(c.updated_at ?? c.created_at) })})`,
                  ),
                ),
              ),
          ),
        )
      : null,
    privacyActions(desk, conv),
  );
}

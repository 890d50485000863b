// One customer across channels (docs/channels.md): the context panel's identities and timeline of the
// contact on every channel, and the merge of two contacts an agent decides after seeing both side by side.

import { api, query } from "./api";
import { h, mount } from "./dom";
import { statusLine } from "./form_status";
import { type Desk } from "./desk";
import { dateTime, t } from "./i18n";
import { channelLabel } from "./chat";
import type { AgentConversation } from "./types";

export interface Channel {
  kind: string;
  address: string | null;
  account: { id: string; name: string } | null;
}

export interface Identity extends Channel {
  name: string;
  verified: boolean;
}

export interface Timeline {
  visitor: { id: string; name: string; email: string; verified: boolean; user_id: string | null };
  identities: Identity[];
  conversations: (AgentConversation & { channel: Channel })[];
}

interface ContactCard {
  id: string;
  name: string;
  email: string;
  verified: boolean;
  last_seen: number;
  identities: Channel[];
}

/** "WhatsApp", "Email", "Web chat"… */
function kindLabel(kind: string): string {
  return kind === "email" ? t("channelEmail") : channelLabel(kind);
}

function identityLine(i: Identity): HTMLElement {
  return h(
    "li",
    { attrs: { "data-channel": i.kind } },
    h("span", { class: `badge channel-${i.kind}` }, kindLabel(i.kind)),
    " ",
    i.address ?? t("contactAnonymous"),
    i.account ? h("span", { class: "muted small" }, ` · ${i.account.name}`) : "",
    i.verified ? h("span", { class: "muted small" }, ` · ${t("verified")}`) : "",
  );
}

/** The contact's channels and every conversation on each, most recent activity first; a click opens one. */
export function timelineSections(timeline: Timeline, current: string, openChat: (id: string) => void): HTMLElement[] {
  const items = timeline.conversations.map((c) =>
    h(
      "li",
      { class: c.id === current ? "current" : "" },
      h(
        "button",
        {
          class: "link",
          attrs: { type: "button", "data-conversation": c.id, "data-channel": c.channel.kind, "aria-current": c.id === current ? "true" : null },
          on: { click: () => openChat(c.id) },
        },
        h("span", { class: `badge channel-${c.channel.kind}` }, kindLabel(c.channel.kind)),
        " ",
        h("span", { class: "status" }, c.status === "closed" ? t("statusClosed") : t("statusOpen")),
        " · ",
        dateTime(c.updated_at ?? c.created_at),
        h("div", { class: "muted small last" }, c.last_message?.body?.slice(0, 80) ?? ""),
      ),
    ),
  );
  return [
    h("section", { class: "identities" }, h("h4", null, t("contactChannels")), h("ul", { attrs: { "aria-label": t("contactChannels") } }, timeline.identities.map(identityLine))),
    h("section", { class: "timeline" }, h("h4", null, t("contactTimeline")), h("ol", { class: "past", attrs: { "aria-label": t("contactTimeline") } }, items)),
  ];
}

function side(title: string, tl: Timeline | null, card: ContactCard | null): HTMLElement {
  const name = tl?.visitor.name || card?.name || t("contactAnonymous");
  const email = tl?.visitor.email || card?.email || "";
  const verified = tl?.visitor.verified ?? card?.verified ?? false;
  return h(
    "div",
    { class: "merge-side" },
    h("h3", null, title),
    h("p", { class: "merge-name" }, name, " ", h("span", { class: verified ? "badge verified" : "badge" }, verified ? t("verified") : t("notVerified"))),
    email ? h("p", { class: "muted" }, email) : null,
    tl ? h("ul", { class: "merge-identities" }, tl.identities.map(identityLine)) : null,
    tl ? h("p", { class: "muted small" }, t("contactConversations", { n: tl.conversations.length })) : null,
  );
}

/** The "Merge with another contact" button and its dialog: find, compare side by side, confirm. */
export function mergeButton(desk: Desk, conv: AgentConversation): HTMLElement | null {
  const site = desk.siteOf(conv);
  const vid = conv.visitor?.id;
  if (!site || !vid) return null;
  return h("button", { class: "link merge-open", attrs: { type: "button" }, on: { click: () => openMerge(desk, site.key, vid) } }, t("mergeContact"));
}

function openMerge(desk: Desk, siteKey: string, vid: string): void {
  const before = document.activeElement as HTMLElement | null;
  const input = h("input", { attrs: { type: "search", placeholder: t("mergeSearchPlaceholder"), "aria-label": t("mergeSearch") } });
  const results = h("ul", { class: "merge-results", attrs: { "aria-label": t("mergeResults") } });
  const compare = h("div", { class: "merge-compare" });
  const status = statusLine();
  const confirmButton = h("button", { class: "primary merge-confirm", attrs: { type: "button", disabled: true } }, t("mergeConfirm"));
  let chosen: string | null = null;
  let mine: Timeline | null = null;
  const close = (): void => {
    overlay.remove();
    before?.focus();
  };
  const failed = (err: unknown): void => {
    status.textContent = t("error", { message: (err as Error).message });
    status.classList.add("form-error");
  };
  const overlay = h(
    "div",
    {
      class: "overlay merge-dialog",
      attrs: { role: "dialog", "aria-modal": "true", "aria-label": t("mergeTitle") },
      on: {
        click: (e) => e.target === overlay && close(),
        keydown: (e) => e.key === "Escape" && close(),
      },
    },
    h(
      "div",
      { class: "card" },
      h("h2", null, t("mergeTitle")),
      h("p", { class: "muted" }, t("mergeExplain")),
      input,
      results,
      compare,
      status,
      h("div", { class: "actions" }, confirmButton, " ", h("button", { attrs: { type: "button" }, on: { click: close } }, t("cancel"))),
    ),
  );
  const show = async (other: ContactCard): Promise<void> => {
    chosen = other.id;
    confirmButton.disabled = true;
    status.textContent = "";
    status.classList.remove("form-error");
    try {
      mine = mine ?? (await api<Timeline>("GET", `/api/visitors/${encodeURIComponent(vid)}/timeline`));
      const theirs = await api<Timeline>("GET", `/api/visitors/${encodeURIComponent(other.id)}/timeline`);
      if (chosen !== other.id) return; // another one was picked meanwhile
      const keptIsOther = theirs.visitor.verified && !mine.visitor.verified;
      mount(
        compare,
        h("div", { class: "merge-sides" }, side(t("mergeThis"), mine, null), side(t("mergeOther"), theirs, other)),
        h("p", { class: "merge-note" }, keptIsOther ? t("mergeKeepsVerified") : t("mergeMoves"), " ", t("mergeIrreversible")),
      );
      confirmButton.disabled = mine.visitor.verified && theirs.visitor.verified;
      if (confirmButton.disabled) status.textContent = t("mergeBothVerified");
    } catch (err) {
      failed(err);
    }
  };
  let searching = 0;
  const search = async (): Promise<void> => {
    const mine = ++searching;
    try {
      const { contacts } = await api<{ contacts: ContactCard[] }>("GET", `/api/sites/${encodeURIComponent(siteKey)}/contacts` + query({ q: input.value.trim() }));
      if (mine !== searching) return;
      const others = contacts.filter((c) => c.id !== vid);
      mount(
        results,
        others.length
          ? others.map((c) =>
              h(
                "li",
                null,
                h(
                  "button",
                  { class: "link", attrs: { type: "button", "data-visitor": c.id }, on: { click: () => void show(c) } },
                  c.name || t("contactAnonymous"),
                  c.email ? ` · ${c.email}` : "",
                  c.identities.map((i) => ` · ${kindLabel(i.kind)} ${i.address ?? ""}`).join(""),
                ),
              ),
            )
          : h("li", { class: "muted" }, t("mergeNoMatch")),
      );
    } catch (err) {
      failed(err);
    }
  };
  let timer: number | undefined;
  input.addEventListener("input", () => {
    // One request per pause in typing, not per key.
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void search(), 250);
  });
  confirmButton.addEventListener("click", () => {
    if (!chosen) return;
    confirmButton.disabled = true;
    api<{ kept: string; merged: string }>("POST", `/api/visitors/${encodeURIComponent(vid)}/merge`, { from: chosen })
      .then(async (done) => {
        await desk.loadVisitor(done.kept);
        close();
      })
      .catch((err: unknown) => {
        failed(err);
        confirmButton.disabled = false;
      });
  });
  document.body.append(overlay);
  input.focus();
}

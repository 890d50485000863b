// Privacy in the console (docs/privacy.md): the consent and retention settings, the audit log for owners,
// and the visitor panel's export and erasure for admins and owners.

import { api, query } from "./api";
import { field, h, mount } from "./dom";
import { statusLine } from "./form_status";
import { type Desk } from "./desk";
import { dateTime, t } from "./i18n";
import type { AgentConversation } from "./types";

export interface PrivacySettings {
  consent_required?: boolean;
  storage?: string;
  retention_messages_days?: number | null;
  retention_visitors_days?: number | null;
  retention_attachments_days?: number | null;
}

const RETENTION = [
  ["retention_messages_days", "retentionMessages"],
  ["retention_visitors_days", "retentionVisitors"],
  ["retention_attachments_days", "retentionAttachments"],
] as const;

/** The settings form's privacy fieldset; `read()` gives the settings to save (an empty box keeps data). */
export function privacySettings(s: PrivacySettings): { root: HTMLElement; read: () => Record<string, unknown> } {
  const consent = h("input", { attrs: { type: "checkbox" }, props: { checked: s.consent_required === true } });
  const boxes = RETENTION.map(([key, label]) => {
    const value = s[key];
    const input = h("input", { attrs: { type: "number", min: 1, max: 3650 }, props: { value: value ? String(value) : "" } });
    return { key, input, row: field(t(label), input, `site-${key.replace(/_/g, "-")}`) };
  });
  const root = h("fieldset", null, h("legend", null, t("privacy")), h("label", null, consent, " ", t("consentRequired")), boxes.map((b) => b.row));
  return {
    root,
    read: () => {
      const out: Record<string, unknown> = { consent_required: consent.checked };
      for (const b of boxes) {
        const days = Math.round(Number(b.input.value));
        out[b.key] = b.input.value.trim() && days >= 1 ? Math.min(3650, days) : null;
      }
      return out;
    },
  };
}

interface AuditEntry {
  id: string;
  at: number;
  actor: { kind: string; id: string };
  action: string;
  target: string;
  details: Record<string, unknown>;
}

/** The audit log of a site, newest first (owners only: the caller checks the role). */
export function auditSection(path: string, desk: Desk): HTMLElement {
  const body = h("tbody");
  const root = h(
    "section",
    { class: "card audit" },
    h("h2", null, t("auditLog")),
    h("table", null, h("thead", null, h("tr", null, h("th", null, t("auditWhen")), h("th", null, t("auditWho")), h("th", null, t("auditWhat")))), body),
  );
  api<{ entries: AuditEntry[] }>("GET", path + "/audit" + query({ limit: 100 }))
    .then(({ entries }) => {
      if (!entries.length) {
        mount(body, h("tr", null, h("td", { attrs: { colspan: 3 } }, t("auditEmpty"))));
        return;
      }
      mount(
        body,
        entries.map((e) => {
          const who = e.actor.kind === "agent" ? desk.presence.get(e.actor.id)?.name || e.actor.id : e.actor.kind === "system" ? "Papote" : "API";
          const details = Object.keys(e.details).length ? " " + JSON.stringify(e.details) : "";
          return h("tr", null, h("td", null, dateTime(e.at)), h("td", null, who), h("td", null, h("code", null, e.action), e.target ? ` ${e.target}` : "", details));
        }),
      );
    })
    .catch((err: unknown) => mount(body, h("tr", null, h("td", { class: "form-error", attrs: { colspan: 3 } }, t("error", { message: (err as Error).message })))));
  return root;
}

/** The visitor panel's privacy actions, for admins and owners of the conversation's site. */
export function privacyActions(desk: Desk, conv: AgentConversation): HTMLElement | null {
  const site = desk.siteOf(conv);
  if (!site || site.role === "agent" || !conv.visitor) return null;
  const path = `/api/sites/${encodeURIComponent(site.key)}/visitors/${encodeURIComponent(conv.visitor.id)}`;
  const status = statusLine();
  const failed = (err: unknown): void => {
    status.textContent = t("error", { message: (err as Error).message });
    status.classList.add("form-error");
  };
  const exportData = (): void => {
    api<{ visitor_id: string }>("GET", path + "/export")
      .then((data) => {
        const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
        const link = h("a", { attrs: { href: url, download: `visitor-${data.visitor_id}.json` } });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      })
      .catch(failed);
  };
  const erase = (): void => {
    if (!confirm(t("eraseConfirm"))) return;
    api("DELETE", path)
      .then(() => {
        status.textContent = t("erasedVisitor");
        status.classList.remove("form-error");
      })
      .catch(failed);
  };
  return h(
    "section",
    { class: "privacy" },
    h("h4", null, t("privacy")),
    h("button", { class: "link", attrs: { type: "button" }, on: { click: exportData } }, t("exportVisitor")),
    " ",
    h("button", { class: "link danger", attrs: { type: "button" }, on: { click: erase } }, t("eraseVisitor")),
    status,
  );
}

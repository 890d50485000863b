// Site settings, Webhooks: a site's endpoints (add, remove, rotate the secret) and each one's delivery log
// (attempts with status code, latency and error; re-send). docs/channels.md, "Webhooks".

import { api } from "./api";
import { h, mount } from "./dom";
import { showFailure, statusLine } from "./form_status";
import { dateTime, t } from "./i18n";

export const EVENT_TYPES = [
  "message.created",
  "conversation.opened",
  "conversation.closed",
  "conversation.reopened",
  "conversation.assigned",
  "conversation.rated",
] as const;

const STATUS_TEXT = { queued: "deliveryQueued", sending: "deliverySending", sent: "deliverySent", failed: "deliveryFailed" } as const;

interface Endpoint {
  id: string;
  url: string;
  events: string[];
  description: string;
  created_at: number;
  rotating_until: number | null;
  secret?: string;
}

interface Attempt {
  attempt: number;
  at: number;
  status_code: number | null;
  latency_ms: number;
  error: string;
}

interface Delivery {
  id: string;
  webhook_id: string;
  type: string;
  conversation: string | null;
  status: "queued" | "sending" | "sent" | "failed";
  body: string;
  attempts: Attempt[];
  error: string;
  created_at: number;
  sent_at: number | null;
  next_attempt_at: number | null;
}

/** The section: it loads its own data, and redraws itself after every change. */
export function webhooksSection(path: string): HTMLElement {
  const section = h("section", { class: "card webhooks", attrs: { "aria-labelledby": "webhooks-title" } });
  const shown = h("div", { class: "webhook-secret" });
  const draw = (): void => {
    api<{ endpoints: Endpoint[] }>("GET", path + "/webhooks")
      .then((data) => mount(section, ...content(data.endpoints, path, shown, draw)))
      .catch((err: unknown) => {
        const status = h("p", { class: "form-status" });
        showFailure(status, err);
        mount(section, h("h2", { attrs: { id: "webhooks-title" } }, t("webhooks")), status);
      });
  };
  draw();
  return section;
}

function secretNote(shown: HTMLElement, endpoint: Endpoint): void {
  if (endpoint.secret) mount(shown, h("p", null, t("webhookSecretOnce")), h("code", { class: "secret" }, endpoint.secret));
}

function content(endpoints: Endpoint[], path: string, shown: HTMLElement, redraw: () => void): HTMLElement[] {
  const status = statusLine();
  const url = h("input", { attrs: { type: "url", required: true, placeholder: "https://…", "aria-label": t("webhookUrl"), maxlength: 2000 } });
  const boxes = EVENT_TYPES.map((type) => h("input", { attrs: { type: "checkbox", value: type }, props: { checked: type === "message.created" } }));
  const list = h(
    "ul",
    { class: "webhook-list" },
    endpoints.map((e) => endpointRow(e, path, shown, status, redraw)),
  );
  const form = h(
    "form",
    {
      class: "webhook-add",
      on: {
        submit: (ev) => {
          ev.preventDefault();
          const events = boxes.filter((b) => b.checked).map((b) => b.value);
          api<Endpoint>("POST", path + "/webhooks", { url: url.value.trim(), events })
            .then((endpoint) => {
              secretNote(shown, endpoint);
              redraw();
            })
            .catch((err: unknown) => showFailure(status, err));
        },
      },
    },
    h("div", { class: "row" }, url, h("button", { class: "primary", attrs: { type: "submit" } }, t("addWebhook"))),
    h(
      "fieldset",
      null,
      h("legend", null, t("webhookEvents")),
      EVENT_TYPES.map((type, i) => h("label", { class: "check" }, boxes[i], " ", h("code", null, type))),
    ),
  );
  return [
    h("h2", { attrs: { id: "webhooks-title" } }, t("webhooks")),
    h("p", { class: "help" }, t("webhooksHelp")),
    endpoints.length ? list : h("p", null, t("noWebhooks")),
    form,
    shown,
    status,
  ];
}

function endpointRow(e: Endpoint, path: string, shown: HTMLElement, status: HTMLElement, redraw: () => void): HTMLElement {
  const one = `${path}/webhooks/${encodeURIComponent(e.id)}`;
  const log = h("div", { class: "webhook-log" });
  const act = (method: string, suffix: string, then: (data: Endpoint) => void): void => {
    api<Endpoint>(method, one + suffix)
      .then(then)
      .catch((err: unknown) => showFailure(status, err));
  };
  return h(
    "li",
    { class: "webhook", attrs: { "data-endpoint": e.id } },
    h("div", { class: "row" }, h("code", { class: "webhook-url" }, e.url)),
    h("div", { class: "muted" }, e.events.join(", ")),
    e.rotating_until ? h("div", { class: "muted" }, t("webhookRotating", { until: dateTime(e.rotating_until) })) : null,
    h(
      "div",
      { class: "row" },
      h("button", { attrs: { type: "button" }, on: { click: () => void drawLog(log, one) } }, t("deliveryLog")),
      h(
        "button",
        {
          attrs: { type: "button" },
          on: {
            click: () =>
              act("POST", "/rotate", (data) => {
                secretNote(shown, data);
                redraw();
              }),
          },
        },
        t("rotateSecret"),
      ),
      h(
        "button",
        {
          class: "danger",
          attrs: { type: "button" },
          on: {
            click: () => {
              if (window.confirm(t("removeWebhookConfirm", { url: e.url }))) act("DELETE", "", () => redraw());
            },
          },
        },
        t("remove"),
      ),
    ),
    log,
  );
}

async function drawLog(log: HTMLElement, one: string): Promise<void> {
  const status = statusLine();
  let deliveries: Delivery[];
  try {
    deliveries = (await api<{ deliveries: Delivery[] }>("GET", `${one}/deliveries?limit=50`)).deliveries;
  } catch (err) {
    showFailure(status, err);
    mount(log, status);
    return;
  }
  const rows = deliveries.map((d) =>
    h(
      "tr",
      { attrs: { "data-delivery": d.id } },
      h("td", null, dateTime(d.created_at)),
      h("td", null, h("code", null, d.type)),
      h("td", { class: `delivery-${d.status}` }, t(STATUS_TEXT[d.status])),
      h(
        "td",
        null,
        d.attempts.map((a) =>
          h(
            "div",
            { class: "attempt" },
            `#${a.attempt} ${a.status_code ?? "—"} · ${a.latency_ms} ms`,
            a.error ? h("span", { class: "muted" }, ` · ${a.error}`) : null,
          ),
        ),
      ),
      h(
        "td",
        null,
        d.status === "sent" || d.status === "failed"
          ? h(
              "button",
              {
                attrs: { type: "button" },
                on: {
                  click: () =>
                    void api("POST", `${one}/deliveries/${encodeURIComponent(d.id)}/resend`)
                      .then(() => drawLog(log, one))
                      .catch((err: unknown) => showFailure(status, err)),
                },
              },
              t("resend"),
            )
          : null,
      ),
    ),
  );
  mount(
    log,
    deliveries.length
      ? h(
          "table",
          { class: "webhook-deliveries" },
          h(
            "thead",
            null,
            h("tr", null, h("th", null, t("when")), h("th", null, t("eventType")), h("th", null, t("deliveryStatus")), h("th", null, t("attempts")), h("th", null, t("resend"))),
          ),
          h("tbody", null, rows),
        )
      : h("p", null, t("noDeliveries")),
    status,
  );
}

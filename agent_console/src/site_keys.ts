// The site's keys and secrets: the snippet that names the site, the secrets that sign visitors'
// identities, and the API keys of the REST API.

import { api } from "./api";
import { h, mount } from "./dom";
import { showDone, showFailure, statusLine } from "./form_status";
import { t } from "./i18n";

export interface ApiKey {
  id: string;
  name: string;
  created_at: number;
}

export function snippetSection(snippet: string): HTMLElement {
  const code = h("pre", { class: "code snippet" }, snippet);
  const status = statusLine();
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
              .then(() => showDone(status, t("copied")))
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

export function secretsSection(secrets: string[], path: string): HTMLElement {
  const list = h("ul", { class: "secrets" }, secrets.map((s, i) => secretItem(s, i + 1)));
  const status = statusLine();
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
                showDone(status);
              })
              .catch((err: unknown) => showFailure(status, err));
          },
        },
      },
      t("rotate"),
    ),
    status,
  );
}

export function keysSection(keys: ApiKey[], path: string, redraw: () => void): HTMLElement {
  const status = statusLine();
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
            { attrs: { type: "button" }, on: { click: () => void api("DELETE", `${path}/keys/${encodeURIComponent(k.id)}`).then(redraw).catch((err: unknown) => showFailure(status, err)) } },
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
              .catch((err: unknown) => showFailure(status, err));
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

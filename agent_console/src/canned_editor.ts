// Canned responses in the site's settings: the shortcuts agents type as /shortcut in a reply.

import { api } from "./api";
import { type Desk } from "./desk";
import { h } from "./dom";
import { showFailure, statusLine } from "./form_status";
import { t } from "./i18n";
import type { CannedResponse } from "./types";

export function cannedSection(items: CannedResponse[], path: string, desk: Desk, redraw: () => void): HTMLElement {
  const status = statusLine();
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
              on: { click: () => void api("DELETE", `${path}/canned/${encodeURIComponent(c.id)}`).then(after).catch((err: unknown) => showFailure(status, err)) },
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
              .catch((err: unknown) => showFailure(status, err));
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

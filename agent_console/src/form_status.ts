// The line under a form that says how its last action went. A live region (role "status"), so a
// screen reader hears "Saved." or the error without the focus moving.

import { h } from "./dom";
import { t } from "./i18n";

export function statusLine(): HTMLElement {
  return h("p", { class: "form-status", attrs: { role: "status" } });
}

export function showDone(status: HTMLElement, text = t("saved")): void {
  status.textContent = text;
  status.classList.remove("form-error");
}

export function showFailure(status: HTMLElement, err: unknown): void {
  status.textContent = t("error", { message: (err as Error).message });
  status.classList.add("form-error");
}

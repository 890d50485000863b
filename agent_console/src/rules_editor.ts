// Proactive rules in the site's settings (docs/widget-api.md): what the widget says unasked, and when.

import { field, h } from "./dom";
import { t } from "./i18n";

export interface Rule {
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
export function rulesEditor(initial: Rule[]): { root: HTMLElement; read: () => Rule[] } {
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

// Opening hours in the site's settings: the time zone, and the week's opening spans.

import { h } from "./dom";
import { t } from "./i18n";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

/** Every IANA zone this browser knows, as suggestions for a text box that filters as one types (a
 * select of ~400 options is not searchable). The server checks the name whatever is typed. */
export function timeZoneInput(value: string): [HTMLInputElement, HTMLElement] {
  const known = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  const zones = known.includes("UTC") ? known : [...known, "UTC"];
  const input = h("input", {
    attrs: { type: "text", list: "site-tz-list", placeholder: "Europe/Paris", autocomplete: "off", spellcheck: "false" },
    props: { value },
  });
  return [input, h("datalist", { attrs: { id: "site-tz-list" } }, zones.map((z) => h("option", { attrs: { value: z } })))];
}

export type Span = [string, string];

/** The week's opening spans: any number per day (a lunch break is two spans), each with its own
 * remove button. `read()` returns the days to save, or the reason they cannot be saved. */
export function hoursEditor(initial: Record<string, Span[]>): { root: HTMLElement; read: () => Record<string, Span[]> | string } {
  const rows = new Map<string, HTMLElement>();
  const spanRow = (day: string, span: Span | null): HTMLElement => {
    const open = h("input", { class: "span-open", attrs: { type: "time", "aria-label": t("opensAt", { day: t(day as Day) }) }, props: { value: span?.[0] ?? "" } });
    const close = h("input", { class: "span-close", attrs: { type: "time", "aria-label": t("closesAt", { day: t(day as Day) }) }, props: { value: span?.[1] ?? "" } });
    const item: HTMLElement = h(
      "li",
      { class: "span" },
      open,
      h("span", { attrs: { "aria-hidden": "true" } }, "–"),
      close,
      h("button", { class: "link", attrs: { type: "button", "aria-label": t("removeSpan", { day: t(day as Day) }) }, on: { click: () => item.remove() } }, "×"),
    );
    return item;
  };
  // Each day is a named group (its spans and buttons); a list item may not be a group.
  const root = h(
    "div",
    { class: "days" },
    DAYS.map((d) => {
      const list = h("ul", { class: "spans" }, (initial[d] ?? []).map((span) => spanRow(d, span)));
      rows.set(d, list);
      return h(
        "div",
        { class: "day", attrs: { role: "group", "aria-label": t(d) } },
        h("span", { class: "day-name" }, t(d)),
        list,
        h("button", { class: "link", attrs: { type: "button", "aria-label": t("addSpan", { day: t(d) }) }, on: { click: () => list.append(spanRow(d, null)) } }, "+ " + t("addSpanShort")),
      );
    }),
  );
  const read = (): Record<string, Span[]> | string => {
    const days: Record<string, Span[]> = {};
    for (const [day, list] of rows) {
      for (const item of list.querySelectorAll<HTMLElement>(".span")) {
        const open = item.querySelector<HTMLInputElement>(".span-open")?.value ?? "";
        const close = item.querySelector<HTMLInputElement>(".span-close")?.value ?? "";
        if (!open && !close) continue; // an empty row is no span
        if (!open || !close) return t("spanIncomplete", { day: t(day as Day) });
        (days[day] ??= []).push([open, close]);
      }
    }
    return days;
  };
  return { root, read };
}

type Day = (typeof DAYS)[number];

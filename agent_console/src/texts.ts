// A site's texts in other languages (settings.translations): one card per language with its greeting,
// away message and a message per proactive rule. What is saved is the JSON the REST API takes; an empty
// text means "the default one" and the server does not store it.

import { field, h } from "./dom";
import { t } from "./i18n";

export interface Translation {
  greeting?: string;
  away?: string;
  rules?: Record<string, string>;
}

interface RuleRef {
  id: string;
}

export function translationsEditor(
  initial: Record<string, Translation>,
  rules: RuleRef[],
): { root: HTMLElement; read: () => Record<string, Translation> } {
  const list = h("ol", { class: "rules translations" });
  const readers = new Map<HTMLElement, () => [string, Translation]>();
  let made = 0;
  const add = (lang: string, texts: Translation): void => {
    const n = ++made;
    const id = `lang-${n}`;
    const code = h("input", {
      attrs: { type: "text", pattern: "[a-z]{2}", maxlength: 2, required: true, autocomplete: "off" },
      props: { value: lang },
    });
    const greeting = h("textarea", { attrs: { rows: 2, maxlength: 500 }, props: { value: texts.greeting ?? "" } });
    const away = h("textarea", { attrs: { rows: 2, maxlength: 500 }, props: { value: texts.away ?? "" } });
    // The rules the site has, and any the translation names (saved before a rename, kept until saved).
    const ids = [...new Set([...rules.map((r) => r.id), ...Object.keys(texts.rules ?? {})])];
    const messages = ids.map((rid, i) => {
      const box = h("textarea", { attrs: { rows: 2, maxlength: 1000 }, props: { value: texts.rules?.[rid] ?? "" } });
      return [rid, box, field(t("translationRule", { id: rid }), box, `${id}-rule-${i}`)] as const;
    });
    const name = (): string => code.value.trim() || t("newLanguage");
    const item: HTMLElement = h(
      "li",
      { class: "rule", attrs: { role: "group", "aria-label": t("translationN", { lang: name() }) } },
      field(t("translationLang"), code, `${id}-code`),
      field(t("translationGreeting"), greeting, `${id}-greeting`),
      field(t("translationAway"), away, `${id}-away`),
      messages.map(([, , f]) => f),
      h("button", { attrs: { type: "button" }, on: { click: () => (readers.delete(item), item.remove()) } }, t("removeLanguage", { lang: name() })),
    );
    code.addEventListener("input", () => item.setAttribute("aria-label", t("translationN", { lang: name() })));
    readers.set(item, () => {
      const out: Translation = { greeting: greeting.value, away: away.value, rules: {} };
      for (const [rid, box] of messages) if (box.value.trim()) out.rules![rid] = box.value;
      return [code.value.trim().toLowerCase(), out];
    });
    list.append(item);
  };
  for (const [lang, texts] of Object.entries(initial)) add(lang, texts);
  const root = h(
    "fieldset",
    { class: "rules-box" },
    h("legend", null, t("translations")),
    h("p", { class: "muted small" }, t("translationsHelp")),
    list,
    h("button", { attrs: { type: "button" }, on: { click: () => add("", {}) } }, t("addLanguage")),
  );
  const read = (): Record<string, Translation> => {
    const out: Record<string, Translation> = {};
    for (const item of list.querySelectorAll<HTMLElement>(".rule")) {
      const [lang, texts] = readers.get(item)!();
      if (lang) out[lang] = texts;
    }
    return out;
  };
  return { root, read };
}

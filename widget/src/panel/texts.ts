// The site owner's texts (greeting, away text, proactive messages) in the visitor's language: the
// translation for the first of the visitor's languages the site has one for, else the default texts.
// The server quotes an answered proactive message by the same rule (sites.py, `localized`), from the
// same two languages the hello sends: the widget's own and the browser's.

import type { ProactiveRule, SiteInfo, SiteTranslation } from "../client/frames";

/** The first preference (a tag such as fr-CA) whose two-letter base the site has texts in. */
export function pickLanguage(available: Record<string, unknown>, preferences: (string | null | undefined)[]): string | null {
  for (const tag of preferences) {
    if (!tag) continue;
    const base = tag.toLowerCase().replace("_", "-").split("-")[0];
    if (Object.prototype.hasOwnProperty.call(available, base)) return base;
  }
  return null;
}

export interface SiteTexts {
  /** The owner's greeting, or "" for the widget's own. */
  greeting: string;
  /** The owner's away text, or "" for the widget's own. */
  away: string;
  rule(rule: ProactiveRule): string;
}

export function siteTexts(site: SiteInfo | null, preferences: (string | null | undefined)[]): SiteTexts {
  const translations = site?.translations || {};
  const lang = pickLanguage(translations, preferences);
  const texts: SiteTranslation = (lang && translations[lang]) || {};
  return {
    greeting: texts.greeting || site?.greeting || "",
    away: texts.away || site?.away || "",
    rule: (rule) => texts.rules?.[rule.id] || rule.message,
  };
}

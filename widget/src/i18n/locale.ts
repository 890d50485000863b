// Locale choice, shared by the loader and the panel. English and French ship; any other language
// falls back to English. Order of preference: the visitor's explicit choice (setLocale), the
// host page's papoteSettings.locale, the browser's languages, then the site's default.

export type Locale = "en" | "fr";
export const LOCALES: readonly Locale[] = ["en", "fr"];

export function toLocale(tag: string | null | undefined): Locale | null {
  if (!tag) return null;
  const base = tag.toLowerCase().split(/[-_]/)[0];
  return (LOCALES as readonly string[]).includes(base) ? (base as Locale) : null;
}

export function pickLocale(...preferences: (string | null | undefined)[]): Locale {
  for (const pref of preferences) {
    const locale = toLocale(pref);
    if (locale) return locale;
  }
  return "en";
}

export function browserLanguages(): string[] {
  if (typeof navigator === "undefined") return [];
  return navigator.languages?.length ? [...navigator.languages] : [navigator.language];
}

/** Fills `{name}` placeholders. */
export function format(template: string, vars?: Record<string, string | number>): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in vars ? String(vars[key]) : whole));
}

// The picker's data made searchable, and the pure rules it follows (search, recent emoji). No DOM:
// tested with node (widget/test/emoji.test.ts).

import { type CategoryId, EMOJI_DATA } from "./data";

export type { CategoryId };
export type PickerLocale = "en" | "fr";

export interface EmojiEntry {
  emoji: string;
  category: CategoryId;
  /** What a screen reader says, in each language: the first name of each list. */
  name: Record<PickerLocale, string>;
  /** Every name in both languages, folded (lower case, no accents): what a search matches. */
  words: string[];
}

/** Recent emoji remembered per browser: a row and a half of the grid. */
export const RECENT_MAX = 16;

/** Lower case, accents and ligatures folded ("Cœur" → "coeur", "É" → "e"), apostrophes unified. */
export function fold(text: string): string {
  return text
    .toLowerCase()
    .replace(/œ/g, "oe")
    .replace(/æ/g, "ae")
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[’‘`]/g, "'");
}

export function parseCatalog(data: readonly [CategoryId, string][] = EMOJI_DATA): EmojiEntry[] {
  const out: EmojiEntry[] = [];
  for (const [category, packed] of data) {
    for (const raw of packed.split(";")) {
      const space = raw.indexOf(" ");
      if (space < 1) continue;
      const [en, fr = ""] = raw.slice(space + 1).split("|");
      const enNames = en.split(",").map((n) => n.trim()).filter(Boolean);
      const frNames = fr.split(",").map((n) => n.trim()).filter(Boolean);
      out.push({
        emoji: raw.slice(0, space),
        category,
        name: { en: enNames[0] ?? "", fr: frNames[0] ?? enNames[0] ?? "" },
        words: [...enNames, ...frNames].map(fold),
      });
    }
  }
  return out;
}

/** The entries whose names hold every word of `query` at the start of one of their words, in
 * either language ("thumb" and "pouce" both find 👍); a name equal to the query comes first, then
 * names that start with it, then the catalogue's order. */
export function searchEmoji(entries: readonly EmojiEntry[], query: string): EmojiEntry[] {
  const terms = fold(query).split(/[\s,]+/).filter(Boolean);
  if (!terms.length) return [];
  const scored: [number, number, EmojiEntry][] = [];
  entries.forEach((entry, index) => {
    const words = entry.words.flatMap((name) => name.split(/[\s'-]+/));
    if (!terms.every((term) => words.some((w) => w.startsWith(term)))) return;
    // A name that is the query ranks first ("heart" → ❤️), then names that start with it.
    const whole = terms.join(" ");
    const score = entry.words.includes(whole) ? 0 : entry.words.some((name) => name.startsWith(terms[0])) ? 1 : 2;
    scored.push([score, index, entry]);
  });
  scored.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return scored.map((s) => s[2]);
}

/** The recent list after choosing `emoji`: it moves to the front, the list stays bounded. */
export function pushRecent(recent: readonly string[], emoji: string, max = RECENT_MAX): string[] {
  return [emoji, ...recent.filter((e) => e !== emoji)].slice(0, max);
}

/** The cell index the arrow keys, Home and End move to in a grid of `count` cells, `columns` wide. */
export function moveInGrid(index: number, key: string, count: number, columns: number, ctrl = false): number {
  if (count <= 0) return 0;
  const last = count - 1;
  const rowStart = index - (index % columns);
  switch (key) {
    case "ArrowRight":
      return Math.min(index + 1, last);
    case "ArrowLeft":
      return Math.max(index - 1, 0);
    case "ArrowDown":
      return index + columns <= last ? index + columns : index;
    case "ArrowUp":
      return index - columns >= 0 ? index - columns : index;
    case "Home":
      return ctrl ? 0 : rowStart;
    case "End":
      return ctrl ? last : Math.min(rowStart + columns - 1, last);
    case "PageDown":
      return Math.min(index + columns * 4, last);
    case "PageUp":
      return Math.max(index - columns * 4, 0);
    default:
      return index;
  }
}

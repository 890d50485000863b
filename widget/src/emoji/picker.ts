// The emoji picker: a lazily loaded chunk (emoji.js), fetched the first time a composer's emoji button
// is pressed (load.ts), so neither the widget's panel nor the console pays for the data up front.
// It announces itself to the script element that loaded it (a `papote:emoji` event whose detail is
// the module), which leaves no global behind and works for several composers on one page.
//
// A non-modal dialog: a search field, the categories (with the recent emoji first), and a grid the
// arrow keys move through (one tab stop: the active cell). Enter or a click chooses; Escape closes and
// gives focus back to the button; typing in the grid goes to the search.

import { type CategoryId, type EmojiEntry, type PickerLocale, moveInGrid, parseCatalog, pushRecent, searchEmoji } from "./catalog";

export interface RecentStore {
  load(): string[];
  save(list: string[]): void;
}

export interface PickerOptions {
  /** Where the picker is drawn (the host's CSS places `.pk` in it). */
  container: HTMLElement;
  locale: PickerLocale;
  recent: RecentStore;
  /** Adds the picker's CSS where it applies (the widget's shadow root, the console's document); once. */
  addCss(css: string): void;
  /** A press here does not count as outside (the button that toggles the picker). */
  ignore?: HTMLElement;
  onPick(emoji: string): void;
  /** `byKey`: closed with Escape (focus goes back to the button); else by a click outside or a pick. */
  onClose(byKey: boolean): void;
}

export interface PickerHandle {
  readonly element: HTMLElement;
  close(): void;
}

export interface EmojiPickerModule {
  open(options: PickerOptions): PickerHandle;
}

/** Cells per row of the grid. */
const COLUMNS = 8;

const STRINGS: Record<PickerLocale, Record<CategoryId | "dialog" | "search" | "categories" | "recent" | "results" | "none", string>> = {
  en: {
    dialog: "Emoji picker", search: "Search emoji", categories: "Categories", recent: "Recent", results: "Search results",
    none: "No emoji found", smileys: "Smileys", people: "People and gestures", hearts: "Hearts and symbols",
    nature: "Animals and nature", food: "Food and drink", activities: "Activities", travel: "Travel and places",
    objects: "Objects",
  },
  fr: {
    dialog: "Sélecteur d’émojis", search: "Rechercher un émoji", categories: "Catégories", recent: "Récents",
    results: "Résultats de la recherche", none: "Aucun émoji trouvé", smileys: "Smileys", people: "Personnes et gestes",
    hearts: "Cœurs et symboles", nature: "Animaux et nature", food: "Nourriture et boissons", activities: "Activités",
    travel: "Voyages et lieux", objects: "Objets",
  },
};

const CSS = `
.pk{z-index:5;width:316px;max-width:calc(100% - 16px);height:330px;display:flex;flex-direction:column;gap:6px;padding:8px;box-sizing:border-box;background:var(--p-bg,var(--panel,#fff));color:var(--p-fg,var(--fg,#1f2328));border:1px solid var(--p-edge,var(--line,#cfd5dd));border-radius:12px;box-shadow:0 8px 28px rgba(0,0,0,.22);font-size:14px}
.pk input{flex:none;height:auto;width:100%;box-sizing:border-box;font:inherit;font-size:15px;padding:6px 8px;border-radius:8px;border:1px solid var(--p-edge,var(--line,#cfd5dd));background:var(--p-bg,var(--field,#fff));color:inherit}
.pk-cats{display:flex;gap:2px;flex-wrap:nowrap;overflow-x:auto}
.pk-cats button{flex:none;width:32px;height:32px;border:0;border-radius:8px;background:transparent;cursor:pointer;font-size:18px;line-height:1;padding:0;color:inherit}
.pk-cats button[aria-pressed=true]{background:var(--p-note,var(--active,#eef0ff));box-shadow:inset 0 -2px 0 var(--papote-color,var(--accent,#4f46e5))}
.pk-grid{flex:1;overflow-y:auto;outline:none}
.pk-row{display:flex}
.pk-cell{width:34px;height:34px;display:flex;align-items:center;justify-content:center;font-size:22px;border-radius:8px;cursor:pointer;user-select:none}
.pk-cell:hover,.pk-cell:focus{background:var(--p-note,var(--active,#eef0ff))}
.pk-cell:focus-visible,.pk button:focus-visible,.pk input:focus-visible{outline:3px solid #ffbf47;outline-offset:-2px}
.pk-none{color:var(--p-muted,var(--muted,#4b5563));padding:8px;font-size:13px}
`;

let catalog: EmojiEntry[] | null = null;
const cssAdded = new WeakSet<(css: string) => void>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function open(options: PickerOptions): PickerHandle {
  catalog ??= parseCatalog();
  const all = catalog;
  if (!cssAdded.has(options.addCss)) {
    cssAdded.add(options.addCss);
    options.addCss(CSS);
  }
  const t = STRINGS[options.locale] ?? STRINGS.en;
  const byEmoji = new Map(all.map((e) => [e.emoji, e]));
  let recent = options.recent.load().filter((e) => byEmoji.has(e));
  const categories: (CategoryId | "recent")[] = [];
  for (const e of all) if (!categories.includes(e.category)) categories.push(e.category);
  let category: CategoryId | "recent" = recent.length ? "recent" : categories[0];
  let shown: EmojiEntry[] = [];
  let active = 0;
  let closed = false;

  const root = el("div", { class: "pk", role: "dialog", "aria-label": t.dialog });
  const search = el("input", { type: "search", "aria-label": t.search, placeholder: t.search, autocomplete: "off", spellcheck: "false" });
  const cats = el("div", { class: "pk-cats", role: "group", "aria-label": t.categories });
  const grid = el("div", { class: "pk-grid", role: "grid" });
  const none = el("div", { class: "pk-none", role: "status" });
  root.append(search, cats, grid, none);

  const drawCategories = (): void => {
    cats.replaceChildren();
    for (const id of recent.length ? ["recent" as const, ...categories] : categories) {
      const icon = id === "recent" ? "🕘" : (all.find((e) => e.category === id)?.emoji ?? "");
      const b = el("button", { type: "button", "aria-label": t[id], title: t[id], "aria-pressed": String(id === category && !search.value) }, icon);
      b.addEventListener("click", () => {
        category = id;
        search.value = "";
        draw(false);
      });
      cats.append(b);
    }
  };

  const cells = (): HTMLElement[] => Array.from(grid.querySelectorAll<HTMLElement>(".pk-cell"));

  const draw = (focusGrid: boolean): void => {
    const query = search.value.trim();
    shown = query
      ? searchEmoji(all, query)
      : category === "recent"
        ? recent.map((e) => byEmoji.get(e)!).filter(Boolean)
        : all.filter((e) => e.category === category);
    active = 0;
    grid.setAttribute("aria-label", query ? t.results : t[category]);
    grid.replaceChildren();
    let row: HTMLElement | null = null;
    shown.forEach((entry, i) => {
      if (i % COLUMNS === 0) {
        row = el("div", { class: "pk-row", role: "row" });
        grid.append(row);
      }
      const cell = el("span", { class: "pk-cell", role: "gridcell", tabindex: i === 0 ? "0" : "-1", "aria-label": entry.name[options.locale] || entry.name.en, title: entry.name[options.locale] || entry.name.en }, entry.emoji);
      cell.dataset.index = String(i);
      row!.append(cell);
    });
    none.textContent = shown.length ? "" : t.none;
    drawCategories();
    if (focusGrid) cells()[0]?.focus();
  };

  const focusCell = (index: number): void => {
    const list = cells();
    if (!list.length) return;
    list[active]?.setAttribute("tabindex", "-1");
    active = Math.max(0, Math.min(index, list.length - 1));
    const cell = list[active];
    cell.setAttribute("tabindex", "0");
    cell.focus();
  };

  const pick = (index: number): void => {
    const entry = shown[index];
    if (!entry) return;
    recent = pushRecent(recent, entry.emoji);
    options.recent.save(recent);
    options.onPick(entry.emoji);
    close(false);
  };

  const close = (byKey: boolean): void => {
    if (closed) return;
    closed = true;
    document.removeEventListener("mousedown", outside, true);
    root.remove();
    options.onClose(byKey);
  };

  const outside = (event: Event): void => {
    const path = event.composedPath();
    if (path.includes(root) || (options.ignore && path.includes(options.ignore))) return;
    close(false);
  };

  search.addEventListener("input", () => draw(false));
  search.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      focusCell(0);
    } else if (e.key === "Enter") {
      e.preventDefault();
      pick(0);
    }
  });
  grid.addEventListener("click", (e) => {
    const cell = (e.target as HTMLElement).closest<HTMLElement>(".pk-cell");
    if (cell) pick(Number(cell.dataset.index));
  });
  grid.addEventListener("keydown", (e) => {
    const cell = (e.target as HTMLElement).closest<HTMLElement>(".pk-cell");
    if (!cell) return;
    const index = Number(cell.dataset.index);
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      pick(index);
      return;
    }
    const next = moveInGrid(index, e.key, shown.length, COLUMNS, e.ctrlKey);
    if (next !== index || e.key.startsWith("Arrow") || e.key === "Home" || e.key === "End" || e.key.startsWith("Page")) {
      e.preventDefault();
      focusCell(next);
      return;
    }
    // A letter typed in the grid is a search.
    if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      search.value += e.key;
      search.focus();
      draw(false);
    }
  });
  root.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      // The picker closes, not the panel or dialog around it.
      e.preventDefault();
      e.stopPropagation();
      close(true);
    }
  });

  draw(false);
  options.container.append(root);
  document.addEventListener("mousedown", outside, true);
  search.focus();
  return { element: root, close: () => close(false) };
}

const api: EmojiPickerModule = { open };
// Hand the module to whoever loaded this script (load.ts listens on the script element).
document.currentScript?.dispatchEvent(new CustomEvent("papote:emoji", { detail: api }));

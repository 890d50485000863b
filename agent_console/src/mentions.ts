// @mentions in private notes: the "@" picker of the reply box, what a note sends, and how a note shows
// who it mentions.
//
// The draft remembers which agent each `@Name` inserted stands for (names are not unique, ids are):
// at send, only those whose `@Name` is still in the text are mentioned. A name typed by hand is not a
// mention — the picker is the one way to make one, so a note never alerts someone by accident.
// Mentions go with notes only: a reply reaches the visitor, and the server refuses them on it.

import { h } from "./dom";
import { t } from "./i18n";
import type { AgentPresence } from "./types";

/** What the server takes at most per note (docs/protocol.md, "send"). */
export const MAX_MENTIONS = 20;
/** Rows the picker shows: enough for a team, short enough to stay above the reply box. */
const MAX_CHOICES = 8;

/** Case and accents aside: "@lea" finds Léa. */
function fold(text: string): string {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `@Name` counts only as a whole: "@Bob" is not in "@Bobby". */
const NAME_END = "(?![\\p{L}\\p{N}_])";

export function displayName(agent: { id: string; name?: string }): string {
  return agent.name || agent.id;
}

/** The `@word` right before the caret (at least one letter typed after an `@` that starts a word). */
export function mentionToken(value: string, caret: number): { start: number; word: string } | null {
  const m = /(^|\s)@([\p{L}\p{N}_.'-]+)$/u.exec(value.slice(0, caret));
  if (!m) return null;
  return { start: caret - m[2].length - 1, word: m[2] };
}

/** Agents whose name starts with `word` first, then those whose name contains it. */
export function mentionMatches(agents: AgentPresence[], word: string): AgentPresence[] {
  const q = fold(word);
  const starts: AgentPresence[] = [];
  const contains: AgentPresence[] = [];
  for (const a of agents) {
    const name = fold(displayName(a));
    if (name.startsWith(q) || name.split(/\s+/).some((part) => part.startsWith(q))) starts.push(a);
    else if (name.includes(q)) contains.push(a);
  }
  const byName = (x: AgentPresence, y: AgentPresence): number => displayName(x).localeCompare(displayName(y));
  return [...starts.sort(byName), ...contains.sort(byName)].slice(0, MAX_CHOICES);
}

/** The ids a note mentions: those picked whose `@Name` the text still holds, each once. */
export function mentionsIn(text: string, picked: ReadonlyMap<string, string>): string[] {
  const ids: string[] = [];
  for (const [name, id] of picked) {
    if (ids.includes(id)) continue;
    if (new RegExp(`(^|[^\\p{L}\\p{N}_])@${escapeRegExp(name)}${NAME_END}`, "u").test(text)) ids.push(id);
  }
  return ids.slice(0, MAX_MENTIONS);
}

/** The ids a stored note mentions (`data.mentions`), whatever else `data` holds. */
export function mentionedIds(data: Record<string, unknown> | null | undefined): string[] {
  const list = data?.mentions;
  return Array.isArray(list) ? list.filter((id): id is string => typeof id === "string") : [];
}

/** A note's text with the `@Name` of each agent it mentions in bold (mine stands out more). Text only:
 * the body goes in as text nodes, never as markup. */
export function noteBody(body: string, mentioned: { id: string; name: string }[], me: string): (string | HTMLElement)[] {
  const byName = new Map<string, string>();
  for (const a of mentioned) if (a.name && !byName.has(a.name)) byName.set(a.name, a.id);
  if (!byName.size) return [body];
  // Longest first, so "@Léa Martin" wins over "@Léa".
  const names = [...byName.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(`(^|[^\\p{L}\\p{N}_])@(${names.join("|")})${NAME_END}`, "gu");
  const out: (string | HTMLElement)[] = [];
  let at = 0;
  for (const m of body.matchAll(pattern)) {
    const start = (m.index ?? 0) + m[1].length;
    if (start > at) out.push(body.slice(at, start));
    const id = byName.get(m[2]) ?? "";
    out.push(h("strong", { class: "mention" + (id === me ? " mention-me" : ""), attrs: { "data-agent": id } }, "@" + m[2]));
    at = start + 1 + m[2].length;
  }
  if (at < body.length) out.push(body.slice(at));
  return out;
}

/** The "@" picker under a reply box: a listbox the caret's `@word` filters, driven from the textarea's
 * keys (Up, Down, Enter or Tab, Escape) as the canned responses' "/" list is. */
export class MentionPicker {
  readonly list = h("ul", { class: "canned-list mention-list", attrs: { role: "listbox", "aria-label": t("mentionList"), hidden: true } });
  private matches: AgentPresence[] = [];
  private index = 0;

  constructor(private readonly choose: (agent: AgentPresence) => void) {}

  get open(): boolean {
    return !this.list.hidden && this.matches.length > 0;
  }

  /** Shows the agents matching `word` (none: the list hides). */
  show(agents: AgentPresence[], word: string): void {
    this.matches = mentionMatches(agents, word);
    this.index = 0;
    if (this.matches.length) this.render();
    else this.hide();
  }

  hide(): void {
    this.list.hidden = true;
    this.matches = [];
  }

  /** A key pressed in the reply box; true when the picker used it. */
  key(e: KeyboardEvent): boolean {
    if (!this.open || e.isComposing) return false;
    const n = this.matches.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      this.index = (this.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      this.render();
    } else if (e.key === "Enter" || e.key === "Tab") {
      this.choose(this.matches[this.index]);
    } else if (e.key === "Escape") {
      this.hide();
    } else {
      return false;
    }
    e.preventDefault();
    return true;
  }

  private render(): void {
    this.list.replaceChildren(
      ...this.matches.map((a, i) =>
        h(
          "li",
          {
            class: i === this.index ? "selected" : "",
            attrs: { role: "option", "aria-selected": i === this.index ? "true" : "false", "data-agent": a.id },
            on: {
              mousedown: (e) => {
                e.preventDefault(); // the reply box keeps the focus and its caret
                this.choose(a);
              },
            },
          },
          h("strong", null, "@" + displayName(a)),
          " ",
          h("span", { class: "muted" }, t(a.status)),
        ),
      ),
    );
    this.list.hidden = false;
  }
}

// A returning visitor's conversations: which one the panel shows (the screen), and the list of them.
// The choice is the visitor's once they pick; until then (`auto`) a recent open conversation is
// taken up where it was, anything older waits in the list next to "New conversation".

import type { Conversation, Message } from "../client/frames";
import type { ConversationView } from "../client/timeline";
import { h } from "./dom";

// An open conversation touched within a day is still the matter at hand: the panel goes straight to
// it. Past that, a returning visitor more often comes with something new, and a thread of last month
// dropped on them reads as if nobody listened; the list lets them pick it up or start afresh.
export const RECENT_THREAD_MS = 24 * 3600 * 1000;

export type Choice = { kind: "auto" } | { kind: "list" } | { kind: "new" } | { kind: "thread"; id: string };
export type Screen = { kind: "list" } | { kind: "new" } | { kind: "thread"; id: string };

/** Most recently active first. */
export function byActivity(conversations: Iterable<Conversation>): Conversation[] {
  return [...conversations].sort((a, b) => (b.updated_at ?? 0) - (a.updated_at ?? 0) || (a.id < b.id ? -1 : 1));
}

/** What the panel shows for a choice. `pendingNew`: a message waits to start a conversation (it is
 * shown where it was written, on the new conversation's screen). */
export function resolveScreen(choice: Choice, conversations: Conversation[], now: number, pendingNew: boolean): Screen {
  if (choice.kind === "thread" && conversations.some((c) => c.id === choice.id)) return choice;
  if (choice.kind === "new") return choice;
  if (!conversations.length || pendingNew) return { kind: "new" };
  if (choice.kind === "list") return choice;
  const recent = byActivity(conversations).find((c) => c.status === "open" && (c.updated_at ?? 0) >= now - RECENT_THREAD_MS);
  return recent ? { kind: "thread", id: recent.id } : { kind: "list" };
}

/** Replies the visitor has not read in one conversation: from its messages once they are here,
 * from the summary's count before. */
export function threadUnread(view: ConversationView): number {
  const summary = view.summary;
  if (!summary) return 0;
  if (!view.synced && !view.messages.length) return summary.unread ?? 0;
  const readSeq = summary.read_seq ?? 0;
  let n = 0;
  for (const m of view.messages) if (m.seq > readSeq && m.kind === "text" && m.author.kind !== "visitor") n++;
  return n;
}

/** The latest visible text of a conversation: from its messages, else the summary's. */
export function lastText(view: ConversationView): Message | null {
  for (let i = view.messages.length - 1; i >= 0; i--) if (view.messages[i].kind === "text") return view.messages[i];
  return view.summary?.last_message ?? null;
}

export interface ThreadStrings {
  conversations: string;
  newConversation: string;
  threadOpen: string;
  threadClosed: string;
  threadUnread: string;
  noMessages: string;
  you: string;
}

export interface ThreadRow {
  id: string;
  preview: string;
  mine: boolean;
  when: string;
  open: boolean;
  unread: number;
}

/** The list: a heading, one button per conversation (its name says all a screen reader needs:
 * preview, state, time, unread), and "New conversation". */
export function threadList(rows: ThreadRow[], t: ThreadStrings, open: (id: string) => void, start: () => void): HTMLElement[] {
  const items = rows.map((row) => {
    const unread = row.unread > 0 ? t.threadUnread.replace("{n}", String(row.unread)) : "";
    const button = h(
      "button",
      { type: "button", class: "thread", "data-unread": row.unread > 0 ? "1" : null, onclick: () => open(row.id) },
      h("span", { class: "preview" }, row.preview ? (row.mine ? `${t.you}: ${row.preview}` : row.preview) : t.noMessages),
      h(
        "span",
        { class: "small" },
        [row.open ? t.threadOpen : t.threadClosed, row.when, unread].filter(Boolean).join(" · "),
      ),
    );
    return h("li", {}, button);
  });
  return [
    h("h2", { class: "threads-title" }, t.conversations),
    h("ul", { class: "threads-list", "aria-label": t.conversations }, ...items),
    h("button", { type: "button", class: "btn", onclick: start }, t.newConversation),
  ];
}

import type { Attachment } from "./frames";

// Messages written but not yet acknowledged. Each gets its client_msg_id when written and keeps
// it through reloads and reconnects, so the server's dedupe (docs/protocol.md §7.2) turns every
// retry into the original ack: a message is stored exactly once however often it is sent.
//
// The list is re-read from storage on every change rather than cached, because two tabs of the
// same site share it: a tab that wrote from a stale copy would erase the other tab's message.

import type { QuickReplyChoice, QuickReplyOption } from "./quick_replies";

export interface OutboxItem {
  client_msg_id: string;
  /** nil starts a new conversation; filled in once the first message of it is acknowledged. */
  conversation: string | null;
  body: string;
  created_at: number;
  /** An agent's private note (console only): sent with `note: true`, never shown to the visitor. */
  note?: boolean;
  /** The proactive rule whose message this one answers (widget only). */
  answers?: string;
  /** The pre-chat form's topic, on the message that starts a conversation (widget only). */
  topic?: string;
  /** The quick reply this message chose (widget) or the ones it offers (console). */
  quick_reply?: QuickReplyChoice;
  quick_replies?: QuickReplyOption[];
  /** Files uploaded first, sent with the message (their ids go in the frame). */
  attachments?: Attachment[];
  /** Agents a note mentions, by id (console only, with `note`). */
  mentions?: string[];
}

/** What a message carries besides its text. */
export interface SendOptions {
  note?: boolean;
  answers?: string;
  topic?: string;
  quick_reply?: QuickReplyChoice;
  quick_replies?: QuickReplyOption[];
  attachments?: Attachment[];
  mentions?: string[];
}

export interface OutboxStore {
  load(): OutboxItem[];
  save(items: OutboxItem[]): void;
}

export class MemoryOutboxStore implements OutboxStore {
  private items: OutboxItem[] = [];
  load(): OutboxItem[] {
    return this.items.slice();
  }
  save(items: OutboxItem[]): void {
    this.items = items.slice();
  }
}

/** A fresh client_msg_id: 8–64 characters of [A-Za-z0-9_-] (a UUID qualifies). */
export function newClientMsgId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Outbox {
  constructor(private readonly store: OutboxStore) {}

  items(): OutboxItem[] {
    return this.store.load();
  }

  add(conversation: string | null, body: string, now: number, note = false, answers?: string, more: SendOptions = {}): OutboxItem {
    const item: OutboxItem = { client_msg_id: newClientMsgId(), conversation, body, created_at: now };
    if (note) item.note = true;
    if (answers) item.answers = answers;
    if (more.topic) item.topic = more.topic;
    if (more.quick_reply) item.quick_reply = more.quick_reply;
    if (more.quick_replies?.length) item.quick_replies = more.quick_replies;
    if (more.attachments?.length) item.attachments = more.attachments;
    if (note && more.mentions?.length) item.mentions = more.mentions;
    this.store.save([...this.store.load(), item]);
    return item;
  }

  /** Forgets an item (acknowledged, or refused for good). Returns it if it was there. */
  remove(clientMsgId: string): OutboxItem | undefined {
    const items = this.store.load();
    const found = items.find((i) => i.client_msg_id === clientMsgId);
    if (found) this.store.save(items.filter((i) => i !== found));
    return found;
  }

  /** The first message of a new conversation was acknowledged: the others waiting for that
   * conversation now know its id (otherwise each would start a conversation of its own). */
  assignConversation(conversation: string): void {
    const items = this.store.load();
    if (!items.some((i) => i.conversation === null)) return;
    this.store.save(items.map((i) => (i.conversation === null ? { ...i, conversation } : i)));
  }

  clear(): void {
    this.store.save([]);
  }
}

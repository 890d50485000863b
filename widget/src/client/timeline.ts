// What a client knows of each Conversation: its summary and the messages it has seen, ordered by
// seq. The timeline is also the resume cursor: `cursor()` says, per conversation, the last seq
// received, which is exactly what a `resume` frame carries.

import type { Conversation, HistoryFrame, Message } from "./frames";

export interface ConversationView {
  id: string;
  summary: Conversation | null;
  /** Sorted by seq, no duplicates. Gaps are normal (a visitor never receives agents' notes). */
  messages: Message[];
  /** Highest seq this client has caught up to; 0 before any history. */
  lastSeq: number;
  /** Older messages exist on the server before messages[0]. */
  more: boolean;
  /** The history answering this connection's resume arrived. Until then a live message may sit
   * after a gap the history will fill, so it must not move `lastSeq` (the resume cursor). */
  synced: boolean;
}

export class Timeline {
  readonly conversations = new Map<string, ConversationView>();

  view(id: string): ConversationView {
    let view = this.conversations.get(id);
    if (!view) {
      view = { id, summary: null, messages: [], lastSeq: 0, more: false, synced: false };
      this.conversations.set(id, view);
    }
    return view;
  }

  upsertSummary(summary: Conversation): ConversationView {
    const view = this.view(summary.id);
    view.summary = summary;
    return view;
  }

  /** Adds one message; false when it was already there (a replay, or our own echo after the ack). */
  addMessage(message: Message): boolean {
    const view = this.view(message.conversation);
    const list = view.messages;
    // Messages nearly always arrive in order: scan from the end.
    let i = list.length;
    while (i > 0 && list[i - 1].seq > message.seq) i--;
    if (i > 0 && list[i - 1].seq === message.seq) return false;
    list.splice(i, 0, message);
    if (view.synced && message.seq > view.lastSeq) view.lastSeq = message.seq;
    return true;
  }

  /** Merges a history page; returns the messages that were new. `recovered: false` means the
   * server could not fill the gap (epoch changed or too far behind): what we had is dropped. */
  applyHistory(frame: HistoryFrame): Message[] {
    const view = this.view(frame.conversation);
    if (!frame.recovered) {
      view.messages = [];
      view.lastSeq = 0;
    }
    const firstBefore = view.messages.length ? view.messages[0].seq : Infinity;
    const added = frame.messages.filter((m) => this.addMessage(m));
    if (frame.messages.length === 0 || frame.messages[0].seq <= firstBefore) view.more = frame.more;
    // Live messages that overtook this history are contiguous with it: the connection was
    // subscribed before the server read the gap.
    const newest = view.messages.length ? view.messages[view.messages.length - 1].seq : 0;
    view.lastSeq = Math.max(view.lastSeq, frame.last_seq, newest);
    view.synced = true;
    return added;
  }

  /** `{conversation_id: last_seq}` for a resume frame. */
  cursor(ids?: Iterable<string>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const id of ids ?? this.conversations.keys()) out[id] = this.conversations.get(id)?.lastSeq ?? 0;
    return out;
  }

  /** The connection dropped: every view waits for the next resume's history again. */
  unsync(): void {
    for (const view of this.conversations.values()) view.synced = false;
  }

  clear(): void {
    this.conversations.clear();
  }
}

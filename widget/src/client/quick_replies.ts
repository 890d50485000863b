// Quick replies as the message model has them (docs/protocol.md §3.1), for the widget and the console:
// an agent's message offers options in `data.quick_replies`; a visitor's message that chose one says
// so in `data.quick_reply`. Whether an offer was answered is read from the history (and, until the
// server has it, from the outbox), never from a flag kept by one tab: a reload, another tab or
// another device reach the same answer.

import type { Message } from "./frames";

export interface QuickReplyOption {
  label: string;
  value?: string;
}

/** What a visitor's send carries when it is a tap on an option. */
export interface QuickReplyChoice {
  seq: number;
  option: number;
}

/** The stored choice: the option's label and value copied by the server from the offer. */
export interface QuickReplyChosen extends QuickReplyChoice {
  label: string;
  value: string;
}

/** The options a message offers; [] for one that offers none (or whose data is not what we expect). */
export function offeredOptions(message: Message): QuickReplyOption[] {
  if (message.kind !== "text" || message.author.kind === "visitor") return [];
  const raw = message.data?.quick_replies;
  if (!Array.isArray(raw)) return [];
  const out: QuickReplyOption[] = [];
  for (const item of raw) {
    if (item && typeof item === "object" && typeof (item as QuickReplyOption).label === "string") {
      const { label, value } = item as QuickReplyOption;
      out.push(typeof value === "string" ? { label, value } : { label });
    }
  }
  return out;
}

/** The choice a visitor's message made, if it is a tap on a quick reply. */
export function chosenOption(message: Message): QuickReplyChosen | null {
  if (message.author.kind !== "visitor") return null;
  const raw = message.data?.quick_reply as Partial<QuickReplyChosen> | undefined;
  if (!raw || typeof raw.seq !== "number" || typeof raw.option !== "number") return null;
  return { seq: raw.seq, option: raw.option, label: String(raw.label ?? ""), value: String(raw.value ?? raw.label ?? "") };
}

/** Which option each offer got, by the offer's seq: the first choice in the history wins, then
 * choices still waiting to be sent (`pending`, from the outbox). */
export function answeredOffers(messages: readonly Message[], pending: readonly (QuickReplyChoice | undefined)[] = []): Map<number, number> {
  const answers = new Map<number, number>();
  for (const m of messages) {
    const chosen = chosenOption(m);
    if (chosen && !answers.has(chosen.seq)) answers.set(chosen.seq, chosen.option);
  }
  for (const choice of pending) if (choice && !answers.has(choice.seq)) answers.set(choice.seq, choice.option);
  return answers;
}

/** The seq of the latest message that offers options (0 when none does): only its buttons are live. */
export function latestOffer(messages: readonly Message[]): number {
  for (let i = messages.length - 1; i >= 0; i--) if (offeredOptions(messages[i]).length) return messages[i].seq;
  return 0;
}

/** The quick-reply data of our own message as the server stores it, for the copy a client keeps
 * on its ack (the server does not echo a message to the connection that sent it). The value of a
 * choice is not known here: the label stands in until the history brings the stored one. */
export function ownData(item: { body: string; quick_reply?: QuickReplyChoice; quick_replies?: QuickReplyOption[] }): Record<string, unknown> | null {
  if (item.quick_replies?.length) {
    // Trimmed of the spaces the server trims (papote/quick_replies.py, BLANKS).
    const trim = (label: string): string => label.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, "");
    return { quick_replies: item.quick_replies.map((o) => (o.value ? { label: trim(o.label), value: o.value } : { label: trim(o.label) })) };
  }
  if (item.quick_reply) return { quick_reply: { ...item.quick_reply, label: item.body, value: item.body } };
  return null;
}

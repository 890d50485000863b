// The buttons under an agent's message that offers quick replies (docs/protocol.md §3.1). Live under
// the latest offer until the visitor taps one; an answered offer keeps its buttons, pressed on the
// choice and disabled, wherever it is in the conversation. Answered is read from the history and the
// outbox (client/quick_replies.ts), so a reload or another tab shows the same.

import type { Message } from "../client/frames";
import type { OutboxItem } from "../client/outbox";
import { answeredOffers, latestOffer, offeredOptions } from "../client/quick_replies";
import { h } from "./dom";

export interface OfferState {
  answers: Map<number, number>;
  latest: number;
}

export function offerState(messages: readonly Message[], pending: readonly OutboxItem[]): OfferState {
  return { answers: answeredOffers(messages, pending.map((p) => p.quick_reply)), latest: latestOffer(messages) };
}

/** The buttons of `message`'s offer, or null when it offers none or an older offer went unanswered. */
export function quickRepliesNode(
  message: Message,
  state: OfferState,
  groupLabel: string,
  choose: (option: number, label: string) => void,
): HTMLElement | null {
  const options = offeredOptions(message);
  if (!options.length) return null;
  const answered = state.answers.get(message.seq);
  if (answered === undefined && message.seq !== state.latest) return null;
  const group = h("div", { class: "qr", role: "group", "aria-label": groupLabel, "data-seq": message.seq });
  options.forEach((option, i) => {
    const button = h("button", { type: "button", class: "qrb" }, option.label);
    if (answered !== undefined) {
      button.disabled = true;
      button.setAttribute("aria-pressed", String(i === answered));
    } else {
      button.addEventListener("click", () => {
        // Once: the tap becomes a message at once (in the outbox), which redraws this as answered.
        group.querySelectorAll("button").forEach((b) => (b.disabled = true));
        choose(i, option.label);
      });
    }
    group.append(button);
  });
  return group;
}

export const quickRepliesCss = `
.qr{display:flex;flex-wrap:wrap;gap:6px;margin:2px 0 4px 36px;max-width:85%}
.qrb{border:1px solid var(--papote-color);border-radius:16px;padding:6px 12px;background:var(--p-bg);color:var(--p-fg);font:inherit;font-size:14px;cursor:pointer}
.qrb:hover:not(:disabled){background:var(--p-note)}
.qrb:disabled{cursor:default;border-color:var(--p-edge);color:var(--p-muted)}
.qrb[aria-pressed=true]{background:var(--papote-color);color:var(--papote-ink);border-color:transparent}
.qrb[aria-pressed=true]::before{content:"✓ "}
`;

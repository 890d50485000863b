// Quick replies in the console (docs/protocol.md §3.1): the composer's editor of the options a reply
// offers, and how a conversation shows an offer (which option the visitor picked) and a visitor's tap.
// Answered is read from the history, as in the widget (widget/src/client/quick_replies.ts).

import type { QuickReplyOption } from "../../widget/src/client/quick_replies";
import { chosenOption, offeredOptions } from "../../widget/src/client/quick_replies";
import { h, mount } from "./dom";
import { t } from "./i18n";
import type { Message } from "./types";

/** The server's bounds (papote/quick_replies.py): the editor stops where the server would refuse. */
export const MAX_OPTIONS = 10;
export const MAX_LABEL = 60;

/** The options the next reply will offer: typed one by one, shown as removable chips. */
export class QuickReplyEditor {
  readonly toggle: HTMLButtonElement;
  readonly root: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly chips = h("ul", { class: "qr-chips", attrs: { "aria-label": t("quickRepliesOffered") } });
  private readonly hint = h("span", { class: "muted small", attrs: { "aria-live": "polite" } });
  private options: QuickReplyOption[] = [];

  constructor() {
    this.input = h("input", {
      attrs: { type: "text", "aria-label": t("quickReplyOption"), placeholder: t("quickReplyOption"), maxlength: MAX_LABEL },
      on: {
        keydown: (e) => {
          if (e.key !== "Enter") return;
          e.preventDefault();
          this.add();
        },
      },
    });
    this.root = h(
      "div",
      { class: "qr-editor", attrs: { hidden: true, role: "group", "aria-label": t("quickReplies") } },
      h("div", { class: "row" }, this.input, h("button", { attrs: { type: "button" }, on: { click: () => this.add() } }, t("addQuickReply"))),
      this.chips,
      this.hint,
    );
    this.toggle = h("button", { class: "qr-toggle", attrs: { type: "button", "aria-expanded": "false" }, on: { click: () => this.setOpen(this.root.hidden) } }, t("quickReplies"));
  }

  setOpen(open: boolean): void {
    this.root.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) this.input.focus();
  }

  /** The options for the reply being sent, and an empty editor for the next one. */
  take(): QuickReplyOption[] {
    const out = this.options;
    this.options = [];
    this.render();
    this.setOpen(false);
    return out;
  }

  private add(): void {
    const label = this.input.value.trim().slice(0, MAX_LABEL);
    if (!label) return;
    if (this.options.length >= MAX_OPTIONS) {
      this.hint.textContent = t("quickRepliesFull", { n: MAX_OPTIONS });
      return;
    }
    // The server refuses two options alike: say so here instead.
    if (this.options.some((o) => o.label.toLowerCase() === label.toLowerCase())) {
      this.hint.textContent = t("quickReplyTwice", { label });
      return;
    }
    this.options.push({ label });
    this.input.value = "";
    this.hint.textContent = "";
    this.render();
  }

  private render(): void {
    mount(
      this.chips,
      this.options.map((o, i) =>
        h(
          "li",
          { class: "chip" },
          o.label,
          h("button", {
            class: "chip-x",
            attrs: { type: "button", "aria-label": t("removeQuickReply", { label: o.label }) },
            on: {
              click: () => {
                this.options.splice(i, 1);
                this.render();
                this.input.focus();
              },
            },
          }, "×"),
        ),
      ),
    );
  }
}

/** An agent's offer as a list under the message, the visitor's pick marked; null for none. */
export function offerNode(m: Message, picked: number | undefined): HTMLElement | null {
  const options = offeredOptions(m);
  if (!options.length) return null;
  return h(
    "ul",
    { class: "qr-offer", attrs: { "aria-label": picked === undefined ? t("quickRepliesWaiting") : t("quickRepliesAnswered") } },
    options.map((o, i) =>
      h(
        "li",
        { class: i === picked ? "chip picked" : "chip", attrs: { "data-picked": i === picked ? "true" : null } },
        i === picked ? t("quickReplyPicked", { label: o.label }) : o.label,
        o.value ? h("span", { class: "muted small" }, ` (${o.value})`) : null,
      ),
    ),
  );
}

/** Above a visitor's message that is a tap: which option it chose. */
export function choiceNode(m: Message): HTMLElement | null {
  const chosen = chosenOption(m);
  if (!chosen) return null;
  return h("div", { class: "qr-choice muted small" }, t("quickReplyChose", { label: chosen.label, value: chosen.value }));
}


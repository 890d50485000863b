// The composer's emoji button, for the widget's panel and the console: loads the picker chunk on the
// first press (load.ts), opens it, and puts the chosen emoji where the caret was.

import { insertAtCaret } from "./caret";
import type { PickerLocale } from "./catalog";
import type { RecentStore } from "./picker";
import { loadPicker } from "./load";

const SMILEY_ICON =
  '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><g fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"><circle cx="12" cy="12" r="9"/><path d="M8 14.5c1 1.3 2.4 2 4 2s3-.7 4-2"/></g><circle cx="9" cy="10" r="1.3" fill="currentColor"/><circle cx="15" cy="10" r="1.3" fill="currentColor"/></svg>';

export interface EmojiButtonOptions {
  /** The chunk's URL (with its version, for caching). */
  url: string;
  className: string;
  textarea: HTMLTextAreaElement;
  /** Where the picker is drawn. */
  container: HTMLElement;
  locale(): PickerLocale;
  label(): string;
  recent: RecentStore;
  addCss(css: string): void;
}

export class EmojiButton {
  readonly button: HTMLButtonElement;
  private handle: { close(): void } | null = null;

  constructor(private readonly options: EmojiButtonOptions) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = options.className;
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    button.innerHTML = SMILEY_ICON; // constant markup
    button.addEventListener("click", () => void this.toggle());
    this.button = button;
    this.applyStrings();
  }

  applyStrings(): void {
    this.button.setAttribute("aria-label", this.options.label());
    this.button.title = this.options.label();
  }

  get isOpen(): boolean {
    return this.handle !== null;
  }

  close(): void {
    this.handle?.close();
  }

  private async toggle(): Promise<void> {
    if (this.handle) {
      this.handle.close();
      return;
    }
    const o = this.options;
    const picker = await loadPicker(o.url);
    // Where the caret was before the picker took focus: the textarea keeps its selection.
    const start = o.textarea.selectionStart ?? o.textarea.value.length;
    const end = o.textarea.selectionEnd ?? start;
    this.button.setAttribute("aria-expanded", "true");
    this.handle = picker.open({
      container: o.container,
      locale: o.locale(),
      recent: o.recent,
      addCss: o.addCss,
      ignore: this.button,
      onPick: (emoji) => {
        const ta = o.textarea;
        const next = insertAtCaret(ta.value, start, end, emoji);
        if (ta.maxLength > 0 && next.value.length > ta.maxLength) return;
        ta.value = next.value;
        ta.focus();
        ta.setSelectionRange(next.caret, next.caret);
        // What typing does: drafts, the typing indicator, the textarea's height.
        ta.dispatchEvent(new Event("input", { bubbles: true }));
      },
      onClose: (byKey) => {
        this.handle = null;
        this.button.setAttribute("aria-expanded", "false");
        if (byKey) this.button.focus();
      },
    });
  }
}

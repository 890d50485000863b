// The reply box's emoji button: the picker chunk (widget/src/emoji/, built into /console/emoji.js) is
// fetched on the first press. Recent emoji are kept per browser in localStorage, like drafts.

import { EmojiButton } from "../../widget/src/emoji/button";
import { lang, t } from "./i18n";

declare const EMOJI_VERSION: string; // set by agent_console/build.mjs: a hash of emoji.js, for caching

const RECENT_KEY = "papote.console.emoji";

function addCss(css: string): void {
  const style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
}

export function composerEmoji(textarea: HTMLTextAreaElement, composer: HTMLElement): EmojiButton {
  return new EmojiButton({
    url: `/console/emoji.js?v=${EMOJI_VERSION}`,
    className: "emoji-button",
    textarea,
    container: composer,
    locale: () => (lang === "fr" ? "fr" : "en"),
    label: () => t("emoji"),
    recent: {
      load: () => {
        try {
          const list: unknown = JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]");
          return Array.isArray(list) ? list.filter((e): e is string => typeof e === "string") : [];
        } catch {
          return [];
        }
      },
      save: (list) => {
        try {
          localStorage.setItem(RECENT_KEY, JSON.stringify(list));
        } catch {
          // storage full or refused: the picker just forgets
        }
      },
    },
    addCss,
  });
}

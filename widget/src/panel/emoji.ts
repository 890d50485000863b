// The panel's emoji button: the picker chunk comes from this server's widget build (emoji.js, fetched
// on the first press), draws in the panel's shadow root, and remembers recent emoji in the widget's
// own storage, so the site's storage mode holds: nothing is written before the visitor interacts.

import { StorageKey } from "../client/storage";
import { EmojiButton } from "../emoji/button";
import { panelStrings } from "../i18n/panel";
import type { LoaderHost } from "../loader/host";

declare const EMOJI_VERSION: string; // set by widget/build.mjs: a hash of emoji.js, for caching

export function composerEmoji(host: LoaderHost, textarea: HTMLTextAreaElement, panel: HTMLElement): EmojiButton {
  return new EmojiButton({
    url: `${host.baseUrl}/widget/emoji.js?v=${EMOJI_VERSION}`,
    className: "icon emo",
    textarea,
    container: panel,
    locale: () => host.locale,
    label: () => panelStrings[host.locale].emoji,
    recent: {
      load: () => host.storage.getJSON<string[]>(StorageKey.emoji, []),
      save: (list) => host.storage.setJSON(StorageKey.emoji, list),
    },
    addCss: (css) => host.addCss(css),
  });
}

// The button sits in the composer beside Send; the picker opens above the composer.
export const emojiCss = `
.emo{flex:none;color:var(--p-muted)}
.emo:hover{background:var(--p-note)}
.panel>.pk{position:absolute;right:10px;bottom:100px}
`;

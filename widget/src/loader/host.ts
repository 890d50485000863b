// The contract between the loader (always on the page, tiny) and the panel (loaded on demand).
// The loader owns the Shadow DOM, the bubble, the command queue and the API listeners; the panel
// owns the connection and the chat UI and reports back through this object.

import type { SiteStorage } from "../client/storage";
import type { Locale } from "../i18n/locale";

export interface PapoteSettings {
  locale?: string;
  /** "always": the site lets the widget store its token before the visitor interacts. */
  storage?: "consent" | "always";
  /** "required": nothing is stored and no socket opens before the visitor consents (docs/privacy.md). */
  consent?: "required";
  position?: "right" | "left";
  /** Beep on new replies while the tab is hidden or the panel closed (default true). */
  sound?: boolean;
}

export type ApiEvent = "ready" | "open" | "close" | "message" | "unread";

export interface LoaderHost {
  siteKey: string;
  /** The Papote server's base URL, e.g. https://chat.example.com (no trailing slash). */
  baseUrl: string;
  settings: PapoteSettings;
  storage: SiteStorage;
  shadow: ShadowRoot;
  /** The element the panel draws into (inside the shadow root). */
  frame: HTMLElement;
  launcher: HTMLButtonElement;
  locale: Locale;
  /** A "continue on another device" code found in the page URL (#papote=CODE), once. */
  linkCode: string | null;
  emit(event: ApiEvent, payload?: unknown): void;
  setUnread(count: number): void;
  setOpen(open: boolean): void;
  /** Site look from the welcome: accent colour, side and colour scheme (auto, light or dark). */
  setLook(color: string | null | undefined, position: string | null | undefined, theme?: string | null): void;
  /** Switches language; `remember` keeps the choice for the next pages (setLocale does). */
  setLocale(locale: Locale, remember: boolean): void;
  /** Adds CSS to the shadow root; returns a function that replaces it (for the owner's custom CSS). */
  addCss(css: string): (css: string) => void;
  /** The visitor interacted: from now on the widget may write to storage. */
  consent(): void;
}

/** What the panel gives back to the loader once mounted. */
export interface PanelApi {
  command(name: string, args: unknown[]): void;
  setLocale(locale: Locale): void;
}

export type MountPanel = (host: LoaderHost) => PanelApi;

// The loader: what every page view pays for, so it stays under 5 KB gzip. It turns the snippet's
// queued stub into the real `Papote(...)` function, draws the bubble in a Shadow DOM, and fetches
// the panel (connection + chat UI) only when it is needed: a click, an API call that needs the
// server, or a returning visitor (who may have unread replies).

import { SiteStorage, StorageKey, bestStore } from "../client/storage";
import { launcherStrings } from "../i18n/launcher";
import { browserLanguages, format, pickLocale, toLocale } from "../i18n/locale";
import type { ApiEvent, LoaderHost, MountPanel, PanelApi, PapoteSettings } from "./host";
import { launcherCss } from "./style";

declare const PANEL_VERSION: string; // set by widget/build.mjs: a hash of panel.js, for caching

interface Stub {
  (...args: unknown[]): void;
  q?: ArrayLike<unknown>[];
  k?: string;
  u?: string;
  loaded?: boolean;
  _attach?: (mount: MountPanel) => void;
}

type Listener = (payload: unknown) => void;

const CHAT_ICON =
  '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
const CLOSE_ICON =
  '<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" d="M6 6l12 12M18 6L6 18"/></svg>';

// Commands that need the server: calling one loads the panel (without opening it).
const NEEDS_PANEL = ["open", "toggle", "identify", "set", "track"];
// Times a panel that failed to load is fetched again by itself while a command waits for it.
const PANEL_RETRIES = 3;

function boot(w: Window & { Papote?: Stub; papoteSettings?: PapoteSettings }): void {
  const stub = w.Papote;
  if (!stub || stub.loaded || !stub.k || !stub.u) return; // loaded twice, or no snippet
  const d = document;
  const settings: PapoteSettings = w.papoteSettings || {};
  const storage = new SiteStorage(stub.k, bestStore(), settings.storage === "always");
  const listeners: Partial<Record<ApiEvent, Listener[]>> = {};
  let panel: PanelApi | null = null;
  let panelRequested = false;
  let panelTries = 0;
  const waiting: unknown[][] = []; // commands for the panel while it loads
  let open = false;
  let unread = Number(storage.get(StorageKey.unread)) || 0;
  let ready = false;
  // Consent mode (docs/privacy.md): a site that requires consent gets no storage and no socket before
  // the visitor accepts the prompt or the page calls Papote('consent'). Until the site's look says
  // whether it requires it, whatever would connect waits (a failed look counts as "required").
  let consented = storage.get(StorageKey.consent) === "1";
  let required = settings.consent === "required";
  let looked = false;
  const held: ArrayLike<unknown>[] = []; // commands waiting for consent (or for the look)
  let prompt: HTMLElement | null = null;

  // A "continue on another device" link: take the code and clean the URL so a reload or a
  // shared screenshot does not carry it further.
  function takeCode(): string | null {
    const match = /(?:^#|&)papote=([A-Za-z0-9_-]{4,64})/.exec(location.hash);
    if (!match) return null;
    const hash = location.hash.replace(match[0], "").replace(/^#&/, "#");
    history.replaceState(history.state, "", location.pathname + location.search + (hash === "#" ? "" : hash));
    return match[1];
  }
  const linkCode = takeCode();

  // The text on the site's colour (header, the visitor's messages, buttons, the bubble's icon): white
  // or black, whichever contrasts more. One of the two always reaches 4.58:1 (WCAG asks 4.5), so
  // an owner's pale yellow gets black text instead of unreadable white.
  function inkOn(hex: string): string {
    let l = 0;
    for (let i = 0; i < 3; i++) {
      const c = parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
      l += [0.2126, 0.7152, 0.0722][i] * (c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
    }
    // Contrast with white is 1.05 / (l + 0.05), with black (l + 0.05) / 0.05.
    return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#fff" : "#000";
  }

  const element = d.createElement("papote-widget");
  const shadow = element.attachShadow({ mode: "open" });

  // Constructed stylesheets are not inline styles, so a host page whose Content-Security-Policy
  // forbids 'unsafe-inline' styles still shows the widget; <style> is the fallback for old browsers.
  function addCss(css: string): (css: string) => void {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      shadow.adoptedStyleSheets = [...shadow.adoptedStyleSheets, sheet];
      return (next) => sheet.replaceSync(next);
    } catch {
      const style = d.createElement("style");
      style.textContent = css;
      shadow.append(style);
      return (next) => {
        style.textContent = next;
      };
    }
  }

  addCss(launcherCss);
  const frame = d.createElement("div");
  frame.className = "root";
  const launcher = d.createElement("button");
  launcher.className = "launcher";
  launcher.type = "button";
  const badge = d.createElement("span");
  badge.className = "badge";
  badge.setAttribute("aria-hidden", "true");
  frame.append(launcher);
  shadow.append(frame);

  const host: LoaderHost = {
    siteKey: stub.k,
    baseUrl: stub.u.replace(/\/+$/, ""),
    settings,
    storage,
    shadow,
    frame,
    launcher,
    locale: pickLocale(storage.get(StorageKey.locale), settings.locale, ...browserLanguages()),
    linkCode,
    emit(event, payload) {
      for (const fn of listeners[event] || []) {
        try {
          fn(payload);
        } catch (err) {
          console.error("papote:", err);
        }
      }
    },
    setUnread(count) {
      if (count === unread) return;
      unread = count;
      storage.set(StorageKey.unread, String(count));
      drawLauncher();
      host.emit("unread", count);
    },
    setOpen(isOpen) {
      if (isOpen === open) return;
      open = isOpen;
      if (open) storage.set(StorageKey.open, "1");
      else storage.remove(StorageKey.open);
      drawLauncher();
      host.emit(open ? "open" : "close");
    },
    setLook(color, position, theme) {
      if (color && /^#[0-9a-f]{6}$/i.test(color)) {
        frame.style.setProperty("--papote-color", color);
        frame.style.setProperty("--papote-ink", inkOn(color));
      }
      // "auto" (or nothing) leaves the scheme to prefers-color-scheme; the panel's CSS reads these.
      if (theme) for (const t of ["light", "dark"]) frame.classList.toggle(t, theme === t);
      const side = settings.position || position;
      frame.classList.toggle("left", side === "left");
    },
    setLocale(locale, remember) {
      host.locale = locale;
      if (remember) storage.set(StorageKey.locale, locale);
      drawLauncher();
      panel?.setLocale(locale);
    },
    addCss,
    consent() {
      storage.enable();
    },
  };

  // The site's own launcher icon (an https URL from its settings), shown while the panel is closed.
  let icon: string | null = null;

  function drawLauncher(): void {
    const strings = launcherStrings[host.locale];
    launcher.innerHTML = open || !icon ? (open ? CLOSE_ICON : CHAT_ICON) : ""; // constant markup only
    if (icon && !open) {
      const img = d.createElement("img");
      img.src = icon;
      img.alt = "";
      img.className = "brand";
      launcher.append(img);
    }
    let label = open ? strings.closeChat : strings.openChat;
    if (unread > 0 && !open) {
      badge.textContent = unread > 99 ? "99+" : String(unread);
      launcher.append(badge);
      label += ", " + format(strings.unread, { n: unread });
    }
    launcher.setAttribute("aria-label", label);
    launcher.setAttribute("aria-expanded", String(open));
  }

  function loadPanel(): void {
    if (panelRequested) return;
    panelRequested = true;
    const script = d.createElement("script");
    script.async = true;
    script.src = `${host.baseUrl}/widget/panel.js?v=${PANEL_VERSION}`;
    script.onerror = () => {
      script.remove();
      panelRequested = false; // a later click tries again
      // A click waits for the panel: try again by itself (1 s, 2 s, 3 s), not leave it unanswered.
      if (waiting.length && panelTries < PANEL_RETRIES) setTimeout(loadPanel, ++panelTries * 1000);
    };
    d.head.appendChild(script);
  }

  function allowed(): boolean {
    return consented || (looked && !required);
  }

  function giveConsent(): void {
    consented = true;
    prompt?.remove();
    prompt = null;
    storage.enable();
    storage.set(StorageKey.consent, "1");
    for (const args of held.splice(0)) command(args);
  }

  function button(text: string, className: string, act: () => void): HTMLButtonElement {
    const b = d.createElement("button");
    b.type = "button";
    b.className = className;
    b.textContent = text;
    b.addEventListener("click", act);
    return b;
  }

  // The prompt of consent mode: the visitor asked for the chat; nothing happens before they accept.
  function showPrompt(): void {
    if (prompt) return;
    const t = launcherStrings[host.locale];
    const box = (prompt = d.createElement("div"));
    box.className = "consent";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", t.openChat);
    const text = d.createElement("p");
    text.textContent = t.consent;
    const yes = button(t.consentYes, "yes", () => {
      giveConsent();
      command(["open"]);
    });
    box.append(text, yes, button(t.consentNo, "no", () => {
      box.remove();
      prompt = null;
    }));
    frame.append(box);
    yes.focus();
  }

  function command(args: ArrayLike<unknown>): void {
    const [name, ...rest] = Array.prototype.slice.call(args) as [unknown, ...unknown[]];
    if (typeof name !== "string") return;
    if (name === "consent") {
      giveConsent();
      return;
    }
    if ((NEEDS_PANEL.indexOf(name) >= 0 || name === "_load") && !allowed()) {
      // A visitor's own open, once the site is known to require consent, asks them; anything else waits.
      if (looked && (name === "open" || name === "toggle")) showPrompt();
      else held.push(args);
      return;
    }
    switch (name) {
      case "_load": // the loader's own: a returning visitor's or an idle page's panel
        loadPanel();
        return;
      case "on":
      case "off": {
        const [event, fn] = rest as [ApiEvent, Listener];
        if (typeof fn !== "function") return;
        const list = (listeners[event] = listeners[event] || []);
        if (name === "on") {
          list.push(fn);
          if (event === "ready" && ready) fn(undefined);
        } else listeners[event] = list.filter((l) => l !== fn);
        return;
      }
      case "show":
      case "hide":
        frame.style.display = name === "hide" ? "none" : "";
        return;
      case "setLocale": {
        const locale = toLocale(rest[0] as string);
        if (locale) host.setLocale(locale, true);
        return;
      }
      case "reset":
        // The consent stays: it is this browser's answer, and the chat goes on as a new visitor.
        for (const key of Object.values(StorageKey)) if (key !== StorageKey.consent) storage.remove(key);
        unread = 0;
        drawLauncher();
        break; // the panel, if loaded, also forgets its connection
      case "close":
        if (!panel) return;
        break;
      default:
        if (NEEDS_PANEL.indexOf(name) < 0) return;
        if (name === "open" || name === "toggle") host.consent();
        loadPanel();
    }
    if (panel) panel.command(name, rest);
    else if (panelRequested) waiting.push([name, ...rest]);
  }

  const api: Stub = function (...args: unknown[]) {
    command(args);
  };
  api.k = stub.k;
  api.u = stub.u;
  api.loaded = true;
  api._attach = (mount) => {
    if (panel) return;
    panel = mount(host);
    for (const args of waiting.splice(0)) panel.command(args[0] as string, args.slice(1));
  };

  launcher.addEventListener("click", () => command([open ? "close" : "open"]));
  drawLauncher();
  (d.body || d.documentElement).appendChild(element);

  for (const args of stub.q || []) command(args);
  // Page code that kept a reference to the stub still reaches us.
  stub.q = { push: command } as unknown as ArrayLike<unknown>[];
  w.Papote = api;

  // A returning visitor may have unread replies, an open panel to restore or messages still in
  // the outbox: connect at once. A site that opted into storage also wants page context and its
  // proactive rules for everyone, so connect when the page is idle.
  if (linkCode || storage.get(StorageKey.open)) command(["open"]);
  else if (storage.get(StorageKey.token) || storage.get(StorageKey.outbox)) command(["_load"]);
  else if (settings.storage === "always") setTimeout(() => command(["_load"]), 1500);

  // The site's look (colour, side, icon) and storage mode, before any socket: a first-time visitor
  // sees the site's bubble, not ours, and a site that opted into storage gets page context and its
  // proactive rules from the first page. It also says whether the site requires consent: until it is
  // known nothing connects unless the visitor consented before, and a failure counts as "required".
  fetch(`${host.baseUrl}/widget/site/${encodeURIComponent(stub.k)}`, { credentials: "omit" })
    .then((r) => (r.ok ? r.json() : null))
    .then((look: { color?: string; position?: string; launcher_icon?: string | null; storage?: string; theme?: string; consent_required?: boolean } | null) => {
      looked = true;
      if (!look) required = true;
      else if (look.consent_required) required = true;
      // What waited for the look goes now, or (consent required) waits for consent; a visitor's open asks.
      for (const args of held.splice(0)) command(args);
      if (!look) return;
      host.setLook(look.color, look.position, look.theme);
      if (typeof look.launcher_icon === "string" && /^https:\/\//.test(look.launcher_icon)) {
        icon = look.launcher_icon;
        drawLauncher();
      }
      if (look.storage === "always" && !settings.storage && !required) {
        host.consent();
        if (!panelRequested) setTimeout(() => command(["_load"]), 1500);
      }
    })
    .catch(() => {
      if (looked) return; // the look was read; drawing it failed
      looked = required = true;
      for (const args of held.splice(0)) command(args);
    });

  // The link opened in a tab that already shows the page: only the fragment changes, no reload. A
  // panel already connected redeems the code on its socket; one not loaded yet says it in its hello.
  w.addEventListener("hashchange", () => {
    const code = takeCode();
    if (!code) return;
    if (panel) panel.command("redeem", [code]);
    else host.linkCode = code;
    command(["open"]);
  });

  ready = true;
  host.emit("ready");
}

boot(window as Window & { Papote?: Stub; papoteSettings?: PapoteSettings });

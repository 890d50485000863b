// Where the widget keeps what must survive a reload: the visitor token, the outbox, the fired
// proactive rules. localStorage first; a cookie when localStorage throws (Safari private mode,
// storage blocked by the host's policy); memory as the last resort, so the widget always works,
// it just forgets more.
//
// Privacy: nothing reaches real storage before the visitor interacts (opens the panel, sends),
// unless the site opted in. Until then writes land in an in-memory overlay that `enable()` flushes.

export interface KeyValueStore {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
}

const COOKIE_MAX_AGE_SECS = 365 * 24 * 3600; // as long as a token stays useful; the server expires it

class LocalStore implements KeyValueStore {
  constructor(private readonly area: Storage) {}
  get(key: string): string | null {
    return this.area.getItem(key);
  }
  set(key: string, value: string): void {
    this.area.setItem(key, value);
  }
  remove(key: string): void {
    this.area.removeItem(key);
  }
}

class CookieStore implements KeyValueStore {
  get(key: string): string | null {
    const name = encodeURIComponent(key) + "=";
    for (const part of document.cookie.split("; ")) {
      if (part.startsWith(name)) return decodeURIComponent(part.slice(name.length));
    }
    return null;
  }
  set(key: string, value: string): void {
    document.cookie = `${encodeURIComponent(key)}=${encodeURIComponent(value)}; max-age=${COOKIE_MAX_AGE_SECS}; path=/; SameSite=Lax`;
  }
  remove(key: string): void {
    document.cookie = `${encodeURIComponent(key)}=; max-age=0; path=/; SameSite=Lax`;
  }
}

export class MemoryStore implements KeyValueStore {
  private readonly values = new Map<string, string>();
  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }
  set(key: string, value: string): void {
    this.values.set(key, value);
  }
  remove(key: string): void {
    this.values.delete(key);
  }
}

/** The best store this page allows. Probing writes one throwaway key, which is not visitor data. */
export function bestStore(): KeyValueStore {
  try {
    const probe = "papote:probe";
    localStorage.setItem(probe, "1");
    localStorage.removeItem(probe);
    return new LocalStore(localStorage);
  } catch {
    // localStorage missing or throwing: try cookies.
  }
  try {
    if (navigator.cookieEnabled) return new CookieStore();
  } catch {
    // document.cookie can throw in sandboxed frames.
  }
  return new MemoryStore();
}

/** The widget's storage for one site: keys prefixed `papote:{siteKey}:`, writes held back until
 * the visitor interacts (or the site opted in). Deletions always go through, so `reset` works. */
export class SiteStorage {
  private readonly prefix: string;
  private readonly pending = new Map<string, string | null>();
  private enabled: boolean;

  constructor(siteKey: string, private readonly backend: KeyValueStore, enabled: boolean) {
    this.prefix = `papote:${siteKey}:`;
    this.enabled = enabled;
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** The visitor interacted (or the site opted in): persist what was held back, and from now on write through. */
  enable(): void {
    if (this.enabled) return;
    this.enabled = true;
    for (const [key, value] of this.pending) {
      if (value === null) this.safe(() => this.backend.remove(this.prefix + key));
      else this.safe(() => this.backend.set(this.prefix + key, value));
    }
    this.pending.clear();
  }

  get(key: string): string | null {
    if (this.pending.has(key)) return this.pending.get(key) ?? null;
    try {
      return this.backend.get(this.prefix + key);
    } catch {
      return null;
    }
  }

  set(key: string, value: string): void {
    if (!this.enabled) {
      this.pending.set(key, value);
      return;
    }
    this.safe(() => this.backend.set(this.prefix + key, value));
  }

  remove(key: string): void {
    this.pending.delete(key);
    this.safe(() => this.backend.remove(this.prefix + key));
  }

  getJSON<T>(key: string, fallback: T): T {
    const raw = this.get(key);
    if (raw === null) return fallback;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return fallback;
    }
  }

  setJSON(key: string, value: unknown): void {
    this.set(key, JSON.stringify(value));
  }

  private safe(write: () => void): void {
    try {
      write();
    } catch {
      // Quota exceeded or storage revoked mid-session: keep running from memory.
    }
  }
}

/** Storage keys, in one place so the loader and the panel agree. */
export const StorageKey = {
  token: "token",
  outbox: "outbox",
  firedRules: "rules",
  unread: "unread",
  open: "open",
  locale: "locale",
  /** The emoji picker's recent emoji. */
  emoji: "emoji",
  /** Consent mode: the visitor consented (or the page called `Papote('consent')`). */
  consent: "consent",
} as const;

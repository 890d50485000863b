// The console on a phone: one screen at a time, with the browser's history behind it.
//
// At a phone's width (PHONE_QUERY, phone.css) the inbox shows one of its three panes — the list of
// conversations, one conversation, the visitor's context — and the pages (inbox, reports, site settings,
// account) sit in a bottom bar. Every move between screens or pages is a history entry
// (`{papote: 1, page, screen, conversation}`), so the back button of the browser (or Android's) goes
// back a screen, as the back buttons drawn on each screen do. On a tablet or a desktop the same states
// are kept, the CSS shows every pane at once, and only page changes make history entries.

export const PHONE_QUERY = "(max-width: 700px)";

export type Screen = "list" | "chat" | "context";
export type PageName = "inbox" | "admin" | "reports" | "moderation" | "account";

export interface Place {
  page: PageName;
  screen: Screen;
  conversation: string | null;
}

interface HistoryState extends Place {
  papote: 1;
  /** How many of our entries lie before this one: the back button leaves the console at 0. */
  depth: number;
}

export function isPhone(): boolean {
  return typeof matchMedia === "function" && matchMedia(PHONE_QUERY).matches;
}

function isState(value: unknown): value is HistoryState {
  return !!value && typeof value === "object" && (value as { papote?: unknown }).papote === 1;
}

/** The conversation a link or a notification asks for: `#conversation=<id>`. */
export function conversationInHash(hash: string = location.hash): string | null {
  const m = /(?:^#|&)conversation=([A-Za-z0-9_-]{1,64})/.exec(hash);
  return m ? m[1] : null;
}

/**
 * Where the agent is, and the history entries that lead there. `show` draws a place (the shell's job);
 * `go` is a move the agent made, recorded in history; the browser's back and forward call `show`
 * with the place they return to.
 */
export class Navigator {
  place: Place = { page: "inbox", screen: "list", conversation: null };
  private depth = 0;

  constructor(private readonly show: (place: Place) => void) {
    window.addEventListener("popstate", (event: PopStateEvent) => {
      if (!isState(event.state)) return;
      this.place = { page: event.state.page, screen: event.state.screen, conversation: event.state.conversation };
      this.depth = event.state.depth;
      this.show(this.place);
    });
  }

  /** The first place, replacing the page's entry (a reload keeps the agent where they were). */
  start(fallback: Place): void {
    const saved = isState(history.state) ? history.state : null;
    this.place = saved ? { page: saved.page, screen: saved.screen, conversation: saved.conversation } : fallback;
    this.depth = saved ? saved.depth : 0;
    history.replaceState({ papote: 1, depth: this.depth, ...this.place }, "", location.pathname + location.search);
    this.show(this.place);
  }

  /** Makes the current history entry ours, at the current place, without the address's `#…`: a link
   * followed inside the console (`#conversation=…`) made an entry the console did not. */
  adoptEntry(): void {
    history.replaceState({ papote: 1, depth: this.depth, ...this.place }, "", location.pathname + location.search);
  }

  /** A move: a new history entry where it changes what a phone shows, or the page. */
  go(next: Partial<Place>): void {
    const place: Place = { ...this.place, ...next };
    const same = place.page === this.place.page && place.screen === this.place.screen && place.conversation === this.place.conversation;
    if (same) {
      this.show(place);
      return;
    }
    const newEntry = place.page !== this.place.page || (isPhone() && place.screen !== this.place.screen);
    if (newEntry) this.depth += 1;
    const state: HistoryState = { papote: 1, depth: this.depth, ...place };
    if (newEntry) history.pushState(state, "", location.pathname + location.search);
    else history.replaceState(state, "", location.pathname + location.search);
    this.place = place;
    this.show(place);
  }

  /** A back button drawn on a screen: the browser's own back when the entry before is ours. */
  back(to: Screen): void {
    if (this.depth > 0) history.back();
    else this.go({ screen: to });
  }
}

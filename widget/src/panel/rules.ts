// Proactive rules: the site owner's "say this when…" (welcome.site.rules). Each fires at most once
// per visitor; the caller persists the fired ids. Pure logic, with time and the clock injectable.

import type { ProactiveRule } from "../client/frames";

/** `*` matches any run of characters, `?` one; the rest is literal. A pattern starting with "/"
 * is matched against the path (+ query), anything else against the whole URL. */
export function globMatch(glob: string, url: string): boolean {
  let target = url;
  if (glob.startsWith("/")) {
    try {
      const parsed = new URL(url);
      target = parsed.pathname + parsed.search;
    } catch {
      // Not an absolute URL: match it as given.
    }
  }
  const source = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${source}$`).test(target);
}

export function conditionHolds(rule: ProactiveRule, data: Record<string, unknown> | undefined): boolean {
  const condition = rule.condition;
  if (!condition) return true;
  const actual = data?.[condition.field];
  const expected = condition.value;
  if (condition.op === "==") return actual === expected || String(actual) === String(expected);
  const a = Number(actual);
  const b = Number(expected);
  if (Number.isNaN(a) || Number.isNaN(b)) return false;
  switch (condition.op) {
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
  }
  return false;
}

export interface FiredRules {
  has(id: string): boolean;
  add(id: string): void;
}

export interface RuleRunnerOptions {
  fired: FiredRules;
  onFire(rule: ProactiveRule): void;
  /** Seconds the visitor has spent on this page so far. */
  secondsOnPage(): number;
  setTimeout?(fn: () => void, ms: number): unknown;
  clearTimeout?(handle: unknown): void;
}

export class RuleRunner {
  private rules: ProactiveRule[] = [];
  private timers: unknown[] = [];

  constructor(private readonly options: RuleRunnerOptions) {}

  /** Installs the site's rules (again after each welcome: the owner may have edited them). */
  setRules(rules: ProactiveRule[] | undefined, url: string): void {
    this.stopTimers();
    this.rules = Array.isArray(rules) ? rules.filter((r) => r && typeof r.id === "string") : [];
    const setTimer = this.options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    for (const rule of this.rules) {
      if (rule.trigger !== "time_on_page" || this.options.fired.has(rule.id)) continue;
      const left = Math.max(0, (rule.seconds ?? 0) - this.options.secondsOnPage());
      this.timers.push(setTimer(() => this.fire(rule), left * 1000));
    }
    this.onUrl(url);
  }

  onUrl(url: string): void {
    for (const rule of this.rules) {
      if (rule.trigger === "url" && rule.url && globMatch(rule.url, url)) this.fire(rule);
    }
  }

  onEvent(event: string, data: Record<string, unknown> | undefined): void {
    for (const rule of this.rules) {
      if (rule.trigger === "event" && rule.event === event && conditionHolds(rule, data)) this.fire(rule);
    }
  }

  stopTimers(): void {
    const clear = this.options.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    for (const timer of this.timers) clear(timer);
    this.timers = [];
  }

  private fire(rule: ProactiveRule): void {
    if (this.options.fired.has(rule.id) || !rule.message) return;
    this.options.fired.add(rule.id);
    this.options.onFire(rule);
  }
}

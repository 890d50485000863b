// Reconnect delays: exponential backoff with full jitter (docs/protocol.md §1).
// Full jitter spreads a crowd of widgets that lost the server at the same instant (a restart
// closes every socket with 1001) over the whole window instead of bunching them at base·2^n.

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30_000;

/** How long to wait before reconnect attempt number `attempt` (0 for the first retry).
 * `random` is injectable so tests can pin the jitter. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  // Clamp the exponent: 2^60 would overflow into Infinity long after the cap was reached anyway.
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

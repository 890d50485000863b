"""Rate limits: exact fixed windows, cheap enough to ask on every frame.

Two shapes, both counting in fixed windows parsed from the `limits` syntax (`120/10second`):

* `Window` — one budget held by its owner (a WebSocket connection holds its own). A hit is a compare and
  an add: ~0.2 µs, so every frame is counted and the documented rate holds exactly (the `limits`
  package's memory storage costs ~13 µs a hit, which once led to asking it only every eighth frame —
  and so enforcing an eighth of the rate).
* `Budgets` — budgets by key (a site, a client address), in this process. Expired windows are swept at
  most once per `SWEEP_SECS`, so memory stays bounded by the keys active in one window.

`limiter()` keeps the `limits` package's fixed-window limiter for callers that want its API, without its
clean-up thread churn: its memory storage starts a clean-up thread 10 ms after every hit while traffic
flows — up to a hundred thread starts a second on a busy node. Counters already expire lazily when
read, so a sweep once per `SWEEP_SECS` keeps memory bounded just as well. The override hooks the
storage's (name-mangled) scheduling method; tests/unit/test_ratelimits.py guards it against a `limits`
upgrade that renames it.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, strategies
from limits.storage import MemoryStorage

#: Expired counters linger at most this long before the sweep removes them.
SWEEP_SECS = 1.0


class Window:
    """`amount` hits per `seconds`, counted exactly in fixed windows that start at the first hit."""

    __slots__ = ("amount", "ends", "refused", "seconds", "used")

    def __init__(self, item: RateLimitItem) -> None:
        self.amount = item.amount
        self.seconds = float(item.get_expiry())
        self.ends = 0.0
        self.used = 0
        #: Hits refused in the current window (a client that keeps going after refusals is abusive).
        self.refused = 0

    def hit(self, now: float) -> bool:
        if now >= self.ends:
            self.ends = now + self.seconds
            self.used = self.refused = 0
        if self.used >= self.amount:
            self.refused += 1
            return False
        self.used += 1
        return True


class Budgets:
    """Fixed-window budgets by (namespace, key), for this process."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], Window] = {}
        self._last_sweep = 0.0

    def hit(self, item: RateLimitItem, namespace: str, key: str, now: float | None = None) -> bool:
        if now is None:
            now = time.monotonic()
        windows = self._windows
        window = windows.get((namespace, key))
        if window is None:
            if now - self._last_sweep >= SWEEP_SECS:
                self._sweep(now)
            window = windows[(namespace, key)] = Window(item)
        return window.hit(now)

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        for key in [k for k, w in self._windows.items() if w.ends <= now]:
            del self._windows[key]

    def __len__(self) -> int:
        return len(self._windows)


class SweepingMemoryStorage(MemoryStorage):
    def __init__(self) -> None:
        self._last_sweep = 0.0
        super().__init__()

    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep >= SWEEP_SECS:
            self._last_sweep = now
            super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


def limiter() -> strategies.FixedWindowRateLimiter:
    return strategies.FixedWindowRateLimiter(SweepingMemoryStorage())

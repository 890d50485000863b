"""Rate limits: the `limits` package's fixed windows, kept in memory, without its thread churn.

`limits`' memory storage starts a clean-up thread 10 ms after every hit while traffic flows — up to a
hundred thread starts a second on a busy node, which showed as ~10 % of the event loop in profiles.
Counters already expire lazily when read, so a sweep once per `SWEEP_SECS` keeps memory bounded just as
well. The override hooks the storage's (name-mangled) scheduling method; tests/unit/test_ratelimits.py
guards it against a `limits` upgrade that renames it.
"""

from __future__ import annotations

import time

from limits import strategies
from limits.storage import MemoryStorage

#: Expired counters linger at most this long before the sweep removes them.
SWEEP_SECS = 1.0


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

"""Rate limits: exact fixed windows, cheap enough to ask on every frame.

Two shapes, both counting in fixed windows parsed from the `limits` syntax (`120/10second`):

* `Window` — one budget held by its owner (a WebSocket connection holds its own). A hit is a compare and
  an add: ~0.2 µs, so every frame is counted and the documented rate holds exactly (the `limits`
  package's memory storage costs ~13 µs a hit, which once led to asking it only every eighth frame —
  and so enforcing an eighth of the rate).
* `Budgets` — budgets by key (a site, a client address), in this process. Expired windows are swept at
  most once per `SWEEP_SECS`, so memory stays bounded by the keys active in one window.

`SharedLimits` counts the per-site budgets of several nodes in Redis (see there).

`limiter()` keeps the `limits` package's fixed-window limiter for callers that want its API, without its
clean-up thread churn: its memory storage starts a clean-up thread 10 ms after every hit while traffic
flows — up to a hundred thread starts a second on a busy node. Counters already expire lazily when
read, so a sweep once per `SWEEP_SECS` keeps memory bounded just as well. The override hooks the
storage's (name-mangled) scheduling method; tests/unit/test_ratelimits.py guards it against a `limits`
upgrade that renames it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from limits import RateLimitItem, strategies
from limits.storage import MemoryStorage

if TYPE_CHECKING:
    from papote.config import Config

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

    def retry_after(self, namespace: str, key: str, now: float | None = None) -> float:
        """Seconds until the window of `key` starts over (0 when it has none)."""
        window = self._windows.get((namespace, key))
        if window is None:
            return 0.0
        return max(0.0, window.ends - (time.monotonic() if now is None else now))

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


#: How often a node sends the frames it counted per site to Redis: one round trip per site and flush,
#: not one per frame; a site over its budget is refused on every node within about this long.
SHARED_FLUSH_SECS = 0.25


class SharedLimits:
    """Per-site budgets counted across every node, in Redis (`limits`' async Redis storage, redis-py).

    A site's frames arrive on every node, so its budget must be counted in one place. The check on the
    hot path stays synchronous: each node adds up its frames per site and sends the sums every
    `SHARED_FLUSH_SECS` (one `hit` with that cost); once Redis says the window is spent, the node
    refuses the site's frames until the window resets. Each node still applies the whole budget on its
    own first (`Budgets`), so with Redis down nothing is unlimited. A connection lives on one node, so
    its budget stays in memory (`Window`)."""

    def __init__(self, url: str) -> None:
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import FixedWindowRateLimiter as SharedFixedWindow

        self.url = url
        self.storage = RedisStorage("async+" + url, implementation="redispy", key_prefix="papote-limits")
        self.limiter = SharedFixedWindow(self.storage)
        self.blocked_until: dict[str, float] = {}
        self.errors = 0
        self._counted: dict[str, tuple[RateLimitItem, int]] = {}
        self._flusher: asyncio.Task[None] | None = None

    def blocked(self, key: str) -> bool:
        until = self.blocked_until.get(key)
        if until is None:
            return False
        if until > time.time():
            return True
        del self.blocked_until[key]
        return False

    def retry_after(self, key: str) -> float:
        """Seconds until a blocked key's shared window starts over (0 when it is not blocked)."""
        until = self.blocked_until.get(key)
        return max(0.0, until - time.time()) if until is not None else 0.0

    def hit(self, item: RateLimitItem, key: str, cost: int = 1) -> None:
        counted = self._counted.get(key)
        self._counted[key] = (item, cost + (counted[1] if counted else 0))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(SHARED_FLUSH_SECS)
            counted, self._counted = self._counted, {}
            for key, (item, cost) in counted.items():
                await self._hit(item, key, cost)
        finally:
            self._flusher = None

    async def _hit(self, item: RateLimitItem, key: str, cost: int) -> None:
        try:
            if await self.limiter.hit(item, "site", key, cost=cost):
                return
            stats = await self.limiter.get_window_stats(item, "site", key)
            self.blocked_until[key] = stats.reset_time
        except Exception:  # Redis down: the node's own budget still holds; count, go on
            self.errors += 1

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        # limits has no close: its redis-py client is the bridge's `storage` (limits 5.x).
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        closing = getattr(client, "aclose", None)
        if closing is not None:
            await closing()


def shared_storage_url(config: Config) -> str | None:
    """Where per-site budgets are counted: `PAPOTE_RATE_LIMITS` if set (`memory` keeps them per
    node), else the bus's Redis when the bus is Redis, else memory (one node, or NATS without Redis:
    then each node enforces the whole budget on its own)."""
    choice = config.rate_limits or (config.bus if config.bus.startswith(("redis://", "rediss://")) else "")
    if not choice or choice == "memory":
        return None
    return choice


def shared_limits(config: Config) -> SharedLimits | None:
    url = shared_storage_url(config)
    return SharedLimits(url) if url is not None else None

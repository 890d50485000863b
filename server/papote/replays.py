"""Replay guards: a signed request's one-time token (Mailgun's `token`) is taken once.

A signature proves who signed a request, not that it is the first time we see it: whoever captures a
signed post can post it again while its timestamp is fresh. So each token is remembered for as long
as its signature would be accepted (`ttl_secs`, the signature's maximum age plus the clock skew), and
a second post with it is a replay.

Across nodes the memory is shared the way the rate limits are (ratelimits.SharedLimits, in Redis): a
token is a one-hit budget there, so the first node to count it wins. Each node also remembers the
tokens it took, so with Redis down (or no Redis: one node) a replay to the same node is still refused.
A token whose post could not be processed is forgotten (`forget`), so the provider's retry with the
same signed fields is not mistaken for a replay.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from limits import RateLimitItemPerSecond

from papote.ratelimits import SharedLimits

log = logging.getLogger("papote.replays")

#: Tokens one node remembers at most: far beyond a provider's rate over a signature's lifetime (Mailgun's
#: inbound at 10 mails a second for 16 minutes); past it the oldest are dropped first.
MAX_TOKENS = 20_000


class Replays:
    def __init__(self, shared: SharedLimits | None, ttl_secs: int) -> None:
        self.shared = shared
        self.ttl_secs = ttl_secs
        self._item = RateLimitItemPerSecond(1, ttl_secs)
        #: (namespace, token) → when it may be forgotten (monotonic); in insertion order, so in expiry order.
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    async def first(self, namespace: str, token: str) -> bool:
        """True the first time `token` is seen (it is then remembered), False for a replay."""
        now = time.monotonic()
        while self._seen and next(iter(self._seen.values())) <= now:
            self._seen.popitem(last=False)
        key = (namespace, token)
        if key in self._seen:
            return False
        if self.shared is not None:
            try:
                if not await self.shared.limiter.hit(self._item, "replay", namespace, token):
                    return False
            except Exception:  # Redis down: this node's memory still guards
                self.shared.errors += 1
        self._seen[key] = now + self.ttl_secs
        while len(self._seen) > MAX_TOKENS:
            self._seen.popitem(last=False)
        return True

    async def forget(self, namespace: str, token: str) -> None:
        """The post with `token` was not processed: its retry may come with the same token."""
        self._seen.pop((namespace, token), None)
        if self.shared is not None:
            try:
                await self.shared.limiter.clear(self._item, "replay", namespace, token)
            except Exception:
                self.shared.errors += 1

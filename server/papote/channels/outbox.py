"""The outbox worker: claim due deliveries, send each through its channel, record what happened.

At least once, never zero: a delivery is claimed with a lease (store/outbox.py), so a node that dies
between the claim and the end of the send leaves it to a later claim once the lease runs out — the mail
may go twice (the relay took it, the node died before recording so), never not at all. A temporary
failure (a 4xx, a timeout, a refused connection) is retried with exponential backoff and jitter, up to
MAX_ATTEMPTS; a permanent one (a 5xx) fails the delivery at once. Either way the channel is told
(`on_failed`, with whether the failure was permanent): for email a permanent one marks the address as
bouncing, while a relay down for hours says nothing about the address.

On PostgreSQL every node runs a worker and the claim's SKIP LOCKED gives each row to one of them; on
SQLite there is one process. Time is injectable (`clock`), and `run_once` does one round, for tests.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from papote.ids import now_ms
from papote.store import Store
from papote.store.outbox import Delivery, DeliveryStatus

log = logging.getLogger("papote.outbox")

#: The first retry waits 30 s (a relay's greylisting commonly asks for a few minutes, the next tries
#: cover it), then doubles: 30 s, 1, 2, 4, 8, 16, 32 min, 1 h — about two hours in all before giving up.
FIRST_RETRY_MS = 30_000
MAX_RETRY_MS = 3_600_000
MAX_ATTEMPTS = 8
#: Deliveries claimed per round: a node sends them one after another, so this bounds a round's length.
CLAIM_BATCH = 20


class DeliveryError(Exception):
    """A send that did not happen: `permanent` when trying again cannot help (an address refused)."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after_ms: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        #: The provider said when to come back (a 429's Retry-After): the next attempt waits that long.
        self.retry_after_ms = retry_after_ms


def backoff_ms(attempts: int, rand: Callable[[], float] = random.random, *, first_ms: int = FIRST_RETRY_MS,
               max_ms: int = MAX_RETRY_MS) -> int:
    """The wait before the next attempt after `attempts` failed ones, ±20 % so retries do not march in step."""
    base = min(max_ms, first_ms * 2 ** max(0, attempts - 1))
    return int(base * (0.8 + 0.4 * rand()))


#: Sends one delivery; returns the provider's id for what it accepted, when it gives one.
Sender = Callable[[Delivery], Awaitable[str | None]]


class Outbox:
    """One channel's worker on this node.

    `ordered`: a delivery is claimed only after every earlier one to the same target for the same
    conversation is sent or given up (webhooks keep per-conversation order; email needs none). The
    retry schedule is the module's unless the channel brings its own (`first_retry_ms`…)."""

    def __init__(self, store: Store, channel: str, send: Sender, *, lease_ms: int, every_secs: float,
                 on_failed: Callable[[Delivery, str, bool], Awaitable[None]] | None = None,
                 on_done: Callable[[Delivery], Awaitable[None]] | None = None,
                 clock: Callable[[], int] = now_ms, ordered: bool = False, first_retry_ms: int = FIRST_RETRY_MS,
                 max_retry_ms: int = MAX_RETRY_MS, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.store = store
        self.ordered = ordered
        self.first_retry_ms = first_retry_ms
        self.max_retry_ms = max_retry_ms
        self.max_attempts = max_attempts
        self.channel = channel
        self.send = send
        self.lease_ms = lease_ms
        self.every_secs = every_secs
        self.on_failed = on_failed
        #: Told after each attempt was recorded, whatever its outcome (messaging shows it to agents).
        self.on_done = on_done
        self.clock = clock
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """Something was queued: look now rather than at the next tick."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                # A full batch may have left more; in an ordered outbox, each sent delivery may have
                # made the next of its conversation due: look again at once rather than a tick later.
                while (claimed := await self.run_once()) == CLAIM_BATCH or (self.ordered and claimed):
                    pass
            except Exception:  # a database hiccup: the next round tries again, nothing is lost
                log.warning("%s outbox round failed", self.channel, exc_info=True)
            try:
                await asyncio.wait_for(self._wake.wait(), self.every_secs)
            except TimeoutError:
                pass
            self._wake.clear()

    async def run_once(self) -> int:
        """Claim what is due and send it; returns how many were claimed."""
        claim = self.store.claim_ordered_deliveries if self.ordered else self.store.claim_deliveries
        claimed = await claim(self.channel, self.clock(), self.lease_ms, CLAIM_BATCH)
        for delivery in claimed:
            await self._attempt(delivery)
        return len(claimed)

    async def _attempt(self, delivery: Delivery) -> None:
        await self._try(delivery)
        if self.on_done is not None:
            try:
                await self.on_done(delivery)
            except Exception:  # telling agents is best effort: the outcome is recorded
                log.warning("%s delivery %s: on_done failed", self.channel, delivery.id, exc_info=True)

    async def _try(self, delivery: Delivery) -> None:
        try:
            provider_msg_id = await self.send(delivery)
        except DeliveryError as exc:
            await self._failed(delivery, exc.reason, permanent=exc.permanent, retry_after_ms=exc.retry_after_ms)
            return
        except Exception as exc:  # a bug in rendering or sending: keep the row, retry later, say so
            log.exception("%s delivery %s failed unexpectedly", self.channel, delivery.id)
            await self._failed(delivery, f"internal error: {type(exc).__name__}", permanent=False)
            return
        await self.store.finish_delivery(delivery.id, DeliveryStatus.SENT, self.clock(),
                                         provider_msg_id=provider_msg_id)
        delivery.provider_msg_id = provider_msg_id
        log.info("%s delivery %s (%s) sent on attempt %d", self.channel, delivery.id, delivery.kind,
                 delivery.attempts)

    async def _failed(self, delivery: Delivery, reason: str, *, permanent: bool,
                      retry_after_ms: int | None = None) -> None:
        now = self.clock()
        if permanent or delivery.attempts >= self.max_attempts:
            await self.store.finish_delivery(delivery.id, DeliveryStatus.FAILED, now, error=reason[:500])
            log.warning("%s delivery %s failed for good after %d attempt(s): %s", self.channel, delivery.id,
                        delivery.attempts, reason)
            if self.on_failed is not None:
                await self.on_failed(delivery, reason, permanent)
            return
        wait = (backoff_ms(delivery.attempts, first_ms=self.first_retry_ms, max_ms=self.max_retry_ms)
                if retry_after_ms is None else max(0, retry_after_ms))
        retry_at = now + wait
        await self.store.finish_delivery(delivery.id, DeliveryStatus.QUEUED, now, error=reason[:500],
                                         retry_at=retry_at)
        log.info("%s delivery %s attempt %d failed (%s); next at +%d s", self.channel, delivery.id,
                 delivery.attempts, reason, (retry_at - now) // 1000)

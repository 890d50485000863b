"""The inbound paths' budgets without a server (inbound_limits.py): per customer address and channel,
the site's budget shared with the widget's frames, the wait they name, and the SMTP answer that carries
it to the mail webhooks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from papote.inbound_limits import InboundLimits, retry_of, smtp_over
from papote.ratelimits import SHARED_FLUSH_SECS, Budgets, SharedLimits
from tests.brokers import Broker


def test_each_address_has_its_budget_per_channel_and_site() -> None:
    limits = InboundLimits(Budgets(), None, "2/minute", "100/minute")
    assert limits.hit("s_1", "email", "Ann@Example.test") is None
    assert limits.hit("s_1", "email", "ann@example.test ") is None  # the same address, case and blanks aside
    wait = limits.hit("s_1", "email", "ann@example.test")
    assert wait is not None and 1 <= wait <= 60
    assert limits.hit("s_1", "whatsapp", "ann@example.test") is None  # another channel
    assert limits.hit("s_2", "email", "ann@example.test") is None  # another site
    assert limits.hit("s_1", "email", "bob@example.test") is None


def test_inbound_messages_spend_the_sites_frame_budget() -> None:
    budgets = Budgets()
    limits = InboundLimits(budgets, None, "100/minute", "3/minute")
    for n in range(3):
        assert limits.hit("s_1", "api", f"crm-{n}") is None
    assert limits.hit("s_1", "api", "crm-9") is not None  # a new address, but the site is spent
    from limits import parse
    assert not budgets.hit(parse("3/minute"), "site", "s_1")  # the widget's frames meet the same budget


def test_the_smtp_answer_carries_the_wait() -> None:
    answer = smtp_over(42)
    assert answer.startswith("451 4.7.1 ") and retry_of(answer) == 42
    for other in ("250 OK", "451 4.3.0 Try later", "550 5.1.1 No such address"):
        assert retry_of(other) is None


@pytest.mark.asyncio
async def test_two_nodes_spend_one_address_budget(tmp_path: Path) -> None:
    broker = Broker("redis", tmp_path)
    broker.start()
    shared = [SharedLimits(broker.url), SharedLimits(broker.url)]
    try:
        nodes = [InboundLimits(Budgets(), s, "4/minute", "1000/minute") for s in shared]
        for _ in range(3):  # three on node 0: under budget there
            assert nodes[0].hit("s_1", "whatsapp", "336") is None
        deadline = time.monotonic() + 20
        refused_at = None
        # Node 1 alone would let four through. Counting node 0's three, it lets one through, and maybe one
        # more while its count is on its way to Redis (each node sends its sums every SHARED_FLUSH_SECS:
        # the widget's site budget holds across nodes the same way).
        for n in range(8):
            await asyncio_sleep(SHARED_FLUSH_SECS * 2)
            if nodes[1].hit("s_1", "whatsapp", "336") is not None:
                refused_at = n
                break
            assert time.monotonic() < deadline
        assert refused_at is not None and refused_at <= 2, refused_at
        assert shared[0].errors == shared[1].errors == 0
    finally:
        for s in shared:
            await s.close()
        broker.kill()


async def asyncio_sleep(secs: float) -> None:
    import asyncio

    await asyncio.sleep(secs)

"""Per-site budgets shared by several nodes through a private Redis (limits' async storage, redis-py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from limits import parse

from papote.config import Config
from papote.ratelimits import SHARED_FLUSH_SECS, SharedLimits, shared_storage_url
from tests.brokers import Broker


def test_the_bus_redis_counts_unless_told_otherwise() -> None:
    assert shared_storage_url(Config.from_env({})) is None
    assert shared_storage_url(Config.from_env({"PAPOTE_BUS": "redis://127.0.0.1:1/0"})) == "redis://127.0.0.1:1/0"
    assert shared_storage_url(Config.from_env({"PAPOTE_BUS": "nats://127.0.0.1:1"})) is None
    assert shared_storage_url(Config.from_env({"PAPOTE_BUS": "redis://127.0.0.1:1/0",
                                               "PAPOTE_RATE_LIMITS": "memory"})) is None


@pytest.mark.asyncio
async def test_two_nodes_spend_one_site_budget(tmp_path: Path) -> None:
    broker = Broker("redis", tmp_path)
    broker.start()
    nodes = [SharedLimits(broker.url), SharedLimits(broker.url)]
    try:
        item = parse("10/minute")
        for node in nodes:
            for _ in range(6):  # 12 frames in all: each node alone is under 10
                node.hit(item, "s_1")
        deadline = time.monotonic() + 20
        while not all(n.blocked("s_1") for n in nodes) and time.monotonic() < deadline:
            await asyncio.sleep(SHARED_FLUSH_SECS)
            for node in nodes:
                node.hit(item, "s_1")
        assert all(n.blocked("s_1") for n in nodes)
        assert not nodes[0].blocked("s_2")
        assert nodes[0].errors == nodes[1].errors == 0
    finally:
        for node in nodes:
            await node.close()
        broker.kill()

from __future__ import annotations

import threading
import time

from limits import parse

from papote.ratelimits import limiter


def test_limits_still_apply() -> None:
    lim = limiter()
    item = parse("5/10second")
    assert [lim.hit(item, "conn", "1") for _ in range(7)] == [True] * 5 + [False] * 2
    assert lim.hit(item, "conn", "2")


def test_busy_traffic_does_not_start_a_thread_per_hit() -> None:
    lim = limiter()
    item = parse("1000000/1second")
    before = threading.active_count()
    started = 0
    original = threading.Thread.start

    def counting_start(self: threading.Thread) -> None:
        nonlocal started
        started += 1
        original(self)

    threading.Thread.start = counting_start  # type: ignore[method-assign]
    try:
        for i in range(2000):  # ~0.2 s of steady traffic: the plain storage would start ~20 threads
            lim.hit(item, "conn", str(i % 50))
            if i % 20 == 0:
                time.sleep(0.002)
    finally:
        threading.Thread.start = original  # type: ignore[method-assign]
    assert started <= 2, f"{started} clean-up threads for 2000 hits"
    assert threading.active_count() <= before + 2

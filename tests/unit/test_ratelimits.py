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


def test_a_window_counts_every_hit_exactly() -> None:
    from papote.ratelimits import Window

    window = Window(parse("120/10second"))
    assert sum(window.hit(100.0 + i / 1000) for i in range(600)) == 120
    assert window.refused == 480
    assert window.hit(110.0)  # the next window starts with a full budget and no refusals
    assert window.refused == 0


def test_budgets_are_per_key_and_expired_ones_are_swept() -> None:
    from papote.ratelimits import Budgets

    budgets = Budgets()
    item = parse("3/1second")
    assert [budgets.hit(item, "site", "a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert budgets.hit(item, "site", "b", 0.0)
    assert len(budgets) == 2
    assert budgets.hit(item, "site", "c", 5.0)  # a new key after the others expired sweeps them
    assert len(budgets) == 1

"""Signing in against a real server: bounded password hashing, lockouts that hold, sessions that end.

Regression tests of issue 11's account items of "Lower": each replays what got through before the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.harness import PapoteServer


def code(body: Any) -> str | None:
    return body["error"]["code"] if isinstance(body, dict) and "error" in body else None


@pytest.fixture
def tight_server(tmp_path: Path) -> Iterator[PapoteServer]:
    """One hashing thread and one waiting place: the third concurrent sign-in is over the bound."""
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_HASH_WORKERS": "1", "PAPOTE_HASH_QUEUE": "1"})
    server.init()
    server.start()
    yield server
    server.stop()


def test_a_login_flood_is_shed_with_503_busy_instead_of_queued(tight_server: PapoteServer) -> None:
    server = tight_server

    def attempt(i: int) -> tuple[int, str | None, str | None]:
        status, body, headers = server.http("POST", "/api/login", {"email": f"flood{i}@papote.test",
                                                                   "password": "not-the-password"})
        return status, code(body), headers.get("retry-after") or headers.get("Retry-After")

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(attempt, range(24)))
    shed = [a for a in answers if a[0] == 503]
    # Before: one thread, an unbounded queue: every attempt waited its turn and none was refused.
    assert shed, answers
    assert all(a == (503, "busy", "1") for a in shed), shed
    assert all(a[:2] == (401, "unauthorized") for a in answers if a[0] != 503), answers
    # Once the flood is over, signing in works at once.
    assert server.login().startswith("papote_session=")

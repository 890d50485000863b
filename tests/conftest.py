from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.harness import OPEN_CLIENTS, PapoteServer


@pytest_asyncio.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    """Protocol clients opened by a test are closed with it (no socket outlives its test)."""
    yield
    while OPEN_CLIENTS:
        client = OPEN_CLIENTS.pop()
        with contextlib.suppress(Exception):
            await client.ws.close()


@pytest.fixture
def papote_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    """A real server subprocess on a free port with its own SQLite file, an owner agent and a site."""
    server = PapoteServer(tmp_path)
    server.init()
    server.start()
    yield server
    server.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("\n----- server log -----\n" + server.logs()[-20000:])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if report.when == "call":  # type: ignore[attr-defined]
        item.rep_call = report  # type: ignore[attr-defined]
    return report

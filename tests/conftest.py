from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from tests import postgres
from tests.brokers import Broker
from tests.harness import BACKENDS, CREATED_DATABASES, PapoteServer, close_open_clients, drop_database, serve
from tests.providers import FakeProviders

T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend", choices=[*BACKENDS, "both"], default=os.environ.get("PAPOTE_TEST_BACKEND", "both"),
        help="store backend(s) for the tests that take a `backend` (default: both, or $PAPOTE_TEST_BACKEND)",
    )


def selected_backends(config: pytest.Config) -> list[str]:
    chosen = str(config.getoption("--backend"))
    return list(BACKENDS) if chosen == "both" else [chosen]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that uses the `backend` fixture (the store contract) runs once per chosen backend. So does a
    test marked `both_backends` (or in a module so marked) whose servers take `server_backend`. The id
    says which: `test_x[sqlite]`, `test_x[postgres]`."""
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", selected_backends(metafunc.config))
    elif "server_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("server_backend", selected_backends(metafunc.config))


@pytest.fixture
def server_backend() -> str:
    """The store a test's server runs on: SQLite, unless the test is marked `both_backends`."""
    return "sqlite"


@pytest.fixture(scope="session", autouse=True)
def drop_leftover_databases() -> Iterator[None]:
    """A PostgreSQL database a server created and no test dropped (a test failed before `close()`)
    goes at the end of the run."""
    yield
    for url in list(CREATED_DATABASES):
        drop_database(url)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from synchronous code, on a loop of its own in another thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """This test run's own PostgreSQL database (dropped at the end): its URL."""
    if not postgres.available():
        pytest.fail(f"PostgreSQL is not answering on {postgres.HOST}:{postgres.PORT} (.ci/run starts it)")
    database_url = run_sync(postgres.create_database())
    yield database_url
    run_sync(postgres.drop_database(database_url))


@pytest_asyncio.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    """Protocol clients opened by a test are closed with it (no socket outlives its test)."""
    yield
    await close_open_clients()


@pytest.fixture
def papote_server(tmp_path: Path, server_backend: str, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    """A real server subprocess on a free port with its own database, an owner agent and a site."""
    server = PapoteServer(tmp_path, backend=server_backend)
    yield from serve(server, request)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if report.when == "call":  # type: ignore[attr-defined]
        item.rep_call = report  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="module")
def providers() -> Iterator[FakeProviders]:
    """The messaging apps' fake servers on loopback (tests/providers.py), one set per test module."""
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def redis_broker(tmp_path: Path) -> Iterator[Broker]:
    """A private redis-server on a free port for this test's nodes, killed at its end (never the machine's)."""
    b = Broker("redis", tmp_path / "redis")
    b.start()
    yield b
    b.kill()

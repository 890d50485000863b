"""Fixtures of the unit tests: the SQLite store on a real file; every backend for the store contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from papote.store import Store
from papote.store.sqlite import SqliteStore


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "t.db"))
    await s.open()
    yield s
    await s.close()


@pytest_asyncio.fixture(params=["sqlite"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each backend in turn, empty (SQLite on a new file)."""
    s: Store
    s = SqliteStore(str(tmp_path / "t.db"))
    await s.open()
    yield s
    await s.close()

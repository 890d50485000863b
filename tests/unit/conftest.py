"""Fixtures of the unit tests: the SQLite store on a real file; every backend for the store contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from papote.store import Store
from papote.store.postgres import PostgresStore
from papote.store.sqlite import SqliteStore


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "t.db"))
    await s.open()
    yield s
    await s.close()


async def empty(database_url: str) -> None:
    """Every table of the store emptied (but `meta`: the schema stays as migrated)."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename<>'meta'"
        )
        if tables:
            await conn.execute(f"TRUNCATE {', '.join(t[0] for t in tables)} CASCADE")
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def any_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each backend in turn (tests/conftest.py: --backend), empty: SQLite on a new file, PostgreSQL on
    the test run's own database, emptied."""
    s: Store
    if backend == "postgres":
        database_url = request.getfixturevalue("pg_database")
        await empty(database_url)
        s = PostgresStore(database_url)
    else:
        s = SqliteStore(str(tmp_path / "t.db"))
    await s.open()
    yield s
    await s.close()

"""Throw-away PostgreSQL databases for tests, on this machine's server (127.0.0.1:5432, user postgres,
trust authentication; `.ci/run` starts it when it is down).

Each database is named `papote_t_<random hex>`, so concurrent test runs never meet, and is dropped
when its test (or test run) is done, with any connection still open to it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator

import asyncpg

HOST = os.environ.get("PAPOTE_TEST_PGHOST", "127.0.0.1")
PORT = int(os.environ.get("PAPOTE_TEST_PGPORT", "5432"))
USER = os.environ.get("PAPOTE_TEST_PGUSER", "postgres")
PREFIX = "papote_t_"


def url(name: str) -> str:
    return f"postgresql://{USER}@{HOST}:{PORT}/{name}"


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(host=HOST, port=PORT, user=USER, database="postgres", timeout=10)


async def create_database() -> str:
    """A new empty database; returns its URL."""
    name = PREFIX + secrets.token_hex(6)
    conn = await _admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url(name)


async def drop_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    assert name.startswith(PREFIX), name  # never anything but ours
    conn = await _admin()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def database() -> AsyncIterator[str]:
    """A throw-away database for the block: its URL."""
    database_url = await create_database()
    try:
        yield database_url
    finally:
        await drop_database(database_url)


async def terminate_backends(database_url: str) -> int:
    """pg_terminate_backend for every connection to the database (a connection the server drops);
    returns how many were terminated."""
    name = database_url.rsplit("/", 1)[1]
    conn = await _admin()
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=$1 AND pid<>pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()
    return sum(1 for r in rows if r[0])


def available() -> bool:
    """Whether the server answers (tests that need it fail with a clear message otherwise)."""
    import socket

    with contextlib.suppress(OSError), socket.create_connection((HOST, PORT), timeout=2):
        return True
    return False

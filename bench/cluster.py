"""What the PostgreSQL and several-node rows of ``make bench`` need besides ``papote serve``.

* ``pg_database()`` — a throw-away database on the machine's PostgreSQL (``PAPOTE_BENCH_POSTGRES``,
  by default ``postgresql://postgres@127.0.0.1:5432/postgres``: the server the tests use), named
  ``papote_bench_<random>`` and dropped afterwards, connections and all.
* ``private_redis()`` — a redis-server of our own on a free loopback port, pinned with the nodes, so
  that its CPU time is ours alone (the machine's Redis serves every test suite) and so that nothing
  another run publishes reaches our nodes. Persistence off: the bus keeps nothing in Redis.

PostgreSQL is shared and not ours to pin or restart; bench/loadgen.py reads the CPU time of its
backends for our database from /proc (``--pg-database``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

ADMIN_DSN = os.environ.get("PAPOTE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
#: Connections per node. The machine's PostgreSQL has max_connections = 100 for every test suite at
#: once; 8 keeps the store's four append lanes (as with the default 10) and three nodes at 24.
NODE_POOL = 8
#: How long a fresh redis-server may take to listen.
REDIS_START_SECS = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_store_missing() -> str | None:
    """Why the PostgreSQL rows cannot run here, or None."""
    try:
        from papote.config import Config
        from papote.store.factory import store_for

        store = store_for(Config(database=database_url("papote_bench_probe")))  # opens nothing
    except Exception as error:  # asyncpg missing, a store that refuses the URL
        return f"no PostgreSQL store in this build ({error})"
    if not type(store).__module__.startswith("papote.store.postgres"):
        return f"no PostgreSQL store in this build (a postgresql:// URL gives {type(store).__name__})"
    try:
        asyncio.run(_admin("SELECT 1"))
    except Exception as error:  # refused, auth, timeout: the row says which
        return f"PostgreSQL at {_shown(ADMIN_DSN)} not reachable: {error}"
    return None


def database_url(name: str) -> str:
    return urlsplit(ADMIN_DSN)._replace(path=f"/{name}").geturl()


@contextlib.contextmanager
def pg_database() -> Iterator[tuple[str, str]]:
    """(name, URL) of a new empty database, dropped on the way out."""
    name = f"papote_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name, database_url(name)
    finally:
        # FORCE (PostgreSQL 13+): a node killed mid-run may leave its backends behind for a moment.
        with contextlib.suppress(Exception):
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def private_redis(prefix: list[str], core: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """(URL, process) of a redis-server of our own, pinned to `core`."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [*prefix, "taskset", "-c", core, binary, "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + REDIS_START_SECS
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not listen on {port} within {REDIS_START_SECS} s")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _shown(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()

"""The PostgreSQL engine: connections, migrations and the schema check, reads and transactions.

Two kinds of connection per node, `database_pool` in all (config.py):

* the append lanes (`lanes.py`): a few dedicated connections, each sending whole batches of appends to
  the `papote_append` function, one call at a time (group commit);
* a pool for everything else: reads, which are one statement and so one round trip each (a list of
  ids goes as one array parameter, `= ANY($1)`), and the other writes, each one statement where it can
  be, a transaction where it needs a lock held between two statements.

A connection the server terminated, or a network that dropped, costs the calls that were on it (an
append then fails with `Busy`: its outcome is unknown, so it is not acknowledged, and the client's
retry finds the first copy if there was one); the pool replaces the connection on its next use, a
lane on its next batch. A read that finds its connection gone is tried once more on a fresh one.

Migrations (`migrations/*.sql`) run at start in one transaction under an advisory lock, so nodes
starting together apply each script once; the version reached is kept in `meta`. A database whose
schema is newer than this code refuses to start (`SchemaTooNew`) rather than write in a shape it
does not know.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any, TypeVar

import asyncpg

from papote.errors import Busy
from papote.store.postgres.connection import (
    CONNECTION_LOST,
    ClientDataError,
    prepare_connection,
    reset_connection,
)
from papote.store.postgres.lanes import Lanes

log = logging.getLogger("papote.store")
T = TypeVar("T")

#: The key of the advisory lock migrations run under (any constant shared by every node; this one
#: spells "papote" in hex).
MIGRATION_LOCK = 0x7061706F7465
#: Append lanes per node when the pool allows it: measured (bench/store_append.py), one lane tops out
#: at one batch per round trip plus the batch's own time; four keep the server's CPUs busy with
#: batches of several conversations while one conversation's appends stay in one lane, in order.
LANES = 4
#: A connection that is not answering after this long is given up (seconds); a batch is much faster.
CONNECT_TIMEOUT = 10.0

class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Papote: this one refuses to start (code `schema_too_new`)."""

    code = "schema_too_new"


def migrations() -> list[tuple[int, str, str]]:
    """(number, file name, SQL) of every migration script shipped, in order."""
    folder = resources.files("papote.store.postgres") / "migrations"
    out = []
    for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql")):
        out.append((int(name.split("_", 1)[0]), name, (folder / name).read_text()))
    return out


async def schema_version(conn: asyncpg.Connection) -> int:
    """The migration a database has reached (0: none, not even the meta table)."""
    if await conn.fetchval("SELECT to_regclass('meta')") is None:
        return 0
    value = await conn.fetchval("SELECT value FROM meta WHERE key='schema_version'")
    return int(value) if value is not None else 0


async def migrate(conn: asyncpg.Connection) -> int:
    """Bring the schema to this code's version under the migration lock; returns the version.

    Everything runs in one transaction holding `pg_advisory_xact_lock`: a node that starts while
    another migrates waits, then finds the work done. DDL is transactional here, so a script that
    fails leaves the database as it was."""
    scripts = migrations()
    latest = scripts[-1][0] if scripts else 0
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        version = await schema_version(conn)
        if version > latest:
            raise SchemaTooNew(
                f"schema_too_new: the database is at schema version {version}, this Papote knows up to "
                f"{latest}; run the Papote that migrated it (or a newer one)"
            )
        for number, name, sql in scripts:
            if number <= version:
                continue
            log.info("applying migration %s", name)
            await conn.execute(sql)
            if number == 1:
                # The epoch names this database: a restored backup or a new one gets a new epoch, and
                # clients holding seqs from another epoch reload instead of trusting them.
                await conn.execute("INSERT INTO meta(key, value) VALUES ('epoch', $1)", f"e_{secrets.token_hex(8)}")
            await conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', $1) "
                "ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                str(number),
            )
            version = number
    return version


class PostgresEngine:
    def __init__(self, dsn: str, pool_size: int = 10, lanes: int | None = None) -> None:
        self.dsn = dsn
        self.lane_count = lanes if lanes is not None else max(1, min(LANES, pool_size // 2))
        self.pool_size = max(1, pool_size - self.lane_count)
        self.epoch = ""
        self._pool: asyncpg.Pool | None = None
        self._lanes: Lanes | None = None
        #: The connection holding this node's job locks (`singleton`), and what serializes its statements.
        self._locks: asyncpg.Connection | None = None
        self._locks_guard = asyncio.Lock()
        self.on_settled: Callable[[], None] | None = None  # see Store.on_settled

    # -- lifecycle -----------------------------------------------------------------------------------
    async def open(self) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT)
        try:
            await migrate(conn)
            self.epoch = await conn.fetchval("SELECT value FROM meta WHERE key='epoch'") or ""
        finally:
            await conn.close()
        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=1, max_size=self.pool_size, init=prepare_connection, reset=reset_connection,
            timeout=CONNECT_TIMEOUT,
        )
        self._lanes = Lanes(self.lane_count, self._connect, self._settled)

    def _settled(self) -> None:
        if self.on_settled is not None:
            self.on_settled()

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT)
        await prepare_connection(conn)
        return conn

    async def close(self) -> None:
        if self._lanes is not None:
            await self._lanes.close()  # what was queued is written first
            self._lanes = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        if self._locks is not None:
            locks, self._locks = self._locks, None
            with contextlib.suppress(*CONNECTION_LOST):
                await locks.close()

    @property
    def lanes(self) -> Lanes:
        if self._lanes is None:
            raise RuntimeError("store is not open")
        return self._lanes

    def commit_stats(self) -> dict[str, int]:
        """The append lanes' batches (other writes are a transaction each on the pool, not counted)."""
        lanes = self._lanes
        return {"commits": lanes.batches, "writes": lanes.appends} if lanes is not None else {"commits": 0, "writes": 0}

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    @contextlib.asynccontextmanager
    async def singleton(self, job: str) -> AsyncIterator[bool]:
        """A session-level advisory lock named after the job, held while the block runs: one node at a
        time across every node of this database gets True.

        The locks live on one connection of their own, not on a pool connection: a job holding a pool
        connection for its whole run while its statements wait for another starves the pool once there
        are as many periodic jobs as connections (they all waited, forever). A session holds any number
        of advisory locks, so one connection serves every job of the node; its statements are
        serialized (`_locks_guard`), the locks between them are not. If that connection is lost, the
        server released its locks: the next round takes them on a new one."""
        conn = await self._locks_connection()
        async with self._locks_guard:
            got = bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", job))
        try:
            yield got
        finally:
            if got and not conn.is_closed():
                try:
                    async with self._locks_guard:
                        await conn.fetchval("SELECT pg_advisory_unlock(hashtextextended($1, 0))", job)
                except CONNECTION_LOST:
                    log.warning("the connection holding job locks was lost; they were released with it")

    async def _locks_connection(self) -> asyncpg.Connection:
        async with self._locks_guard:
            if self._locks is None or self._locks.is_closed():
                self._locks = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT)
            return self._locks

    # -- statements ----------------------------------------------------------------------------------
    async def _retry_once(self, call: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
        """A read on a connection found dead is tried again on another (reads change nothing)."""
        try:
            return await call(self.pool)
        except ClientDataError:
            raise
        except CONNECTION_LOST:
            log.warning("database connection lost during a read; trying once more", exc_info=True)
            return await call(self.pool)

    async def _all(self, sql: str, *args: Any) -> list[Any]:
        return list(await self._retry_once(lambda pool: pool.fetch(sql, *args)))

    async def _one(self, sql: str, *args: Any) -> Any:
        return await self._retry_once(lambda pool: pool.fetchrow(sql, *args))

    async def _value(self, sql: str, *args: Any) -> Any:
        return await self._retry_once(lambda pool: pool.fetchval(sql, *args))

    async def _write_row(self, sql: str, *args: Any) -> Any:
        """One writing statement, its own transaction; the row it returns (or None)."""
        try:
            return await self.pool.fetchrow(sql, *args)
        except ClientDataError:
            raise
        except CONNECTION_LOST as exc:
            raise Busy("the database connection was lost; retry in a moment") from exc

    async def _execute(self, sql: str, *args: Any) -> str:
        try:
            return str(await self.pool.execute(sql, *args))
        except ClientDataError:
            raise
        except CONNECTION_LOST as exc:
            raise Busy("the database connection was lost; retry in a moment") from exc

    async def _transaction(self, job: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`job` inside one transaction on one pool connection."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                return await job(conn)
        except ClientDataError:
            raise
        except CONNECTION_LOST as exc:
            raise Busy("the database connection was lost; retry in a moment") from exc

"""What every PostgreSQL connection of the store shares: its codecs, its reset, the errors that mean
it is gone."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

#: What a dropped or terminated connection raises: the outcome of the call on it is unknown.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,  # the 08xxx class: no connection, or lost mid-call
    asyncpg.exceptions.AdminShutdownError,  # pg_terminate_backend, a fast shutdown
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    # The client's side of a socket that went away mid-call ("connection is closed", a write to a
    # reset socket). Its InterfaceError also covers arguments it could not encode (ClientDataError,
    # below), which callers catch first: those are the caller's, not the connection's.
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
    OSError,
)

#: Arguments the client could not encode (an InterfaceError, not the server's DataError).
ClientDataError = asyncpg.exceptions._base.DataError


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def prepare_connection(conn: asyncpg.Connection) -> None:
    """jsonb columns come and go as Python values."""
    await conn.set_type_codec("jsonb", encoder=dumps, decoder=json.loads, schema="pg_catalog")


async def reset_connection(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool. asyncpg's default reset costs a round trip
    on every release (unlisten, advisory unlock, RESET ALL) for state this store never leaves behind:
    its advisory locks are transaction-level, it never LISTENs or SETs. Only a transaction left open
    (a caller cancelled mid-way) is rolled back."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")

"""A deliberately broken Papote for the crash test's self-check: it acknowledges before COMMIT.

The writer still runs every batch, and the ack still goes out when the batch returns, but the
transaction is left open and committed only every `COMMIT_EVERY_SECS`: acknowledged messages sit in
an uncommitted transaction, which a kill -9 throws away. The crash harness must report them lost;
if it does not, the harness cannot catch the bug it exists for.

Run as `python -m mutant_ack_before_commit serve` with tests/faults on PYTHONPATH.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from papote import cli
from papote.store.sqlite import engine as sqlite_store

# Long enough that most kills land inside an uncommitted window, short enough that the server
# still makes progress (readers see committed rows only).
COMMIT_EVERY_SECS = 0.5

_real_run_batch = sqlite_store._run_batch
_last_commit = time.monotonic()


class _CommitLater:
    """The writer connection as the real `_run_batch` sees it, except that COMMIT is mostly a no-op
    and BEGIN joins the transaction still open. Wrapping (not copying) the batch runner keeps the
    mutant true to whatever the store does today."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        global _last_commit
        if sql == "BEGIN IMMEDIATE" and self._conn.in_transaction:
            return self._conn.cursor()
        if sql == "COMMIT":
            if time.monotonic() - _last_commit < COMMIT_EVERY_SECS:
                return self._conn.cursor()  # the bug: the caller acks now, durable or not
            _last_commit = time.monotonic()
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _run_batch_without_commit(conn: sqlite3.Connection, jobs: list[Any]) -> list[tuple[bool, Any]]:
    return _real_run_batch(_CommitLater(conn), jobs)  # type: ignore[arg-type]


sqlite_store._run_batch = _run_batch_without_commit  # type: ignore[assignment]

if __name__ == "__main__":
    cli.main()

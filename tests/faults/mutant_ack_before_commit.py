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
from papote.store import sqlite as sqlite_store

# Long enough that most kills land inside an uncommitted window, short enough that the server
# still makes progress (readers see committed rows only).
COMMIT_EVERY_SECS = 0.5

_last_commit = time.monotonic()


def _run_batch_without_commit(conn: sqlite3.Connection, jobs: list[Any]) -> list[tuple[bool, Any]]:
    global _last_commit
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
    outcomes: list[tuple[bool, Any]] = []
    for job in jobs:
        conn.execute("SAVEPOINT job")
        try:
            value = job.fn(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            outcomes.append((False, exc))
        else:
            conn.execute("RELEASE job")
            outcomes.append((True, value))
    if time.monotonic() - _last_commit > COMMIT_EVERY_SECS:
        conn.execute("COMMIT")
        _last_commit = time.monotonic()
    return outcomes  # the bug: the caller acks now, durable or not


sqlite_store._run_batch = _run_batch_without_commit  # type: ignore[assignment]

if __name__ == "__main__":
    cli.main()

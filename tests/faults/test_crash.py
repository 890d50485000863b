"""Crash: kill -9 the server again and again under load; no acknowledged message may be lost.

Visitors send continuously; when the socket dies they reconnect with backoff, resume, and retry
the unacknowledged message with the same client_msg_id (as the widget's outbox does). A killer
SIGKILLs the server at random moments and restarts it on the same database. At the end the
database must hold every acknowledged message at the seq its ack named, no (conversation,
client_msg_id) twice, and `PRAGMA integrity_check` must say ok after every kill.

The self-check runs the same harness against a build that acks before COMMIT
(mutant_ack_before_commit.py) and requires it to find losses: a harness that cannot fail proves
nothing. CI runs a reduced size; `-m soak` runs the issue's 50 kills.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import sys
import time
from dataclasses import dataclass, field

import pytest
from websockets.exceptions import InvalidHandshake, InvalidStatus

from .client import Closed, Visitor
from .conftest import HERE, SITE_ORIGIN, ServerProcess


@dataclass
class CrashReport:
    acked: dict[str, tuple[str, int]] = field(default_factory=dict)  # cmid → (conversation, seq)
    retry_mismatches: list[str] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)  # integrity_check after each kill
    lost: list[str] = field(default_factory=list)
    wrong_seq: list[str] = field(default_factory=list)
    duplicates: int = 0
    kills: int = 0
    elapsed: float = 0.0


# The widget's reconnect rule (protocol §1) with a small base, so a test is not mostly sleeping.
BACKOFF_BASE_SECS, BACKOFF_CAP_SECS = 0.05, 1.0
# Every this many sends a visitor re-sends an acknowledged id: the ack must name the same seq.
RESEND_EVERY = 7
SOCKET_ERRORS = (Closed, OSError, TimeoutError, InvalidHandshake, InvalidStatus)


async def visitor_loop(server: ServerProcess, index: int, report: CrashReport, stop: asyncio.Event) -> None:
    visitor = Visitor(server.base_url, server.site_key, SITE_ORIGIN)
    connected = False
    attempt = 0
    n = 0
    pending: str | None = None
    while not stop.is_set():
        try:
            if not connected:
                await visitor.connect()
                if visitor.last_seq:
                    await visitor.resume()
                connected, attempt = True, 0
            if pending is None:
                n += 1
                pending = f"crash-{index}-{n:06d}"
                if n % RESEND_EVERY == 0 and report.acked:
                    # An acknowledged id again: a retry whose first ack was received.
                    mine = [k for k in report.acked if k.startswith(f"crash-{index}-")]
                    if mine:
                        old = random.choice(mine)
                        ack = await visitor.send(old, f"body of {old}")
                        if (ack.conversation, ack.seq) != report.acked[old]:
                            again = (ack.conversation, ack.seq)
                            report.retry_mismatches.append(f"{old}: first {report.acked[old]}, retry {again}")
            try:
                ack = await visitor.send(pending, f"body of {pending}")
            except AssertionError as refused:
                if "not_found" in str(refused):
                    # The server no longer knows this visitor's conversation (only a broken build
                    # can get here): start a new one; the DB check counts what was lost.
                    visitor.conversation = None
                    continue
                raise
            previous = report.acked.get(pending)
            if previous is not None and previous != (ack.conversation, ack.seq):
                report.retry_mismatches.append(f"{pending}: {previous} then {ack}")
            report.acked[pending] = (ack.conversation, ack.seq)
            pending = None
        except SOCKET_ERRORS:
            connected = False
            await visitor.session.close()
            attempt += 1
            ceiling = min(BACKOFF_CAP_SECS, BACKOFF_BASE_SECS * 2**attempt)
            await asyncio.sleep(random.uniform(0, ceiling))
    await visitor.session.close()


async def run_crash(server: ServerProcess, *, kills: int, visitors: int, up_secs: tuple[float, float]) -> CrashReport:
    report = CrashReport()
    started = time.monotonic()
    await asyncio.to_thread(server.start)
    stop = asyncio.Event()
    workers = [asyncio.create_task(visitor_loop(server, i, report, stop)) for i in range(visitors)]
    try:
        for _ in range(kills):
            await asyncio.sleep(random.uniform(*up_secs))
            await asyncio.to_thread(server.kill)
            report.kills += 1
            report.integrity.append(await asyncio.to_thread(server.integrity))
            await asyncio.to_thread(server.start)
        await asyncio.sleep(up_secs[1])  # let every visitor get its pending message through
    finally:
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
        await asyncio.to_thread(server.kill)
    report.elapsed = time.monotonic() - started
    check_database(server, report)
    return report


def check_database(server: ServerProcess, report: CrashReport) -> None:
    report.integrity.append(server.integrity())
    with contextlib.closing(sqlite3.connect(server.database)) as db:
        rows = db.execute(
            "SELECT conversation_id, seq, client_msg_id FROM messages WHERE client_msg_id LIKE 'crash-%'"
        ).fetchall()
        report.duplicates = db.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE client_msg_id IS NOT NULL"
            " GROUP BY conversation_id, client_msg_id HAVING COUNT(*) > 1)"
        ).fetchone()[0]
    stored = {cmid: (conversation, seq) for conversation, seq, cmid in rows}
    for cmid, where in report.acked.items():
        if cmid not in stored:
            report.lost.append(cmid)
        elif stored[cmid] != where:
            report.wrong_seq.append(f"{cmid}: acked {where}, stored {stored[cmid]}")


def describe(report: CrashReport) -> str:
    return (
        f"{report.kills} kills in {report.elapsed:.1f} s, {len(report.acked)} acks; "
        f"lost {len(report.lost)} {report.lost[:5]}, wrong seq {report.wrong_seq[:5]}, "
        f"duplicates {report.duplicates}, retry mismatches {report.retry_mismatches[:5]}, "
        f"integrity {sorted(set(report.integrity))}"
    )


def assert_nothing_lost(report: CrashReport, min_acks: int) -> None:
    summary = describe(report)
    print(summary)
    assert report.kills > 0, summary
    assert len(report.acked) >= min_acks, f"too little load to prove anything: {summary}"
    assert report.lost == [], summary
    assert report.wrong_seq == [], summary
    assert report.duplicates == 0, summary
    assert report.retry_mismatches == [], summary
    assert set(report.integrity) == {"ok"}, summary


@pytest.mark.asyncio
async def test_kill9_loses_no_acked_message(server_process: ServerProcess) -> None:
    report = await run_crash(server_process, kills=5, visitors=20, up_secs=(0.3, 1.0))
    assert_nothing_lost(report, min_acks=200)


@pytest.mark.soak
@pytest.mark.asyncio
async def test_kill9_fifty_times(server_process: ServerProcess) -> None:
    report = await run_crash(server_process, kills=50, visitors=50, up_secs=(0.3, 1.5))
    assert_nothing_lost(report, min_acks=5000)


@pytest.mark.asyncio
async def test_harness_catches_ack_before_commit(server_process: ServerProcess) -> None:
    """Self-check: the same harness against a build that acks before COMMIT must see losses."""
    server_process.launcher = [sys.executable, "-m", "mutant_ack_before_commit"]
    assert (HERE / "mutant_ack_before_commit.py").exists()
    report = await run_crash(server_process, kills=5, visitors=8, up_secs=(0.3, 1.0))
    print(describe(report))
    assert report.kills == 5
    assert report.lost or report.wrong_seq, (
        f"the harness saw no loss from an ack-before-commit build: {describe(report)}"
    )

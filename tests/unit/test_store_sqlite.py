"""What only the SQLite store does: group commit, WAL, checkpoints, point reads, migrations, integrity.

The contract every backend keeps is in test_store_contract.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from papote.store import NewMessage, Site, Visitor
from papote.store.sqlite import SqliteStore
from papote.store.sqlite import engine as sqlite_store
from papote.types import AuthorKind, MessageKind


async def site_and_visitor(store: SqliteStore) -> tuple[Site, Visitor]:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    visitor = await store.create_visitor(site.id, "tokenhash")
    return site, visitor


def text(site: Site, visitor: Visitor, cid: str | None, body: str, cmid: str) -> NewMessage:
    return NewMessage(site.id, cid, AuthorKind.VISITOR, visitor.id, "", MessageKind.TEXT, body, cmid,
                      visitor_id=visitor.id)


@pytest.mark.asyncio
async def test_concurrent_appends_get_distinct_contiguous_seqs_in_few_batches(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    batches_before = store.batches
    results = await asyncio.gather(*[
        store.append(text(site, visitor, cid, f"m{i}", f"cmid-{i:05d}")) for i in range(1000)
    ])
    assert sorted(r.message.seq for r in results) == list(range(2, 1002))
    # Group commit: a thousand waiting appends share a handful of transactions.
    assert store.batches - batches_before <= 10


#: Generous: the suite shares two cores with other work.
WAIT_SECS = 30.0


@pytest.mark.asyncio
@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="a Linux scheduling policy")
async def test_the_writer_thread_waits_for_the_core_rather_than_preempt_the_loop(store: SqliteStore) -> None:
    """Woken by its queue or by its fsync, the writer needs the GIL the running loop holds: as a batch
    thread it waits for the loop to poll instead of preempting it to block on the GIL at once."""
    writer = store._writer
    assert writer is not None and writer._thread is not None and writer._thread.native_id is not None
    assert os.sched_getscheduler(writer._thread.native_id) == os.SCHED_BATCH


@pytest.mark.asyncio
async def test_a_write_to_an_idle_store_starts_its_batch_in_the_turn_that_queued_it(store: SqliteStore) -> None:
    """Not a round of the loop later: the writer begins once the loop polls, and the writes queued in
    the rest of the turn join the batch all the same."""
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    batches = store.batches
    futures = [store.append_nowait(text(site, visitor, cid, f"m{i}", f"cmid-turn-{i}")) for i in range(3)]
    assert store._committing, "the batch waits for the loop's next round"
    await asyncio.gather(*futures)
    assert store.batches - batches <= 2  # the writer may take the GIL between two of them, rarely


@pytest.mark.asyncio
async def test_the_writer_commits_what_waits_without_waiting_for_the_loop(store: SqliteStore) -> None:
    """A write that queued during a commit leaves as soon as that commit returns, even while the loop is
    still busy with the commit's outcome (its acks and fan-outs): the loop does not start each batch."""
    started, gate = threading.Event(), threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        started.set()
        assert gate.wait(WAIT_SECS)

    first = store._submit(slow)
    assert await asyncio.to_thread(started.wait, WAIT_SECS), "the writer never took the first job"
    second = store._submit(lambda conn: conn.execute("INSERT INTO meta(key, value) VALUES ('probe', 'x')"))
    seen_while_busy: list[bool] = []

    def busy_loop(_: object) -> None:
        # The loop learns the first commit and, in that very turn, stays busy: the second write must
        # reach the disk meanwhile (read from another connection, as another process would).
        deadline = time.monotonic() + WAIT_SECS
        with contextlib.closing(sqlite3.connect(store.path)) as raw:
            while time.monotonic() < deadline:
                if raw.execute("SELECT 1 FROM meta WHERE key='probe'").fetchone():
                    seen_while_busy.append(True)
                    return
                time.sleep(0.01)

    first.add_done_callback(busy_loop)
    gate.set()
    await first
    await second
    assert seen_while_busy, "the second write waited for the loop to start its batch"


@pytest.mark.asyncio
async def test_epoch_survives_reopen_and_schema_is_versioned(tmp_path: Path) -> None:
    path = str(tmp_path / "e.db")
    first = SqliteStore(path)
    await first.open()
    epoch = first.epoch
    await first.close()
    again = SqliteStore(path)
    await again.open()
    assert again.epoch == epoch and epoch.startswith("e_")
    await again.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] >= 1
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.asyncio
async def test_a_corrupt_file_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    store = SqliteStore(str(path))
    with pytest.raises((RuntimeError, sqlite3.DatabaseError)):
        await store.open()


@pytest.mark.asyncio
async def test_reads_see_every_commit_after_background_checkpoints(
    monkeypatch: pytest.MonkeyPatch, store: SqliteStore
) -> None:
    # Guard: a statement left un-stepped on a reader (the checkpoint's result row) would keep a read
    # transaction open there, and that reader would serve an old snapshot.
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_COMMITS", 1)  # checkpoint after the first commit
    checkpoints = watch_checkpoints(monkeypatch)
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "a", "cmid-00001"))).conversation.id
    await wait_until(lambda: checkpoints)
    await store.append(text(site, visitor, cid, "b", "cmid-00002"))
    for _ in range(sqlite_store.READERS * 2):  # every reader connection, round robin
        assert [m.body for m in await store.messages_after(cid, 0, 10, include_notes=False)] == ["a", "b"]


@pytest.mark.asyncio
async def test_point_reads_see_each_commit_and_fall_back_when_the_wal_is_busy(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "a", "cmid-00001"))).conversation.id
    # Read on the loop's own connection right after the ack: the commit is visible.
    assert (await store.get_conversation(cid)).last_seq == 1  # type: ignore[union-attr]
    await store.append(text(site, visitor, cid, "b", "cmid-00002"))
    assert (await store.last_messages([cid], include_notes=False))[cid].body == "b"
    # The same visitor asked for twice (two conversations) is one row, not a binding error.
    assert list(await store.get_visitors([visitor.id, visitor.id])) == [visitor.id]

    class Busy:
        def execute(self, *_: object) -> None:
            raise sqlite3.OperationalError("database is locked")

        def close(self) -> None:
            pass

    inline, store._inline = store._inline, Busy()  # type: ignore[assignment]
    try:
        assert (await store.get_conversation(cid)).last_seq == 2  # type: ignore[union-attr]
    finally:
        store._inline = inline


def watch_checkpoints(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry each time the writer finishes a checkpoint."""
    done: list[bool] = []
    rest = sqlite_store._checkpoint_rest

    def counted(conn: sqlite3.Connection) -> None:
        rest(conn)
        done.append(True)

    monkeypatch.setattr(sqlite_store, "_checkpoint_rest", counted)
    return done


async def wait_until(condition: Callable[[], object], limit: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


def test_a_quiet_store_checkpoints_rarely() -> None:
    # Each checkpoint fsyncs the database file: at a few messages a second, one a second cost more than
    # the messages (docs/performance.md). Few commits wait for CHECKPOINT_COMMITS or CHECKPOINT_IDLE_SECS.
    due = sqlite_store.checkpoint_due
    assert not due(0, 3600.0)  # nothing new: never
    assert not due(10, 1.0)  # a quiet shop's second
    assert not due(sqlite_store.CHECKPOINT_COMMITS - 1, sqlite_store.CHECKPOINT_IDLE_SECS - 0.1)
    assert due(sqlite_store.CHECKPOINT_COMMITS, 1.0)  # under load: every tick, as before
    assert due(1, sqlite_store.CHECKPOINT_IDLE_SECS)  # a quiet WAL is still copied back in time


@pytest.mark.asyncio
async def test_the_wal_starts_over_under_steady_writes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A checkpoint from a reader never catches up with a writer that commits all the time; without the
    # writer finishing it between batches the WAL only grows (every commit appending to the file).
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_SECS", 0.1)  # twenty checkpoints in the run below
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_COMMITS", 10)  # each tick of the run below has more
    store = SqliteStore(str(tmp_path / "t.db"))
    await store.open()
    try:
        site, visitor = await site_and_visitor(store)
        first = await store.append(text(site, visitor, None, "hello", "cmid-start"))
        cid = first.message.conversation_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        n = 0
        while loop.time() < deadline:
            await store.append(text(site, visitor, cid, f"m{n}", f"cmid-{n:06d}"))
            n += 1
        # The WAL header's checkpoint sequence number counts the times the file started over (SQLite
        # bumps it at each restart). Its length said the same less surely: on a busy machine the first
        # restarts come late, and the file keeps the length it reached (a full run failed by 0.4 %).
        with (tmp_path / "t.db-wal").open("rb") as wal:
            header = wal.read(16)
        restarts = int.from_bytes(header[12:16], "big")
    finally:
        await store.close()
    # Checkpointed every ~0.1 s for 2 s, it started over ~25 times here; without the writer's share of
    # the checkpoint, 0 to 3 times (the reader's alone catches up only when the writer pauses).
    assert restarts >= 6, f"the WAL started over {restarts} times in {store.batches} commits"


@pytest.mark.asyncio
async def test_a_long_wal_keeps_its_length_under_load_and_is_cut_once_quiet(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Cutting the file back at every start-over stalled the commits after each checkpoint under heavy
    # load; it waits for a quiet spell instead, and a quiet spell does come.
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_SECS", 0.05)
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_IDLE_SECS", 0.2)
    monkeypatch.setattr(sqlite_store, "WAL_KEEP_BYTES", 16 * 4096)  # a few commits' worth
    # Under load: every checkpoint with a commit since the last counts as busy, however slow the machine.
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_COMMITS", 1)
    done = watch_checkpoints(monkeypatch)
    store = SqliteStore(str(tmp_path / "t.db"))
    await store.open()
    try:
        site, visitor = await site_and_visitor(store)
        cid = (await store.append(text(site, visitor, None, "hello", "cmid-start"))).message.conversation_id
        sizes: list[int] = []
        n = 0

        async def sender(k: int) -> None:
            nonlocal n
            while len(done) < 6:  # six start-overs under load
                await store.append(text(site, visitor, cid, "x" * 3000, f"cmid-{k}-{n:06d}"))
                n += 1
                sizes.append(sqlite_store.wal_bytes(store.path))

        await asyncio.wait_for(asyncio.gather(*(sender(k) for k in range(20))), WAIT_SECS)
        assert max(sizes) > sqlite_store.WAL_KEEP_BYTES, "the load never made the WAL long: nothing tested"
        longest = 0
        for size in sizes:
            assert size >= longest, f"the WAL was cut from {longest} to {size} bytes under load"
            longest = size
        # Quiet: a checkpoint after a few commits, long after the last one.
        monkeypatch.setattr(sqlite_store, "CHECKPOINT_COMMITS", 1_000_000)
        await store.append(text(site, visitor, cid, "one more", "cmid-quiet"))
        await wait_until(lambda: sqlite_store.wal_bytes(store.path) == 0, WAIT_SECS)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_the_checkpoint_gets_its_turn_when_the_writer_never_runs_dry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Many senders at once: each commit returns to a queue that refilled meanwhile, so the writer goes
    # from batch to batch without going idle. The checkpoint's share in the writer thread must still run
    # during the load, or nothing starts the WAL over and it grows for as long as the load lasts.
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_SECS", 0.1)  # twenty ticks in the run below
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_COMMITS", 10)  # each tick of the run below has more
    ran_at: list[float] = []

    def counted(conn: sqlite3.Connection) -> None:
        ran_at.append(time.monotonic())
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    monkeypatch.setattr(sqlite_store, "_checkpoint_rest", counted)
    store = SqliteStore(str(tmp_path / "t.db"))
    await store.open()
    try:
        site, visitor = await site_and_visitor(store)
        cid = (await store.append(text(site, visitor, None, "hello", "cmid-start"))).message.conversation_id
        deadline = time.monotonic() + 2.0

        async def sender(k: int) -> None:
            n = 0
            while time.monotonic() < deadline:
                await store.append(text(site, visitor, cid, f"m{n}", f"cmid-{k}-{n:06d}"))
                n += 1

        await asyncio.gather(*(sender(k) for k in range(50)))
    finally:
        await store.close()
    during = [t for t in ran_at if t < deadline]
    assert len(during) >= 3, f"the writer's checkpoint ran {len(during)} times in 2 s of steady writes"


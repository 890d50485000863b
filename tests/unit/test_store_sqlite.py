"""The SQLite store on a real file: the delivery contract's constraints, group commit, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from papote.errors import Conflict, NotFound
from papote.store import NewMessage, Site, Visitor
from papote.store.sqlite import SqliteStore
from papote.store.sqlite import engine as sqlite_store


async def site_and_visitor(store: SqliteStore) -> tuple[Site, Visitor]:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    visitor = await store.create_visitor(site.id, "tokenhash")
    return site, visitor


def text(site: Site, visitor: Visitor, cid: str | None, body: str, cmid: str) -> NewMessage:
    return NewMessage(site.id, cid, "visitor", visitor.id, "", "text", body, cmid, visitor_id=visitor.id)


@pytest.mark.asyncio
async def test_first_send_creates_the_conversation_and_seq_counts_up(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    first = await store.append(text(site, visitor, None, "hello", "cmid-0001"))
    assert first.created and first.message.seq == 1
    cid = first.conversation.id
    second = await store.append(text(site, visitor, cid, "again", "cmid-0002"))
    assert second.message.seq == 2 and not second.created
    assert [m.body for m in await store.messages_after(cid, 0, 10, include_notes=False)] == ["hello", "again"]


@pytest.mark.asyncio
async def test_retry_returns_the_original_and_never_creates_twice(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    first = await store.append(text(site, visitor, None, "hello", "cmid-0001"))
    retry = await store.append(text(site, visitor, None, "hello", "cmid-0001"))
    assert retry.duplicate and retry.message.seq == 1
    assert retry.conversation.id == first.conversation.id


@pytest.mark.asyncio
async def test_same_id_other_body_is_a_conflict_and_overwrites_nothing(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    first = await store.append(text(site, visitor, None, "hello", "cmid-0001"))
    with pytest.raises(Conflict):
        await store.append(text(site, visitor, first.conversation.id, "changed", "cmid-0001"))
    [only] = await store.messages_after(first.conversation.id, 0, 10, include_notes=True)
    assert only.body == "hello"


@pytest.mark.asyncio
async def test_concurrent_appends_get_distinct_contiguous_seqs_in_few_batches(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    batches_before = store.batches
    results = await asyncio.gather(*[
        store.append(text(site, visitor, cid, f"m{i}", f"cmid-{i:05d}")) for i in range(1000)
    ])
    seqs = sorted(r.message.seq for r in results)
    assert seqs == list(range(2, 1002))
    # Group commit: a thousand waiting appends share a handful of transactions.
    assert store.batches - batches_before <= 10


@pytest.mark.asyncio
async def test_a_failing_job_does_not_undo_its_batch_neighbours(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    good = store.append(text(site, visitor, cid, "good", "cmid-good1"))
    bad = store.append(text(site, visitor, "c_missing", "bad", "cmid-bad01"))
    conflict = store.append(text(site, visitor, cid, "other body", "cmid-start"))
    results = await asyncio.gather(good, bad, conflict, return_exceptions=True)
    assert results[0].message.body == "good"  # type: ignore[union-attr]
    assert isinstance(results[1], NotFound) and isinstance(results[2], Conflict)
    assert len(await store.messages_after(cid, 0, 10, include_notes=True)) == 2


@pytest.mark.asyncio
async def test_writing_to_another_sites_conversation_is_not_found(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    other = await store.create_site("Other", [], {})
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    with pytest.raises(NotFound):
        await store.append(NewMessage(other.id, cid, "visitor", visitor.id, "", "text", "x", "cmid-xxxxx"))


@pytest.mark.asyncio
async def test_visitor_write_reopens_a_closed_conversation(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    await store.update_conversation(cid, status="closed", closed_at=1)
    again = await store.append(text(site, visitor, cid, "one more thing", "cmid-again"))
    assert again.reopened is not None and again.reopened.seq == 2 and again.message.seq == 3
    assert again.conversation.status == "open"


@pytest.mark.asyncio
async def test_reads_only_move_forward_and_drive_unread(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "a", "cmid-00001"))).conversation.id
    for i in range(2, 5):
        await store.append(text(site, visitor, cid, str(i), f"cmid-0000{i}"))
    assert (await store.count_unread([cid], "agent", "a_1"))[cid] == 4
    assert await store.set_read(cid, "a_1", "agent", 3) == 3
    assert await store.set_read(cid, "a_1", "agent", 1) == 3
    assert await store.set_read(cid, "a_1", "agent", 99) == 4  # capped at last_seq
    assert (await store.count_unread([cid], "agent", "a_1"))[cid] == 0


@pytest.mark.asyncio
async def test_notes_are_hidden_unless_asked_for(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "a", "cmid-00001"))).conversation.id
    await store.append(NewMessage(site.id, cid, "agent", "a_1", "Léa", "note", "secret", "note-0001"))
    assert [m.kind for m in await store.messages_after(cid, 0, 10, include_notes=True)] == ["text", "note"]
    assert [m.kind for m in await store.messages_after(cid, 0, 10, include_notes=False)] == ["text"]


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
async def test_merge_moves_conversations_and_tokens(store: SqliteStore) -> None:
    site, anon = await site_and_visitor(store)
    known = await store.create_visitor(site.id, "knownhash")
    cid = (await store.append(text(site, anon, None, "a", "cmid-00001"))).conversation.id
    await store.merge_visitor(anon.id, known.id)
    conv = await store.get_conversation(cid)
    assert conv is not None and conv.visitor_id == known.id
    moved = await store.get_visitor_by_token(site.id, "tokenhash")
    assert moved is not None and moved.id == known.id


@pytest.mark.asyncio
async def test_reads_see_every_commit_after_background_checkpoints(store: SqliteStore) -> None:
    # Guard: a statement left un-stepped on a reader (the checkpoint's result row) would keep a read
    # transaction open there, and that reader would serve an old snapshot.
    import papote.store.sqlite.engine as sqlite_module

    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "a", "cmid-00001"))).conversation.id
    await asyncio.sleep(sqlite_module.CHECKPOINT_SECS * 1.5)
    await store.append(text(site, visitor, cid, "b", "cmid-00002"))
    for _ in range(sqlite_module.READERS * 2):  # every reader connection, round robin
        assert [m.body for m in await store.messages_after(cid, 0, 10, include_notes=False)] == ["a", "b"]


@pytest.mark.asyncio
async def test_duplicates_inside_one_batch(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    results = await asyncio.gather(
        store.append(text(site, visitor, cid, "same", "cmid-twice")),
        store.append(text(site, visitor, cid, "same", "cmid-twice")),
        store.append(text(site, visitor, cid, "other body", "cmid-twice")),
        store.append(text(site, visitor, None, "first of a new one", "cmid-new01")),
        store.append(text(site, visitor, None, "first of a new one", "cmid-new01")),
        return_exceptions=True,
    )
    first, retry, clash, created, created_again = results
    assert retry.message.seq == first.message.seq and retry.duplicate  # type: ignore[union-attr]
    assert isinstance(clash, Conflict)
    assert created.created and created_again.duplicate  # type: ignore[union-attr]
    assert created_again.conversation.id == created.conversation.id  # type: ignore[union-attr]
    stored = await store.messages_after(cid, 0, 10, include_notes=True)
    assert [m.body for m in stored] == ["start", "same"]


@pytest.mark.asyncio
async def test_a_batch_mixing_open_closed_and_foreign_conversations(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    open_cid = (await store.append(text(site, visitor, None, "a", "cmid-open1"))).conversation.id
    closed_cid = (await store.append(text(site, visitor, None, "b", "cmid-clos1"))).conversation.id
    await store.update_conversation(closed_cid, status="closed", closed_at=1)
    other = await store.create_site("Other", [], {})
    results = await asyncio.gather(
        store.append(text(site, visitor, open_cid, "a2", "cmid-open2")),
        store.append(text(site, visitor, closed_cid, "b2", "cmid-clos2")),
        store.append(text(site, visitor, open_cid, "a3", "cmid-open3")),
        store.append(NewMessage(other.id, open_cid, "visitor", visitor.id, "", "text", "x", "cmid-evil1")),
        return_exceptions=True,
    )
    a2, b2, a3, evil = results
    assert (a2.message.seq, a3.message.seq) == (2, 3)  # type: ignore[union-attr]
    assert b2.reopened is not None and b2.message.seq == 3 and b2.conversation.status == "open"  # type: ignore[union-attr]
    assert isinstance(evil, NotFound)


@pytest.mark.asyncio
async def test_last_messages_in_one_read(store: SqliteStore) -> None:
    site, visitor = await site_and_visitor(store)
    a = (await store.append(text(site, visitor, None, "a1", "cmid-a0001"))).conversation.id
    b = (await store.append(text(site, visitor, None, "b1", "cmid-b0001"))).conversation.id
    await store.append(text(site, visitor, a, "a2", "cmid-a0002"))
    await store.append(NewMessage(site.id, a, "agent", "a_1", "Léa", "note", "secret", "note-a0003"))
    seen_by_agents = await store.last_messages([a, b, "c_missing"], include_notes=True)
    seen_by_visitor = await store.last_messages([a, b], include_notes=False)
    assert {k: m.body for k, m in seen_by_agents.items()} == {a: "secret", b: "b1"}
    assert {k: m.body for k, m in seen_by_visitor.items()} == {a: "a2", b: "b1"}


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


@pytest.mark.asyncio
async def test_the_wal_starts_over_under_steady_writes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A checkpoint from a reader never catches up with a writer that commits all the time; without the
    # writer finishing it between batches the WAL only grows (every commit appending to the file).
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_SECS", 0.1)  # twenty checkpoints in the run below
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
        written = store.batches * 3 * 4096  # each commit writes at least three pages to the WAL
        size = (tmp_path / "t.db-wal").stat().st_size
    finally:
        await store.close()
    # Started over every ~0.1 s, the file holds a few checkpoints' worth; never started over, all of it.
    assert size < written / 3, f"WAL of {size} bytes after {store.batches} commits: it never started over"

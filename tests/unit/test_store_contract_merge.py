"""A merge on both backends (store `merge_visitor`): every row naming the merged-away visitor, in every
table the personal-data registry knows, names the kept person afterwards — read back column by column
from the database, so a table added later and forgotten by the merge fails here — and the unique keys
that would hold twice keep the row the store's comments say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from papote.attachments import FolderStorage
from papote.authz import Action, Principal
from papote.bus.local import LocalBus
from papote.config import Config
from papote.conversations import Chat
from papote.ids import now_ms
from papote.presence import Presence
from papote.store import NewMessage, Store
from papote.store.moderation import HeldMessage
from papote.store.personal_data import TABLES, VISITOR_TABLES
from papote.store.postgres import PostgresStore
from papote.store.sqlite import SqliteStore
from papote.types import AuthorKind, MessageKind, PrincipalKind
from tests.unit.test_store_contract_privacy import every_row, person

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


async def count(store: Store, sql: str, visitor_id: str) -> int:
    """`SELECT count(*) … :visitor` on either backend (the registry's scopes are written that way)."""
    if isinstance(store, SqliteStore):
        import sqlite3
        conn = sqlite3.connect(store.path)
        try:
            return int(conn.execute(sql, {"visitor": visitor_id}).fetchone()[0])
        finally:
            conn.close()
    assert isinstance(store, PostgresStore)
    import asyncpg
    pg = await asyncpg.connect(store.dsn)
    try:
        return int(await pg.fetchval(sql.replace(":visitor", "$1"), visitor_id))
    finally:
        await pg.close()


async def naming(store: Store, visitor_id: str) -> list[str]:
    """`table.column` of every registered column holding `visitor_id` in some row."""
    out = []
    for table in TABLES.values():
        for column in table.columns:
            cast = f"CAST({column} AS TEXT)"
            n = await count(store, f"SELECT count(*) FROM {table.name} WHERE {cast} = :visitor", visitor_id)
            if n:
                out.append(f"{table.name}.{column}")
    return out


async def scoped(store: Store, visitor_id: str) -> dict[str, int]:
    """How many rows of each visitor table the registry's scope finds for `visitor_id`."""
    return {t.name: await count(store, f"SELECT count(*) FROM {t.name} WHERE {t.scope}", visitor_id)
            for t in VISITOR_TABLES}


@pytest_asyncio.fixture
async def pair(store: Store, tmp_path: Path) -> dict[str, Any]:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    storage = FolderStorage(tmp_path / "files")
    ann, ann_cid, _ = await person(store, site, storage, "ann")
    bob, bob_cid, _ = await person(store, site, storage, "bob")
    return {"site": site, "ann": ann, "bob": bob, "ann_cid": ann_cid, "bob_cid": bob_cid}


async def test_a_merge_leaves_no_row_naming_the_merged_away_visitor(store: Store, pair: dict[str, Any]) -> None:
    ann, bob = pair["ann"], pair["bob"]
    assert len(await naming(store, ann.id)) >= 10  # the fixture fills every table: the check has teeth
    before_ann, before_bob = await scoped(store, ann.id), await scoped(store, bob.id)

    await store.merge_visitor(ann.id, bob.id)

    assert await naming(store, ann.id) == []
    traces = [(t, row) for t, row in await every_row(store) if ann.id in row]
    assert traces == [], traces
    after = await scoped(store, bob.id)
    # Everything of both is Bob's, but where a unique key holds once: the "welcome" rule both were shown,
    # the block both had, and the visitor row merged away.
    once = {"visitor_rules": 1, "blocked_visitors": 1, "visitors": 1}
    for table in VISITOR_TABLES:
        expected = before_bob[table.name] + (0 if table.name in once else before_ann[table.name])
        assert after[table.name] == expected, (table.name, after[table.name], expected)
    assert await store.get_visitor(ann.id) is None


async def test_unique_keys_keep_the_kept_persons_row_and_lose_no_message(store: Store, pair: dict[str, Any]) -> None:
    site, ann, bob, ann_cid, bob_cid = pair["site"], pair["ann"], pair["bob"], pair["ann_cid"], pair["bob_cid"]
    # One client_msg_id used by both (a hand-made id, never a minted one) and one held message key twice.
    await store.append(NewMessage(site.id, ann_cid, AuthorKind.VISITOR, ann.id, "Ann", MessageKind.TEXT,
                                  "ann's twin", "same-key", visitor_id=ann.id))
    await store.append(NewMessage(site.id, bob_cid, AuthorKind.VISITOR, bob.id, "Bob", MessageKind.TEXT,
                                  "bob's twin", "same-key", visitor_id=bob.id))
    await store.hold_message(HeldMessage("h_ann_twin", site.id, ann_cid, ann.id, "Ann", "held-twin", "ann held",
                                         None, ["words"], now_ms()))
    await store.hold_message(HeldMessage("h_bob_twin", site.id, bob_cid, bob.id, "Bob", "held-twin", "bob held",
                                         None, ["words"], now_ms()))
    await store.set_read(bob_cid, ann.id, AuthorKind.VISITOR, 2)  # Ann read further than Bob in Bob's chat

    await store.merge_visitor(ann.id, bob.id)

    retried = await store.append(NewMessage(site.id, bob_cid, AuthorKind.VISITOR, bob.id, "Bob", MessageKind.TEXT,
                                            "bob's twin", "same-key", visitor_id=bob.id))
    assert retried.duplicate and retried.conversation.id == bob_cid  # the kept person's row kept the key
    bodies = [m.body for m in await store.messages_after(ann_cid, 0, 20, include_notes=True)]
    assert "ann's twin" in bodies  # the other one is still there, only without its retry key
    held = {h.id: h for h in await store.held_messages(site.id, 20)}
    assert held["h_bob_twin"].client_msg_id == "held-twin"
    assert held["h_ann_twin"].client_msg_id == "merged:h_ann_twin" and held["h_ann_twin"].visitor_id == bob.id
    assert await naming(store, ann.id) == []
    [block] = await store.blocked_visitors(site.id)
    assert (block.visitor_id, block.reason) == (bob.id, "spam from bob")  # the kept person's block
    read = "SELECT read_seq FROM reads WHERE participant_id=:visitor AND conversation_id='%s'"
    assert await count(store, read % bob_cid, bob.id) == 2  # the further read stands


async def test_merging_again_sweeps_a_message_stored_under_the_merged_away_id_meanwhile(
        store: Store, pair: dict[str, Any]) -> None:
    # A send authorized (or a channel identity read) before the merge, appended after it: its author is the
    # merged-away id. The chat runs the merge again (conversations/messages.py), which moves it and its key.
    site, ann, bob, ann_cid = pair["site"], pair["ann"], pair["bob"], pair["ann_cid"]
    await store.merge_visitor(ann.id, bob.id)
    late = await store.append(NewMessage(site.id, ann_cid, AuthorKind.VISITOR, ann.id, "Ann", MessageKind.TEXT,
                                         "late", "whatsapp:wamid.late", visitor_id=ann.id))
    assert late.conversation.visitor_id == bob.id and not late.duplicate
    await store.merge_visitor(ann.id, bob.id)
    assert await naming(store, ann.id) == []
    again = await store.append(NewMessage(site.id, ann_cid, AuthorKind.VISITOR, bob.id, "Bob", MessageKind.TEXT,
                                          "late", "whatsapp:wamid.late", visitor_id=bob.id))
    assert again.duplicate and again.message.seq == late.message.seq


async def test_a_send_authorized_before_a_merge_and_stored_after_it_is_the_kept_persons(store: Store) -> None:
    # The widget of the visitor merged away sends while its node still holds the conversation as theirs (the
    # merge committed on another node; the invalidation is on its way): the chat moves the message to the
    # kept person, so its retry under the kept identity (after the reconnect) is a duplicate.
    site = await store.create_site("Shop", ["https://shop.test"], {})
    gone = await store.create_visitor(site.id, "gone-token")
    kept = await store.create_visitor(site.id, "kept-token")
    first = await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, gone.id, "", MessageKind.TEXT, "hi",
                                          "m-first-0001", visitor_id=gone.id))
    cid = first.conversation.id
    chat = Chat(store, LocalBus(), Config.from_env({}), Presence())
    as_gone = Principal(PrincipalKind.VISITOR, gone.id, "", site_id=site.id)
    await chat.conversation_for(as_gone, cid, Action.WRITE)  # the node caches the conversation as gone's
    await store.merge_visitor(gone.id, kept.id)  # elsewhere: this node has not heard yet

    _, appended = await chat.complete(as_gone, await chat.submit(as_gone, cid, "m-late-00001", "late"))
    assert appended.conversation.visitor_id == kept.id
    assert await naming(store, gone.id) == []
    retried = await store.append(NewMessage(site.id, cid, AuthorKind.VISITOR, kept.id, "", MessageKind.TEXT, "late",
                                            "m-late-00001", visitor_id=kept.id))
    assert retried.duplicate and retried.message.seq == appended.message.seq

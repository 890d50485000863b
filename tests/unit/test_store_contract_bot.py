"""The store contract for the bot's sessions (store/bots.py), unchanged on SQLite and PostgreSQL: a held
conversation is out of the queue, progress moves by compare-and-set, the crash sweep finds unread input."""

from __future__ import annotations

import pytest
import pytest_asyncio

from papote.ids import new_id
from papote.store import NewMessage, Store
from papote.types import AuthorKind, MessageKind

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


async def start(store: Store, site_id: str) -> tuple[str, str]:
    visitor = await store.create_visitor(site_id, "tokenhash-" + new_id("x"))
    first = await store.append(NewMessage(site_id, None, AuthorKind.VISITOR, visitor.id, "", MessageKind.TEXT,
                                          "hello", new_id("m"), visitor_id=visitor.id))
    return first.conversation.id, visitor.id


async def test_a_held_conversation_is_out_of_the_queue_until_handed_over(store: Store) -> None:
    site = await store.create_site("Shop", [], {})
    held, _ = await start(store, site.id)
    waiting, _ = await start(store, site.id)
    session = await store.start_bot(held, site.id, 10)
    assert (session.status, session.seen_seq, session.state) == ("active", 0, {})
    assert await store.start_bot(held, site.id, 99) == session  # a second start finds the first
    assert [c.id for c in await store.queued(site.id)] == [waiting]
    convs = [c for c in [await store.get_conversation(held), await store.get_conversation(waiting)] if c]
    assert await store.queue_places(convs) == {waiting: 1}
    assert await store.release_bot(held, "agent", 20) is True
    assert await store.release_bot(held, "agent", 21) is False
    assert [c.id for c in await store.queued(site.id)] == [held, waiting]
    assert (await store.get_bot(held)).reason == "agent"  # type: ignore[union-attr]


async def test_progress_moves_by_compare_and_set_and_the_sweep_finds_unread_input(store: Store) -> None:
    site = await store.create_site("Shop", [], {})
    cid, visitor = await start(store, site.id)
    await store.start_bot(cid, site.id, 10)
    assert [s.conversation_id for s in await store.bots_pending(10)] == [cid]
    assert await store.save_bot(cid, expect_seq=0, seen_seq=1, status="active", state={"node": "a"}, reason="",
                                at=11)
    assert not await store.save_bot(cid, expect_seq=0, seen_seq=1, status="active", state={}, reason="", at=12)
    assert (await store.get_bot(cid)).state == {"node": "a"}  # type: ignore[union-attr]
    assert await store.bots_pending(10) == []
    await store.append(NewMessage(site.id, cid, AuthorKind.SYSTEM, "bot:x", "Bot", MessageKind.TEXT, "hi", "b1"))
    assert await store.bots_pending(10) == []  # the bot's own words are no input
    await store.append(NewMessage(site.id, cid, AuthorKind.VISITOR, visitor, "", MessageKind.TEXT, "?", "m2"))
    assert [s.seen_seq for s in await store.bots_pending(10)] == [1]
    assert await store.save_bot(cid, expect_seq=1, seen_seq=3, status="handover", state={}, reason="asked", at=13)
    assert await store.bots_pending(10) == []
    assert not await store.save_bot(cid, expect_seq=3, seen_seq=4, status="active", state={}, reason="", at=14)


async def test_outcomes_count_the_sessions_started_in_the_range(store: Store) -> None:
    site = await store.create_site("Shop", [], {})
    for at, status in ((100, "active"), (200, "handover"), (300, "resolved"), (900, "handover")):
        cid, _ = await start(store, site.id)
        await store.start_bot(cid, site.id, at)
        if status != "active":
            await store.save_bot(cid, expect_seq=0, seen_seq=1, status=status, state={}, reason="", at=at)
    assert await store.bot_outcomes(site.id, 0, 500) == {"active": 1, "resolved": 1, "handover": 1}
    assert await store.bot_outcomes(site.id, 500, 1000) == {"active": 0, "resolved": 0, "handover": 1}


async def test_a_conversations_group_is_read_back_for_routing(store: Store) -> None:
    site = await store.create_site("Shop", [], {})
    grouped, _ = await start(store, site.id)
    plain, _ = await start(store, site.id)
    for cid in (grouped, plain):
        await store.start_bot(cid, site.id, 10)
    await store.set_conversation_group(grouped, "care")
    await store.set_conversation_group(grouped, "sales")  # the later word wins
    assert await store.conversation_groups([grouped, plain, "c_none"]) == {grouped: "sales"}
    assert await store.conversation_groups([]) == {}

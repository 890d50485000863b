"""The store contract: what every backend does, run unchanged on SQLite and on PostgreSQL.

The `store` fixture here is `any_store` (tests/unit/conftest.py): each backend in turn, on a fresh file
or the test run's own PostgreSQL database, emptied. A backend's own mechanics (SQLite's WAL and
checkpoints, PostgreSQL's migrations and batches) are tested in test_store_sqlite.py and
test_store_postgres.py; what is here must hold whichever one runs.
"""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from papote.errors import Conflict, ErrorCode, NotFound, PapoteError
from papote.ids import new_id
from papote.store import (
    AgentChanges,
    Attachment,
    ConversationChanges,
    ConversationQuery,
    Invite,
    NewMessage,
    Site,
    Store,
    Visitor,
    VisitorChanges,
    VisitorEvent,
    rules,
)
from papote.types import AgentStatus, AuthorKind, ConversationStatus, MessageKind, Role

pytestmark = pytest.mark.both_backends


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


VISITOR, AGENT, SYSTEM = AuthorKind.VISITOR, AuthorKind.AGENT, AuthorKind.SYSTEM
TEXT, NOTE, EVENT = MessageKind.TEXT, MessageKind.NOTE, MessageKind.EVENT


async def site_and_visitor(store: Store) -> tuple[Site, Visitor]:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    visitor = await store.create_visitor(site.id, "tokenhash")
    return site, visitor


def text(site: Site, visitor: Visitor, cid: str | None, body: str, cmid: str | None) -> NewMessage:
    return NewMessage(site.id, cid, VISITOR, visitor.id, "", TEXT, body, cmid, visitor_id=visitor.id)


def reply(site: Site, agent_id: str, cid: str, body: str, cmid: str | None, kind: MessageKind = TEXT) -> NewMessage:
    return NewMessage(site.id, cid, AGENT, agent_id, "Léa", kind, body, cmid)


async def assert_contiguous(store: Store, cid: str) -> list[int]:
    """The conversation's seqs are 1..last_seq with no hole and no duplicate."""
    conv = await store.get_conversation(cid)
    assert conv is not None
    seqs = [m.seq for m in await store.messages_after(cid, 0, 10_000, include_notes=True)]
    assert seqs == list(range(1, conv.last_seq + 1)), f"seqs {seqs} for last_seq {conv.last_seq}"
    return seqs


@pytest.mark.asyncio
async def test_first_send_creates_the_conversation_and_seq_counts_up(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    first = await store.append(text(site, visitor, None, "hello", "cmid-0001"))
    assert first.created and first.message.seq == 1
    cid = first.conversation.id
    second = await store.append(text(site, visitor, cid, "again", "cmid-0002"))
    assert second.message.seq == 2 and not second.created
    assert [m.body for m in await store.messages_after(cid, 0, 10, include_notes=False)] == ["hello", "again"]


@pytest.mark.asyncio
async def test_retry_returns_the_original_and_never_creates_twice(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    first = await store.append(text(site, visitor, None, "hello", "cmid-0001"))
    retry = await store.append(text(site, visitor, None, "hello", "cmid-0001"))
    assert retry.duplicate and retry.message.seq == 1
    assert retry.conversation.id == first.conversation.id


@pytest.mark.asyncio
async def test_same_id_other_body_is_a_conflict_and_overwrites_nothing(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    first = await store.append(text(site, visitor, None, "hello", "cmid-0001"))
    with pytest.raises(Conflict):
        await store.append(text(site, visitor, first.conversation.id, "changed", "cmid-0001"))
    [only] = await store.messages_after(first.conversation.id, 0, 10, include_notes=True)
    assert only.body == "hello"


@pytest.mark.asyncio
async def test_a_failing_job_does_not_undo_its_batch_neighbours(store: Store) -> None:
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
async def test_writing_to_another_sites_conversation_is_not_found(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    other = await store.create_site("Other", [], {})
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    with pytest.raises(NotFound):
        await store.append(NewMessage(other.id, cid, VISITOR, visitor.id, "", TEXT, "x", "cmid-xxxxx"))


@pytest.mark.asyncio
async def test_visitor_write_reopens_a_closed_conversation(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    await store.update_conversation(cid, ConversationChanges(status=ConversationStatus.CLOSED, closed_at=1))
    again = await store.append(text(site, visitor, cid, "one more thing", "cmid-again"))
    assert again.reopened is not None and again.reopened.seq == 2 and again.message.seq == 3
    assert again.conversation.status == "open"


@pytest.mark.asyncio
async def test_reads_only_move_forward_and_drive_unread(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "a", "cmid-00001"))).conversation.id
    for i in range(2, 5):
        await store.append(text(site, visitor, cid, str(i), f"cmid-0000{i}"))
    assert (await store.count_unread([cid], AuthorKind.AGENT, "a_1"))[cid] == 4
    assert await store.set_read(cid, "a_1", AuthorKind.AGENT, 3) == 3
    assert await store.set_read(cid, "a_1", AuthorKind.AGENT, 1) == 3
    assert await store.set_read(cid, "a_1", AuthorKind.AGENT, 99) == 4  # capped at last_seq
    assert (await store.count_unread([cid], AuthorKind.AGENT, "a_1"))[cid] == 0


@pytest.mark.asyncio
async def test_notes_are_hidden_unless_asked_for(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "a", "cmid-00001"))).conversation.id
    await store.append(NewMessage(site.id, cid, AGENT, "a_1", "Léa", NOTE, "secret", "note-0001"))
    assert [m.kind for m in await store.messages_after(cid, 0, 10, include_notes=True)] == ["text", "note"]
    assert [m.kind for m in await store.messages_after(cid, 0, 10, include_notes=False)] == ["text"]


@pytest.mark.asyncio
async def test_merge_moves_conversations_and_tokens(store: Store) -> None:
    site, anon = await site_and_visitor(store)
    known = await store.create_visitor(site.id, "knownhash")
    cid = (await store.append(text(site, anon, None, "a", "cmid-00001"))).conversation.id
    await store.merge_visitor(anon.id, known.id)
    conv = await store.get_conversation(cid)
    assert conv is not None and conv.visitor_id == known.id
    moved = await store.get_visitor_by_token(site.id, "tokenhash")
    assert moved is not None and moved.id == known.id
    # The merged visitor's dedupe keys moved too: a retry under the new identity is the first copy.
    again = await store.append(text(site, known, None, "a", "cmid-00001"))
    assert again.duplicate and again.message.seq == 1 and again.conversation.id == cid


@pytest.mark.asyncio
async def test_duplicates_inside_one_batch(store: Store) -> None:
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
async def test_a_batch_mixing_open_closed_and_foreign_conversations(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    open_cid = (await store.append(text(site, visitor, None, "a", "cmid-open1"))).conversation.id
    closed_cid = (await store.append(text(site, visitor, None, "b", "cmid-clos1"))).conversation.id
    await store.update_conversation(
        closed_cid, ConversationChanges(status=ConversationStatus.CLOSED, closed_at=1)
    )
    other = await store.create_site("Other", [], {})
    results = await asyncio.gather(
        store.append(text(site, visitor, open_cid, "a2", "cmid-open2")),
        store.append(text(site, visitor, closed_cid, "b2", "cmid-clos2")),
        store.append(text(site, visitor, open_cid, "a3", "cmid-open3")),
        store.append(NewMessage(other.id, open_cid, VISITOR, visitor.id, "", TEXT, "x", "cmid-evil1")),
        return_exceptions=True,
    )
    a2, b2, a3, evil = results
    assert (a2.message.seq, a3.message.seq) == (2, 3)  # type: ignore[union-attr]
    assert b2.reopened is not None and b2.message.seq == 3 and b2.conversation.status == "open"  # type: ignore[union-attr]
    assert isinstance(evil, NotFound)


@pytest.mark.asyncio
async def test_last_messages_in_one_read(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    a = (await store.append(text(site, visitor, None, "a1", "cmid-a0001"))).conversation.id
    b = (await store.append(text(site, visitor, None, "b1", "cmid-b0001"))).conversation.id
    await store.append(text(site, visitor, a, "a2", "cmid-a0002"))
    await store.append(NewMessage(site.id, a, AGENT, "a_1", "Léa", NOTE, "secret", "note-a0003"))
    # Events after what was said are no preview: an auto-assigned chat shows the visitor's question.
    await store.append(NewMessage(site.id, a, SYSTEM, "", "", EVENT, "", None, event="assigned"))
    await store.append(NewMessage(site.id, b, SYSTEM, "", "", EVENT, "", None, event="closed"))
    seen_by_agents = await store.last_messages([a, b, "c_missing"], include_notes=True)
    seen_by_visitor = await store.last_messages([a, b], include_notes=False)
    assert {k: m.body for k, m in seen_by_agents.items()} == {a: "secret", b: "b1"}
    assert {k: m.body for k, m in seen_by_visitor.items()} == {a: "a2", b: "b1"}


@pytest.mark.asyncio
async def test_concurrent_appends_get_distinct_contiguous_seqs(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    results = await asyncio.gather(*[
        store.append(text(site, visitor, cid, f"m{i}", f"cmid-{i:05d}")) for i in range(300)
    ])
    assert sorted(r.message.seq for r in results) == list(range(2, 302))
    await assert_contiguous(store, cid)


@pytest.mark.asyncio
async def test_one_callers_appends_are_stored_in_the_order_queued(store: Store) -> None:
    # A connection pipelines its sends: it queues the next before the previous one commits.
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    futures = [store.append_nowait(text(site, visitor, cid, f"m{i}", f"cmid-{i:05d}")) for i in range(100)]
    results = await asyncio.gather(*futures)
    assert [r.message.seq for r in results] == list(range(2, 102))


@pytest.mark.asyncio
async def test_the_settled_hook_runs_once_a_commits_futures_are_resolved(store: Store) -> None:
    """`Store.on_settled`: called on the loop once a commit's appends are resolved, before their
    callbacks run (the web layer arms its flush of socket writes there, so it runs behind them)."""
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    futures = [store.append_nowait(text(site, visitor, cid, f"m{i}", f"cmid-hook-{i}")) for i in range(5)]
    ran: list[int] = []
    for future in futures:
        future.add_done_callback(lambda _: ran.append(1))
    seen: list[tuple[int, int]] = []  # at each call: futures resolved, callbacks run
    store.on_settled = lambda: seen.append((sum(f.done() for f in futures), len(ran)))
    try:
        await asyncio.gather(*futures)
    finally:
        store.on_settled = None
    last_resolving = next(call for call in seen if call[0] == 5)
    assert last_resolving[1] < 5, "the hook ran after the callbacks of the futures it followed"


@pytest.mark.asyncio
async def test_concurrent_retries_leave_no_hole_and_no_duplicate(store: Store) -> None:
    # Every send retried several times at once, into the same conversations, with new sends between:
    # a seq taken before the dedupe would leave a hole where each retry was found to be one.
    site, visitor = await site_and_visitor(store)
    other = await store.create_visitor(site.id, "othertoken")
    cids = [(await store.append(text(site, v, None, "start", f"start-{v.id}"))).conversation.id
            for v in (visitor, other)]
    sends = []
    for i in range(40):
        for v, cid in zip((visitor, other), cids, strict=True):
            for _ in range(3):
                sends.append(store.append(text(site, v, cid, f"m{i}", f"cmid-{i:04d}")))
    results = await asyncio.gather(*sends)
    for cid in cids:
        seqs = await assert_contiguous(store, cid)
        assert len(seqs) == 41
    assert sum(r.duplicate for r in results) == 160
    # A retry gets the first copy's seq back, whichever one it was.
    by_id: dict[tuple[str, str | None], set[int]] = {}
    for r in results:
        by_id.setdefault((r.message.author_id, r.message.client_msg_id), set()).add(r.message.seq)
    assert all(len(s) == 1 for s in by_id.values())


@pytest.mark.asyncio
async def test_a_retry_naming_no_conversation_finds_the_one_it_created(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    results = await asyncio.gather(*[store.append(text(site, visitor, None, "hi", "cmid-first")) for _ in range(5)])
    assert sum(r.created for r in results) == 1 and sum(r.duplicate for r in results) == 4
    assert len({r.conversation.id for r in results}) == 1
    convs = await store.list_conversations(ConversationQuery([site.id], visitor_id=visitor.id))
    assert len(convs) == 1


@pytest.mark.asyncio
async def test_only_an_agents_text_is_a_first_response(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "hi", "cmid-1"))).conversation.id
    await store.append(reply(site, "a_1", cid, "internal", "note-1", NOTE))
    await store.append(NewMessage(site.id, cid, SYSTEM, "", "", EVENT, "", None, event="assigned"))
    conv = await store.get_conversation(cid)
    assert conv is not None and conv.first_response_at is None
    answered = await store.append(reply(site, "a_1", cid, "hello", "a-1"))
    first = answered.conversation.first_response_at
    assert first is not None
    later = await store.append(reply(site, "a_1", cid, "more", "a-2"))
    assert later.conversation.first_response_at == first


@pytest.mark.asyncio
async def test_only_a_visitors_text_reopens(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "hi", "cmid-1"))).conversation.id
    closed = ConversationChanges(status=ConversationStatus.CLOSED, closed_at=5)
    await store.update_conversation(cid, closed)
    rated = await store.append(NewMessage(site.id, cid, VISITOR, visitor.id, "", EVENT, "", None, event="rated"))
    assert rated.reopened is None and rated.conversation.status == ConversationStatus.CLOSED
    agent = await store.append(reply(site, "a_1", cid, "bye", "a-1"))
    assert agent.reopened is None and agent.conversation.status == ConversationStatus.CLOSED
    again = await store.append(text(site, visitor, cid, "wait", "cmid-2"))
    assert again.reopened is not None and again.reopened.event == "reopened"
    assert again.conversation.status == ConversationStatus.OPEN and again.conversation.closed_at is None
    assert again.conversation.assignee_id is None
    assert again.reopened.data is None  # nobody had it
    await assert_contiguous(store, cid)


@pytest.mark.asyncio
async def test_a_reopen_keeps_who_had_the_conversation(store: Store) -> None:
    """The reopen clears the assignee; its event says who it was, so routing can give it back."""
    site, visitor = await site_and_visitor(store)
    agent = await store.create_agent("lea@shop.test", "Léa", "hash")
    cid = (await store.append(text(site, visitor, None, "hi", "cmid-1"))).conversation.id
    assert await store.assign(cid, agent.id, 10, only_if_unassigned=True) is not None
    await store.update_conversation(cid, ConversationChanges(status=ConversationStatus.CLOSED, closed_at=20))
    again = await store.append(text(site, visitor, cid, "still there?", "cmid-2"))
    assert again.reopened is not None and again.reopened.data == {"assignee": agent.id}
    assert again.conversation.assignee_id is None
    stored = await store.messages_after(cid, 0, 10, include_notes=False)
    assert [m.data for m in stored if m.event == "reopened"] == [{"assignee": agent.id}]


@pytest.mark.asyncio
async def test_unread_counts_the_other_sides_texts_only(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "hi", "cmid-1"))).conversation.id
    await store.append(reply(site, "a_1", cid, "hello", "a-1"))
    await store.append(reply(site, "a_1", cid, "private", "a-2", NOTE))
    await store.append(NewMessage(site.id, cid, SYSTEM, "", "", TEXT, "we reply in minutes", None))
    await store.append(NewMessage(site.id, cid, SYSTEM, "", "", EVENT, "", None, event="assigned"))
    assert await store.count_unread([cid, "c_none"], VISITOR, visitor.id) == {cid: 2, "c_none": 0}
    assert await store.count_unread([cid], AGENT, "a_1") == {cid: 1}
    await store.set_read(cid, visitor.id, VISITOR, 2)
    assert (await store.count_unread([cid], VISITOR, visitor.id))[cid] == 1
    reads = await store.reads([cid])
    assert reads[cid] == {visitor.id: (VISITOR, 2)}


@pytest.mark.asyncio
async def test_records_carry_the_enums(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    appended = await store.append(text(site, visitor, None, "hi", "cmid-1"))
    assert appended.conversation.status is ConversationStatus.OPEN
    [m] = await store.messages_after(appended.conversation.id, 0, 10, include_notes=True)
    assert m.kind is MessageKind.TEXT and m.author_kind is AuthorKind.VISITOR
    agent = await store.create_agent("lea@shop.test", "Léa", "hash")
    assert agent.status is rules.DEFAULT_AGENT_STATUS and agent.capacity == rules.DEFAULT_CAPACITY
    await store.set_membership(site.id, agent.id, Role.ADMIN)
    [membership] = await store.memberships(agent.id)
    assert membership.role is Role.ADMIN
    again = await store.get_agent(agent.id)
    assert again is not None and again.status is AgentStatus.OFFLINE


@pytest.mark.asyncio
async def test_typed_changes_touch_only_what_they_name(store: Store) -> None:
    agent = await store.create_agent("lea@shop.test", "Léa", "hash")
    changed = await store.update_agent(agent.id, AgentChanges(status=AgentStatus.AWAY, avatar="https://a/b.png"))
    assert (changed.status, changed.avatar, changed.name, changed.capacity) == (
        AgentStatus.AWAY, "https://a/b.png", "Léa", rules.DEFAULT_CAPACITY)
    cleared = await store.update_agent(agent.id, AgentChanges(avatar=None, disabled=True))
    assert cleared.avatar is None and cleared.disabled is True and cleared.status is AgentStatus.AWAY
    with pytest.raises(NotFound):
        await store.update_agent("a_missing", AgentChanges(name="x"))
    with pytest.raises(Conflict):
        await store.create_agent("lea@shop.test", "Other", "hash")
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "hi", "cmid-1"))).conversation.id
    conv = await store.update_conversation(cid, ConversationChanges(labels=["vip", "refund"], rating=4))
    assert conv.labels == ["vip", "refund"] and conv.rating == 4 and conv.status is ConversationStatus.OPEN
    conv = await store.update_conversation(cid, ConversationChanges(rating=None))
    assert conv.rating is None and conv.labels == ["vip", "refund"]
    with pytest.raises(NotFound):
        await store.update_conversation("c_missing", ConversationChanges(rating=1))


@pytest.mark.asyncio
async def test_a_visitors_trail_keeps_the_last_pages_and_skips_reloads(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    for i in range(rules.PAGES_KEPT + 5):
        await store.update_visitor(visitor.id, VisitorChanges(page={"url": f"https://shop.test/{i}"}))
    reloaded = await store.update_visitor(visitor.id, VisitorChanges(page={"url": f"https://shop.test/{i}"}))
    assert len(reloaded.pages) == rules.PAGES_KEPT
    assert reloaded.pages[-1]["url"] == f"https://shop.test/{i}" and reloaded.pages[0]["url"].endswith("/5")
    assert reloaded.page == {"url": f"https://shop.test/{i}"}
    named = await store.update_visitor(
        visitor.id, VisitorChanges(name="Ana", verified=True, attributes={"plan": "pro"})
    )
    assert (named.name, named.verified, named.attributes) == ("Ana", True, {"plan": "pro"})
    assert len(named.pages) == rules.PAGES_KEPT


@pytest.mark.asyncio
async def test_a_new_site_gets_a_key_and_one_fresh_secret(store: Store) -> None:
    a = await store.create_site("A", ["https://a.test"], {"color": "#123456"})
    b = await store.create_site("B", [], {})
    assert len(a.secrets) == 1 and len(a.secrets[0]) == 2 * rules.SITE_SECRET_BYTES
    assert a.secrets != b.secrets and a.key != b.key
    assert await store.get_site_by_key(a.key) == a
    updated = await store.update_site(a.id, origins=["https://b.test"], secrets=["s2", *a.secrets])
    assert updated.origins == ["https://b.test"] and updated.secrets[0] == "s2" and updated.name == "A"


@pytest.mark.asyncio
async def test_sessions_expire_and_go_by_agent_or_by_age(store: Store) -> None:
    agent = await store.create_agent("lea@shop.test", "Léa", "hash")
    await store.create_session("old", agent.id, 1_000)
    await store.create_session("new", agent.id, 10**13)
    assert await store.get_session("old", 2_000) is None
    assert await store.get_session("old", 500) == agent.id
    await store.delete_sessions(expired_at=2_000)
    assert await store.get_session("old", 500) is None
    assert await store.get_session("new", 2_000) == agent.id
    await store.update_agent(agent.id, AgentChanges(disabled=True))
    assert await store.get_session("new", 2_000) is None  # a disabled agent has no live session
    await store.delete_sessions(agent_id=agent.id)
    await store.update_agent(agent.id, AgentChanges(disabled=False))
    assert await store.get_session("new", 2_000) is None


@pytest.mark.asyncio
async def test_queue_places_for_many_conversations_in_one_read(store: Store) -> None:
    site, _ = await site_and_visitor(store)
    other_site = await store.create_site("Other", [], {})
    convs = []
    for i in range(5):
        v = await store.create_visitor(site.id, f"tok{i}")
        convs.append((await store.append(text(site, v, None, "hi", f"cmid-{i}"))).conversation)
    stranger = await store.create_visitor(other_site.id, "tok-other")
    elsewhere = (await store.append(text(other_site, stranger, None, "hi", "cmid-o"))).conversation
    agent = await store.create_agent("lea@shop.test", "Léa", "hash")
    taken = await store.assign(convs[1].id, agent.id, 10, only_if_unassigned=True)
    assert taken is not None and taken.assignee_id == agent.id
    assert await store.assign(convs[1].id, "a_other", 11, only_if_unassigned=True) is None
    places = await store.queue_places([*convs, elsewhere])
    # The line is in order of arrival; conversations started in the same millisecond follow their ids.
    line = [c.id for c in sorted((convs[i] for i in (0, 2, 3, 4)), key=lambda c: (c.created_at, c.id))]
    assert places == {**{cid: n for n, cid in enumerate(line, 1)}, elsewhere.id: 1}
    assert [c.id for c in await store.queued(site.id)] == line
    assert [c.id for c in await store.queued(site.id, limit=2)] == line[:2]
    assert await store.agent_loads([agent.id, "a_none"]) == {agent.id: 1, "a_none": 0}


@pytest.mark.asyncio
async def test_members_of_several_sites_in_one_read(store: Store) -> None:
    a = await store.create_site("A", [], {})
    b = await store.create_site("B", [], {})
    c = await store.create_site("C", [], {})
    lea = await store.create_agent("lea@shop.test", "Léa", "hash")
    max_ = await store.create_agent("max@shop.test", "Max", "hash")
    await store.set_membership(a.id, lea.id, Role.OWNER)
    await store.set_membership(a.id, max_.id, Role.AGENT)
    await store.set_membership(b.id, max_.id, Role.ADMIN)
    teams = await store.site_members([a.id, b.id, c.id])
    # Both accounts may be created in the same millisecond: the order among them is not part of the contract.
    assert sorted((ag.id, r) for ag, r in teams[a.id]) == sorted([(lea.id, Role.OWNER), (max_.id, Role.AGENT)])
    assert [(ag.id, r) for ag, r in teams[b.id]] == [(max_.id, Role.ADMIN)]
    assert teams[c.id] == []
    await store.set_membership(a.id, max_.id, None)
    assert [ag.id for ag, _ in await store.members(a.id)] == [lea.id]
    assert [s.id for s in await store.list_sites(max_.id)] == [b.id]
    assert sorted(ag.id for ag, role in await store.list_agents()) == sorted([lea.id, max_.id])


@pytest.mark.asyncio
async def test_tokens_links_events_and_invites(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    await store.add_visitor_token(visitor.id, "second-device")
    found = await store.get_visitor_by_token(site.id, "second-device")
    assert found is not None and found.id == visitor.id
    await store.delete_visitor_token("second-device")
    assert await store.get_visitor_by_token(site.id, "second-device") is None
    await store.create_link_code("code", visitor.id, 5_000)
    assert await store.take_link_code("code", 6_000) is None  # expired
    await store.create_link_code("code2", visitor.id, 5_000)
    assert await store.take_link_code("code2", 1_000) == visitor.id
    assert await store.take_link_code("code2", 1_000) is None  # used up
    await store.add_visitor_event(visitor.id, VisitorEvent("add_to_cart", {"sku": "x"}, 10))
    await store.add_visitor_event(visitor.id, VisitorEvent("checkout", {}, 20))
    assert [e.name for e in await store.visitor_events(visitor.id)] == ["checkout", "add_to_cart"]
    identified = await store.update_visitor(visitor.id, VisitorChanges(user_id="u-1"))
    assert (await store.get_visitor_by_user(site.id, "u-1")) == identified
    await store.create_invite("inv", Invite(site.id, "max@shop.test", Role.ADMIN, "a_1", 5_000))
    invite = await store.get_invite("inv", 1_000)
    assert invite is not None and invite.role is Role.ADMIN
    assert await store.get_invite("inv", 6_000) is None
    await store.delete_invite("inv")
    assert await store.get_invite("inv", 1_000) is None


@pytest.mark.asyncio
async def test_fired_rules_are_per_visitor_kept_once_and_follow_a_merge(store: Store) -> None:
    site, anon = await site_and_visitor(store)
    known = await store.create_visitor(site.id, "knownhash")
    other = await store.create_visitor(site.id, "otherhash")
    assert await store.fired_rules(anon.id) == []
    assert await store.mark_rule_fired(anon.id, "welcome", 10) is True
    assert await store.mark_rule_fired(anon.id, "welcome", 20) is False  # the first time is kept
    assert await store.mark_rule_fired(anon.id, "cart", 30) is True
    assert await store.mark_rule_fired(known.id, "cart", 5) is True
    assert await store.mark_rule_fired(known.id, "pricing", 40) is True
    assert await store.fired_rules(anon.id) == ["cart", "welcome"]
    assert await store.fired_rules(other.id) == []  # another visitor's are not theirs
    await store.merge_visitor(anon.id, known.id)
    # Both sets joined; "cart", seen by both, keeps the person's first time (5).
    assert await store.fired_rules(known.id) == ["pricing", "welcome", "cart"]
    assert await store.fired_rules(anon.id) == []


def now_far() -> int:
    return 2**50


@pytest.mark.asyncio
async def test_teams_operators_and_pending_invitations(store: Store) -> None:
    site, _ = await site_and_visitor(store)
    other = await store.create_site("Other", [], {})
    lea = await store.create_agent("lea@shop.test", "Léa", "hash")
    max_ = await store.create_agent("max@shop.test", "Max", "hash")
    await store.set_membership(site.id, lea.id, Role.OWNER)
    await store.set_membership(site.id, max_.id, Role.AGENT)
    await store.set_membership(other.id, max_.id, Role.OWNER)
    # Disabled on one site: gone from every active listing of that site, kept in its team.
    await store.set_member_disabled(site.id, max_.id, True)
    assert [m.site_id for m in await store.memberships(max_.id)] == [other.id]
    assert [s.id for s in await store.list_sites(max_.id)] == [other.id]
    assert [a.id for a, _ in await store.members(site.id)] == [lea.id]
    team = {a.id: m for a, m in await store.team(site.id)}
    assert (team[max_.id].role, team[max_.id].disabled, team[lea.id].disabled) == (Role.AGENT, True, False)
    assert await store.membership(site.id, max_.id) == team[max_.id]
    assert await store.membership(other.id, lea.id) is None
    await store.set_member_disabled(site.id, max_.id, False)
    assert {m.site_id for m in await store.memberships(max_.id)} == {site.id, other.id}
    # Operators.
    assert not await store.is_operator(lea.id)
    await store.set_operator(lea.id, True)
    assert await store.is_operator(lea.id) and [a.id for a in await store.operators()] == [lea.id]
    await store.set_operator(lea.id, False)
    assert await store.operators() == []
    # Pending invitations, by site, by email, by id.
    first = Invite(site.id, "zoe@shop.test", Role.ADMIN, lea.id, 5_000, "i_1", 100)
    second = Invite(other.id, "zoe@shop.test", Role.AGENT, max_.id, 5_000, "i_2", 200)
    await store.create_invite("h1", first)
    await store.create_invite("h2", second)
    assert await store.list_invites(1_000, site_id=site.id) == [first]
    assert await store.list_invites(1_000, email="zoe@shop.test") == [first, second]
    assert await store.list_invites(6_000, email="zoe@shop.test") == []
    assert await store.get_invite_by_id("i_2", 1_000) == second
    assert await store.get_invite("h1", 1_000) == first
    assert await store.delete_invite_by_id("i_1") is True
    assert await store.delete_invite_by_id("i_1") is False
    assert await store.get_invite("h1", 1_000) is None


@pytest.mark.asyncio
async def test_logins_keys_and_canned_responses(store: Store) -> None:
    site, _ = await site_and_visitor(store)
    lea = await store.create_agent("lea@shop.test", "Léa", "hash")
    # Failed sign-ins, counted by account (untrusted devices), address (untrusted) and device.
    await store.record_sign_in_failure("lea@shop.test", "203.0.113.1", "", False, 10)
    await store.record_sign_in_failure("lea@shop.test", "203.0.113.1", "dev1", True, 20)
    await store.record_sign_in_failure("max@shop.test", "203.0.113.1", "", False, 30)
    failures = await store.sign_in_failures("lea@shop.test", "203.0.113.1", "dev1", 5)
    assert (failures.account, failures.address, failures.device) == (1, 2, 1)
    assert (await store.sign_in_failures("lea@shop.test", "203.0.113.1", "dev1", 15)).account == 0
    await store.clear_sign_in_failures("lea@shop.test", "198.51.100.1", "dev1")  # only that device's
    failures = await store.sign_in_failures("lea@shop.test", "203.0.113.1", "dev1", 0)
    assert (failures.account, failures.address, failures.device) == (1, 2, 0)
    # Devices that signed in before, per account, forgotten when unseen.
    assert not await store.trusted_device("dev1", lea.id, 0)
    await store.remember_device("dev1", lea.id, 100, 0)
    assert await store.trusted_device("dev1", lea.id, 50)
    assert not await store.trusted_device("dev1", lea.id, 150)
    assert not await store.trusted_device("dev1", "a_other", 0)
    await store.remember_device("dev2", lea.id, 200, 150)  # dev1 unseen since 100: forgotten
    assert not await store.trusted_device("dev1", lea.id, 0)
    # The other sessions end, this one stays; live ones are those unexpired of enabled accounts.
    await store.create_session("s1", lea.id, now_far())
    await store.create_session("s2", lea.id, now_far())
    await store.delete_other_sessions(lea.id, "s1")
    assert await store.live_sessions(["s1", "s2", "s3"], 0) == {"s1"}
    await store.update_agent(lea.id, AgentChanges(disabled=True))
    assert await store.live_sessions(["s1"], 0) == set()
    key = await store.create_api_key(site.id, "keyhash", "CRM")
    assert await store.get_api_key("keyhash") == key
    assert await store.list_api_keys(site.id) == [key]
    assert await store.delete_api_key("s_other", key.id) is False
    assert await store.delete_api_key(site.id, key.id) is True
    saved = await store.save_canned(site.id, "hi", "Hello!")
    again = await store.save_canned(site.id, "hi", "Hello there!")
    assert again.id == saved.id and [c.body for c in await store.list_canned(site.id)] == ["Hello there!"]
    assert await store.delete_canned(site.id, saved.id) is True


@pytest.mark.asyncio
async def test_lists_search_pages_and_reports(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    ids = []
    for i in range(4):
        ids.append((await store.append(text(site, visitor, None, f"order 5_{i}% late", f"cmid-{i}"))).conversation.id)
    await store.update_conversation(ids[0], ConversationChanges(status=ConversationStatus.CLOSED, closed_at=99))
    found = await store.list_conversations(ConversationQuery([site.id], text="5_2%"))
    assert [c.id for c in found] == [ids[2]]
    assert {c.id for c in await store.list_conversations(ConversationQuery([site.id], text="_"))} == set(ids)
    opened = await store.list_conversations(ConversationQuery([site.id], status=ConversationStatus.OPEN))
    assert {c.id for c in opened} == set(ids[1:])
    assert await store.list_conversations(ConversationQuery([])) == []
    cid = ids[1]
    for i in range(10):
        await store.append(text(site, visitor, cid, f"more {i}", f"more-{i}"))
    page = await store.messages_before(cid, None, 3, include_notes=False)
    assert [m.seq for m in page] == [9, 10, 11]
    assert [m.seq for m in await store.messages_before(cid, 9, 2, include_notes=False)] == [7, 8]
    assert [m.seq for m in await store.messages_after(cid, 9, 10, include_notes=False)] == [10, 11]
    rows = await store.report_rows(site.id, 0, 10**14)
    # In order of creation; conversations started in the same millisecond follow their ids.
    in_order = sorted(rows, key=lambda r: (r.created_at, r.conversation_id))
    assert [r.conversation_id for r in rows] == [r.conversation_id for r in in_order]
    assert {r.conversation_id for r in rows} == set(ids)
    assert await store.last_agent_for_visitor(visitor.id) is None


@pytest.mark.asyncio
async def test_assignment_within_capacity_never_fills_a_slot_twice(store: Store) -> None:
    """Routing on several nodes at once: however the assignments interleave, an agent ends with at
    most `within_capacity` open conversations and each conversation with one assignee."""
    site, _ = await site_and_visitor(store)
    convs = []
    for i in range(12):
        v = await store.create_visitor(site.id, f"cap{i}")
        convs.append((await store.append(text(site, v, None, "hi", f"cap-{i}"))).conversation)
    agents = [await store.create_agent(f"cap{i}@shop.test", f"A{i}", "hash") for i in range(2)]
    # Every conversation offered to both agents at once, as two nodes routing the same line would.
    results = await asyncio.gather(*(
        store.assign(c.id, a.id, 100 + n, only_if_unassigned=True, within_capacity=3)
        for n, c in enumerate(convs) for a in agents
    ))
    taken = [r for r in results if r is not None]
    assert len(taken) == 6
    assert len({t.id for t in taken}) == 6  # no conversation assigned twice
    assert await store.agent_loads([a.id for a in agents]) == {agents[0].id: 3, agents[1].id: 3}
    # A closed conversation frees a slot; the capacity counts open conversations only.
    await store.update_conversation(taken[0].id, ConversationChanges(status=ConversationStatus.CLOSED, closed_at=5))
    owner = taken[0].assignee_id
    assert owner is not None
    free = [c for c in convs if c.id not in {t.id for t in taken}]
    again = await store.assign(free[0].id, owner, 200, only_if_unassigned=True, within_capacity=3)
    assert again is not None and again.assignee_id == owner
    assert await store.assign(free[1].id, owner, 201, only_if_unassigned=True, within_capacity=3) is None


@pytest.mark.asyncio
async def test_a_singleton_job_runs_on_one_caller_at_a_time(store: Store) -> None:
    async with store.singleton("contract.job") as first:
        assert first
        async with store.singleton("contract.other") as other:
            assert other  # another job's lock is independent
    async with store.singleton("contract.job") as again:
        assert again  # released at the end of the block


@pytest.mark.asyncio
async def test_text_holding_a_nul_is_refused_alike(store: Store) -> None:
    """PostgreSQL's text cannot hold U+0000: neither backend takes it, with the same coded refusal."""
    site, visitor = await site_and_visitor(store)
    cid = (await store.append(text(site, visitor, None, "start", "cmid-start"))).conversation.id
    for bad in (text(site, visitor, cid, "a\x00b", "cmid-nul01"),
                NewMessage(site.id, cid, SYSTEM, "", "", EVENT, "", None, event="x", data={"k": "\x00"})):
        with pytest.raises(PapoteError) as info:
            await store.append(bad)
        assert info.value.code == ErrorCode.BAD_FIELD
    assert len(await store.messages_after(cid, 0, 10, include_notes=True)) == 1


# -- attachments ---------------------------------------------------------------------------------------


def upload_of(site: Site, uploader: str, name: str = "a.pdf", at: int = 1000) -> Attachment:
    return Attachment(new_id("at"), site.id, VISITOR, uploader, "file", "application/pdf", 3, name,
                      new_id("fs"), None, None, None, at)


@pytest.mark.asyncio
async def test_attachments_are_claimed_bound_and_read_with_their_message(store: Store) -> None:
    site, v = await site_and_visitor(store)
    a, b = upload_of(site, v.id, "one.pdf"), upload_of(site, v.id, "two.pdf")
    for one in (a, b):
        await store.insert_attachment(one)
    assert await store.claim_attachments([b.id, a.id], site.id, v.id, "m-files-1") == [b.id, a.id]
    new = text(site, v, None, "", "m-files-1")
    new.data = {"attachments": [b.id, a.id]}
    first = await store.append(new)
    await store.bind_attachments([b.id, a.id], first.message.conversation_id, first.message.seq)
    cid = first.message.conversation_id
    [read] = await store.messages_after(cid, 0, 10, include_notes=False)
    assert [x["name"] for x in read.attachments] == ["two.pdf", "one.pdf"]  # in the order sent
    assert read.attachments[0] == rules.attachment_view((await store.get_attachments([b.id]))[b.id])
    [page] = await store.messages_before(cid, None, 10, include_notes=True)
    assert [x["id"] for x in page.attachments] == [b.id, a.id]
    assert [x["id"] for x in (await store.last_messages([cid], include_notes=False))[cid].attachments] == [b.id, a.id]
    bound = await store.get_attachment(a.id)
    assert bound is not None and (bound.conversation_id, bound.seq, bound.client_msg_id) == (cid, 1, "m-files-1")
    assert await store.message_by_client_id(v.id, "m-files-1") == (cid, 1)
    # A retry of the same message with the same files claims nothing new and is the same message.
    assert await store.claim_attachments([b.id, a.id], site.id, v.id, "m-files-1") == []
    again = text(site, v, cid, "", "m-files-1")
    again.data = {"attachments": [b.id, a.id]}
    assert (await store.append(again)).duplicate


@pytest.mark.asyncio
async def test_a_file_fetched_after_its_message_is_attached_once(store: Store) -> None:
    """A messaging app's file reaches its message after the append (`attach_to_message`): the row bound,
    the id appended to the message's data, in order; the same attachment id again (a fetch job run
    twice) changes nothing. The data of the message keeps its other keys."""
    site, v = await site_and_visitor(store)
    new = text(site, v, None, "caption", "m-fetched-1")
    new.data = {"channel": {"kind": "whatsapp", "id": "wamid.1", "media": ["image", "document"]}}
    cid = (await store.append(new)).message.conversation_id
    first, second = upload_of(site, v.id, "one.jpg"), upload_of(site, v.id, "two.pdf")
    for one in (first, second):
        one.conversation_id, one.seq = cid, 1
    assert await store.attach_to_message(first)
    assert await store.attach_to_message(second)
    assert not await store.attach_to_message(first)  # run twice: nothing more
    [read] = await store.messages_after(cid, 0, 10, include_notes=False)
    assert [x["name"] for x in read.attachments] == ["one.jpg", "two.pdf"]
    assert read.data is not None and read.data["channel"]["media"] == ["image", "document"]
    assert read.data["attachments"] == [first.id, second.id]
    bound = await store.get_attachment(second.id)
    assert bound is not None and (bound.conversation_id, bound.seq) == (cid, 1)


@pytest.mark.asyncio
async def test_a_claim_refuses_others_files_and_files_of_another_message(store: Store) -> None:
    site, v = await site_and_visitor(store)
    other_site = await store.create_site("Other", [], {})
    other = await store.create_visitor(site.id, "other-token")
    mine, theirs = upload_of(site, v.id), upload_of(site, other.id)
    for one in (mine, theirs):
        await store.insert_attachment(one)
    for ids, site_id, who in (([theirs.id], site.id, v.id), ([mine.id], other_site.id, v.id),
                              (["at_missing"], site.id, v.id), ([mine.id, "at_missing"], site.id, v.id)):
        with pytest.raises(NotFound):
            await store.claim_attachments(ids, site_id, who, "m-claim-1")
    assert (await store.get_attachment(mine.id)).client_msg_id is None  # type: ignore[union-attr]  # all or nothing
    await store.claim_attachments([mine.id], site.id, v.id, "m-claim-1")
    with pytest.raises(Conflict):  # sent already, with another message
        await store.claim_attachments([mine.id], site.id, v.id, "m-claim-2")
    extra = upload_of(site, v.id)
    await store.insert_attachment(extra)
    with pytest.raises(Conflict):  # the same message with another set of files
        await store.claim_attachments([extra.id], site.id, v.id, "m-claim-1")
    await store.release_attachments([mine.id], "m-claim-1")
    assert await store.claim_attachments([mine.id], site.id, v.id, "m-claim-2") == [mine.id]


@pytest.mark.asyncio
async def test_a_retry_with_other_files_is_a_conflict(store: Store) -> None:
    site, v = await site_and_visitor(store)
    first = text(site, v, None, "look", "m-other-files")
    first.data = {"attachments": ["at_a"]}
    stored = await store.append(first)
    retry = text(site, v, stored.message.conversation_id, "look", "m-other-files")
    retry.data = {"attachments": ["at_b"]}
    with pytest.raises(Conflict):
        await store.append(retry)


@pytest.mark.asyncio
async def test_unsent_attachments_go_stale_and_are_deleted(store: Store) -> None:
    site, v = await site_and_visitor(store)
    old, fresh, sent = upload_of(site, v.id, at=1000), upload_of(site, v.id, at=5000), upload_of(site, v.id, at=900)
    for one in (old, fresh, sent):
        await store.insert_attachment(one)
    await store.claim_attachments([sent.id], site.id, v.id, "m-sent-1")
    appended = await store.append(text(site, v, None, "x", "m-sent-1"))
    await store.bind_attachments([sent.id], appended.message.conversation_id, appended.message.seq)
    assert [a.id for a in await store.stale_attachments(2000, 10)] == [old.id]
    await store.delete_attachments([old.id])
    assert await store.get_attachment(old.id) is None
    assert set(await store.get_attachments([old.id, fresh.id, sent.id])) == {fresh.id, sent.id}


@pytest.mark.asyncio
async def test_blobs_are_kept_read_and_deleted(store: Store) -> None:
    await store.put_blob("fs_blob_one", b"\x00\x01bytes")
    assert await store.get_blob("fs_blob_one") == b"\x00\x01bytes"
    await store.delete_blobs(["fs_blob_one", "fs_never"])
    assert await store.get_blob("fs_blob_one") is None


@pytest.mark.asyncio
async def test_merge_moves_the_visitors_uploads(store: Store) -> None:
    site, anonymous = await site_and_visitor(store)
    known = await store.create_visitor(site.id, "known-token")
    upload = upload_of(site, anonymous.id)
    await store.insert_attachment(upload)
    await store.merge_visitor(anonymous.id, known.id)
    assert await store.claim_attachments([upload.id], site.id, known.id, "m-after-merge") == [upload.id]


@pytest.mark.asyncio
async def test_a_snooze_ends_at_its_time_or_at_its_visitors_next_message_and_leaves_the_load(store: Store) -> None:
    site, visitor = await site_and_visitor(store)
    agent = await store.create_agent("lea@shop.test", "Léa", "hash")
    convs = []
    for i in range(3):
        v = visitor if i == 0 else await store.create_visitor(site.id, f"tok{i}")
        conv = (await store.append(text(site, v, None, "hi", f"cmid-s{i}"))).conversation
        assert conv.snoozed_until is None
        assert await store.assign(conv.id, agent.id, 10, only_if_unassigned=True) is not None
        convs.append(conv)
    later, now = 5_000_000_000_000, 4_000_000_000_000
    for conv in convs:
        snoozed = await store.update_conversation(conv.id, ConversationChanges(snoozed_until=later,
                                                                               snoozed_seq=conv.last_seq))
        assert snoozed.snoozed_until == later
    # Off the agent's plate: their load counts none of them, and a capacity of one still has room.
    assert await store.agent_loads([agent.id]) == {agent.id: 0}
    newcomer = await store.create_visitor(site.id, "tok-x")
    extra = (await store.append(text(site, newcomer, None, "hi", "cmid-x"))).conversation
    assert await store.assign(extra.id, agent.id, 11, only_if_unassigned=True, within_capacity=1) is not None
    woken, still = await store.wake_snoozed(now)
    assert woken == [] and sorted(still) == sorted(c.id for c in convs)

    # An agent's reply and a visitor's event wake nothing; the visitor's message wakes theirs.
    await store.append(reply(site, agent.id, convs[0].id, "Monday", "cmid-r"))
    await store.append(NewMessage(site.id, convs[0].id, VISITOR, visitor.id, "", EVENT, "", None, event="contact"))
    woken, still = await store.wake_snoozed(now)
    assert woken == [] and sorted(still) == sorted(c.id for c in convs)
    await store.append(text(site, visitor, convs[0].id, "any news?", "cmid-s0b"))
    woken, still = await store.wake_snoozed(now)
    assert [c.id for c in woken] == [convs[0].id] and woken[0].snoozed_until is None
    assert sorted(still) == sorted(c.id for c in convs[1:])
    # Its time: the rest; and each snooze ends once, however many sweep at once.
    results = await asyncio.gather(store.wake_snoozed(later), store.wake_snoozed(later))
    assert sorted(c.id for woken, _ in results for c in woken) == sorted(c.id for c in convs[1:])
    assert await store.wake_snoozed(later) == ([], [])
    assert (await store.get_conversation(convs[1].id)).snoozed_until is None  # type: ignore[union-attr]
    assert await store.agent_loads([agent.id]) == {agent.id: 4}

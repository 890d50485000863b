"""The store contract, continued: blocks, held messages, saved views and NPS surveys
(store/moderation.py), run unchanged on SQLite and on PostgreSQL like test_store_contract.py."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from papote.ids import new_id, now_ms
from papote.store import ConversationChanges, NewMessage, Site, Store, Visitor
from papote.store.moderation import Block, HeldMessage, NpsSurvey, SavedView
from papote.store.outbox import Delivery
from papote.types import AuthorKind, MessageKind

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]
DAY = 86_400_000


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


async def conversation(store: Store) -> tuple[Site, Visitor, str]:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    visitor = await store.create_visitor(site.id, "tokenhash-" + new_id("x"))
    first = await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, visitor.id, "", MessageKind.TEXT,
                                          "hello", "m1", visitor_id=visitor.id))
    return site, visitor, first.conversation.id


async def test_a_block_is_kept_as_first_made_and_lifted_once(store: Store) -> None:
    site, visitor, _ = await conversation(store)
    first = await store.block_visitor(Block(site.id, visitor.id, "a_1", "abuse", 1000))
    again = await store.block_visitor(Block(site.id, visitor.id, "a_2", "other", 2000))
    assert first == again == Block(site.id, visitor.id, "a_1", "abuse", 1000)
    assert await store.blocked_visitors(site.id) == [first]
    other = await store.create_site("Other", [], {})
    assert await store.blocked_visitors(other.id) == []  # a block is per site
    assert await store.unblock_visitor(site.id, visitor.id) is True
    assert await store.unblock_visitor(site.id, visitor.id) is False
    assert await store.blocked_visitors(site.id) == []


async def test_a_held_message_is_held_once_per_client_msg_id(store: Store) -> None:
    site, visitor, cid = await conversation(store)
    held = HeldMessage(new_id("h"), site.id, cid, visitor.id, "Ann", "m2", "buy now", {"x": 1}, ["words"], 10)
    assert await store.hold_message(held) == held
    retry = HeldMessage(new_id("h"), site.id, cid, visitor.id, "Ann", "m2", "buy now", None, ["rate"], 20)
    assert await store.hold_message(retry) == held  # the retry finds the first
    fresh = HeldMessage(new_id("h"), site.id, None, visitor.id, "Ann", "m3", "spam", None, ["links"], 30)
    await store.hold_message(fresh)
    assert [h.id for h in await store.held_messages(site.id, 10)] == [held.id, fresh.id]
    assert await store.get_held(fresh.id) == fresh
    assert await store.delete_held(held.id) is True
    assert await store.delete_held(held.id) is False
    assert await store.get_held(held.id) is None
    assert [h.id for h in await store.held_messages(site.id, 10)] == [fresh.id]


async def test_saved_views_are_per_agent_and_replaced_by_name(store: Store) -> None:
    site, _, _ = await conversation(store)
    agent = await store.create_agent(f"{new_id('e')}@x.test", "Ann", "hash")
    other = await store.create_agent(f"{new_id('e')}@x.test", "Bob", "hash")
    view = await store.save_view(SavedView(new_id("w"), site.id, agent.id, "VIP", ["vip"], "open", 1))
    replaced = await store.save_view(SavedView(new_id("w"), site.id, agent.id, "VIP", ["vip", "refund"], None, 2))
    assert replaced.id == view.id and replaced.labels == ["vip", "refund"] and replaced.status is None
    await store.save_view(SavedView(new_id("w"), site.id, agent.id, "Bugs", ["bug"], "closed", 3))
    assert [v.name for v in await store.saved_views(site.id, agent.id)] == ["Bugs", "VIP"]
    assert await store.saved_views(site.id, other.id) == []
    assert await store.delete_view(site.id, other.id, view.id) is False  # not theirs
    assert await store.delete_view(site.id, agent.id, view.id) is True
    assert [v.name for v in await store.saved_views(site.id, agent.id)] == ["Bugs"]


async def test_one_survey_per_visitor_in_the_window_and_one_answer_per_survey(store: Store) -> None:
    site, visitor, cid = await conversation(store)
    now = now_ms()
    survey = NpsSurvey(new_id("n"), site.id, cid, visitor.id, now)
    assert await store.offer_nps(survey, now - 90 * DAY) == survey
    # The same visitor, within the window: none; two closings racing: none either.
    racing = await asyncio.gather(*(store.offer_nps(NpsSurvey(new_id("n"), site.id, cid, visitor.id, now + 1),
                                                    now - 90 * DAY) for _ in range(3)))
    assert racing == [None, None, None]
    # Past the window, a new one.
    later = NpsSurvey(new_id("n"), site.id, cid, visitor.id, now + 100 * DAY)
    assert await store.offer_nps(later, now + 10 * DAY) == later
    assert await store.answer_nps(survey.id, 9, "great", "widget", now + 5) is True
    assert await store.answer_nps(survey.id, 0, "changed my mind", "email", now + 6) is False
    got = await store.get_nps(survey.id)
    assert got is not None and (got.score, got.comment, got.channel, got.answered_at) == (9, "great", "widget", now + 5)
    assert [s.id for s in await store.nps_answers(site.id, now, now + 10)] == [survey.id]
    assert await store.nps_answers(site.id, now + 10, now + 20) == []  # by time of answer
    assert await store.get_nps("n_missing") is None


async def test_labelled_conversations_for_the_export(store: Store) -> None:
    site, _, cid = await conversation(store)
    await store.update_conversation(cid, ConversationChanges(labels=["vip", "refund"]))
    rows = await store.labelled_conversations(site.id, 0, now_ms() + 1000, 100)
    assert [(r["id"], r["labels"], r["status"], r["messages"]) for r in rows] == [(cid, ["vip", "refund"], "open", 1)]
    assert await store.labelled_conversations(site.id, 0, 1, 100) == []


async def test_the_nps_email_decision_is_taken_once_with_its_mail(store: Store) -> None:
    site, visitor, cid = await conversation(store)
    now = now_ms()
    survey = await store.offer_nps(NpsSurvey(new_id("n"), site.id, cid, visitor.id, now), now - DAY)
    assert survey is not None
    assert await store.nps_email_candidates([site.id], now - DAY, now, 10) == []  # offered at `now`: not before
    assert [s.id for s in await store.nps_email_candidates([site.id], now - DAY, now + 1, 10)] == [survey.id]
    assert await store.nps_email_candidates([], now - DAY, now + 1, 10) == []
    mail = Delivery(new_id("d"), site.id, cid, visitor.id, "email", "nps", "ann@example.test", {"subject": "?"},
                    next_attempt_at=now, created_at=now)
    racing = await asyncio.gather(*(store.decide_nps_email(survey.id, now, mail if i == 0 else None)
                                    for i in range(3)))
    assert sorted(racing) == [False, False, True]
    assert await store.nps_email_candidates([site.id], now - DAY, now + 1, 10) == []
    queued = [d for d in await store.deliveries(cid) if d.kind == "nps"]
    assert len(queued) == (1 if racing[0] else 0)
    # An answered survey is never a candidate.
    other = await store.offer_nps(NpsSurvey(new_id("n"), site.id, cid, visitor.id, now + 2 * DAY), now + DAY)
    assert other is not None and await store.answer_nps(other.id, 7, "", "widget", now + 2 * DAY)
    assert await store.nps_email_candidates([site.id], now, now + 3 * DAY, 10) == []

"""The store contract, continued: mail beyond continuation (store/mail.py) — password reset links, the
once-per-conversation "waiting" notice, agents' mail preferences, email threads — run unchanged on
SQLite and on PostgreSQL like test_store_contract.py."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from papote.ids import new_id, now_ms
from papote.store import NewMessage, Store
from papote.store.mail import EmailThread
from papote.store.outbox import Delivery
from papote.types import AuthorKind, MessageKind

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


def mail(kind: str, target: str, site_id: str, cid: str | None = None) -> Delivery:
    return Delivery(new_id("d"), site_id, cid, "", "email", kind, target, {"subject": kind}, next_attempt_at=0,
                    created_at=now_ms())


async def test_a_reset_link_works_once_and_ends_every_session(store: Store) -> None:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    agent = await store.create_agent("lea@shop.test", "Léa", "old-hash")
    await store.create_session("session-1", agent.id, now_ms() + 60_000)
    await store.create_session("session-2", agent.id, now_ms() + 60_000)
    # The delivery is queued with the link, in one transaction.
    await store.create_password_reset("digest-1", agent.id, now_ms() + 60_000, mail("reset", agent.email, site.id))
    await store.create_password_reset("digest-2", agent.id, now_ms() + 60_000, mail("reset", agent.email, site.id))
    [claimed, _] = await store.claim_deliveries("email", now_ms(), 1000, 10)
    assert claimed.conversation_id is None and claimed.kind == "reset"

    assert await store.reset_password("digest-unknown", now_ms(), "new-hash") is None
    assert await store.reset_password("digest-1", now_ms(), "new-hash") == agent.id
    got = await store.get_agent(agent.id)
    assert got is not None and got.password_hash == "new-hash"
    assert await store.get_session("session-1", now_ms()) is None
    assert await store.get_session("session-2", now_ms()) is None
    # Used up, and the account's other link with it.
    assert await store.reset_password("digest-1", now_ms(), "newer-hash") is None
    assert await store.reset_password("digest-2", now_ms(), "newer-hash") is None


async def test_an_expired_reset_link_changes_nothing(store: Store) -> None:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    agent = await store.create_agent("lea@shop.test", "Léa", "old-hash")
    await store.create_password_reset("digest-1", agent.id, now_ms() - 1, mail("reset", agent.email, site.id))
    await store.create_session("session-1", agent.id, now_ms() + 60_000)
    assert await store.reset_password("digest-1", now_ms(), "new-hash") is None
    got = await store.get_agent(agent.id)
    assert got is not None and got.password_hash == "old-hash"
    assert await store.get_session("session-1", now_ms()) == agent.id


async def test_two_uses_at_once_one_wins(store: Store) -> None:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    agent = await store.create_agent("lea@shop.test", "Léa", "old-hash")
    await store.create_password_reset("digest-1", agent.id, now_ms() + 60_000, mail("reset", agent.email, site.id))
    results = await asyncio.gather(*(store.reset_password("digest-1", now_ms(), f"hash-{i}") for i in range(4)))
    assert sorted(r or "" for r in results) == ["", "", "", agent.id]


async def test_a_conversation_is_announced_once(store: Store) -> None:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    visitor = await store.create_visitor(site.id, "tokenhash-1")
    first = await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, visitor.id, "", MessageKind.TEXT,
                                          "hello", "m1", visitor_id=visitor.id))
    cid = first.conversation.id
    assert await store.queue_waiting_notice(cid, [mail("waiting", "a@x.test", site.id, cid),
                                                  mail("waiting", "b@x.test", site.id, cid)], now_ms()) is True
    assert await store.queue_waiting_notice(cid, [mail("waiting", "a@x.test", site.id, cid)], now_ms()) is False
    assert sorted(d.target for d in await store.deliveries(cid)) == ["a@x.test", "b@x.test"]


async def test_waiting_mail_is_on_until_an_agent_turns_it_off(store: Store) -> None:
    lea = await store.create_agent("lea@shop.test", "Léa", "h")
    max_ = await store.create_agent("max@shop.test", "Max", "h")
    assert await store.waiting_emails([]) == {}
    assert await store.waiting_emails([lea.id, max_.id]) == {lea.id: True, max_.id: True}
    await store.set_waiting_emails(lea.id, False)
    assert await store.waiting_emails([lea.id, max_.id]) == {lea.id: False, max_.id: True}
    await store.set_waiting_emails(lea.id, True)
    assert (await store.waiting_emails([lea.id]))[lea.id] is True


async def test_an_email_thread_is_recorded_once(store: Store) -> None:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    visitor = await store.create_visitor(site.id, "tokenhash-1")
    first = await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, visitor.id, "", MessageKind.TEXT,
                                          "hello", "m1", visitor_id=visitor.id))
    cid = first.conversation.id
    assert await store.email_thread(cid) is None
    saved = await store.save_email_thread(EmailThread(cid, site.id, "ann@example.test", "Broken zip", 5))
    again = await store.save_email_thread(EmailThread(cid, site.id, "other@example.test", "Other", 6))
    assert saved == again == EmailThread(cid, site.id, "ann@example.test", "Broken zip", 5)
    assert await store.email_threads([cid, "c_none"]) == {cid: saved}
    assert await store.email_threads([]) == {}

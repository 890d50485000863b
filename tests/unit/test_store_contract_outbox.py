"""The store contract, continued: the outbox of deliveries and email continuation's state (store/outbox.py),
run unchanged on SQLite and on PostgreSQL like test_store_contract.py."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from papote.ids import new_id, now_ms
from papote.store import NewMessage, Site, Store, Visitor, VisitorChanges
from papote.store.outbox import AddressState, Delivery, DeliveryStatus, EmailAddress
from papote.types import AuthorKind, MessageKind

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


async def conversation(store: Store, email: str = "ann@example.test") -> tuple[Site, Visitor, str]:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    visitor = await store.create_visitor(site.id, "tokenhash-" + new_id("x"))
    if email:
        visitor = await store.update_visitor(visitor.id, VisitorChanges(email=email))
    first = await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, visitor.id, "", MessageKind.TEXT,
                                          "hello", "m1", visitor_id=visitor.id))
    return site, visitor, first.conversation.id


def delivery(site: Site, visitor: Visitor, cid: str | None, kind: str = "digest", due: int = 0) -> Delivery:
    return Delivery(new_id("d"), site.id, cid, visitor.id, "email", kind, visitor.email or "x@example.test",
                    {"subject": "Re: hello", "seqs": [1, 2]}, next_attempt_at=due, created_at=now_ms())


async def test_candidates_are_conversations_past_their_cursor_with_an_email(store: Store) -> None:
    site, visitor, cid = await conversation(store)
    silent_site, _, silent = await conversation(store, email="")
    assert await store.email_candidates([], 0, 100) == []
    found = await store.email_candidates([site.id], 0, 100)
    assert [c.conversation.id for c in found] == [cid]
    assert found[0].emailed_seq == 0 and found[0].read_seq == 0 and found[0].visitor.email == visitor.email
    await store.set_read(cid, visitor.id, AuthorKind.VISITOR, 1)
    assert (await store.email_candidates([site.id], 0, 100))[0].read_seq == 1
    assert await store.email_candidates([site.id], now_ms() + 60_000, 100) == []
    # The cursor moves by compare-and-set: a second decision from the same position finds it moved.
    assert await store.advance_email_cursor(cid, 0, 1) is True
    assert await store.advance_email_cursor(cid, 0, 1) is False
    assert await store.email_candidates([site.id], 0, 100) == []
    assert await store.email_candidates([silent_site.id], 0, 100) == []  # no email: never a candidate


async def test_the_digest_and_the_cursor_move_are_one_transaction(store: Store) -> None:
    site, visitor, cid = await conversation(store)
    d = delivery(site, visitor, cid)
    assert await store.advance_email_cursor(cid, 0, 1, d) is True
    stale = delivery(site, visitor, cid)
    assert await store.advance_email_cursor(cid, 0, 1, stale) is False  # nothing of it is written
    assert [x.id for x in await store.deliveries(cid)] == [d.id]
    stored = (await store.deliveries(cid))[0]
    assert stored.payload == {"subject": "Re: hello", "seqs": [1, 2]}
    assert stored.status is DeliveryStatus.QUEUED and stored.attempts == 0


async def test_a_claim_leases_each_due_delivery_to_one_caller(store: Store) -> None:
    site, visitor, cid = await conversation(store)
    now = now_ms()
    due = [delivery(site, visitor, cid, due=now - 10) for _ in range(6)]
    later = delivery(site, visitor, cid, due=now + 60_000)
    for i, d in enumerate([*due, later]):
        assert await store.advance_email_cursor(cid, i, i + 1, d)
    claims = await asyncio.gather(*(store.claim_deliveries("email", now, 5_000, 4) for _ in range(3)))
    claimed = [d.id for batch in claims for d in batch]
    assert sorted(claimed) == sorted(d.id for d in due), "every due row once, the later one not yet"
    assert all(d.status is DeliveryStatus.SENDING and d.attempts == 1 for batch in claims for d in batch)
    assert await store.claim_deliveries("webhook", now + 10**9, 5_000, 10) == []
    # A lease that runs out (the node died mid-send) makes the row claimable again: at least once.
    assert await store.claim_deliveries("email", now + 1_000, 5_000, 10) == []
    again = await store.claim_deliveries("email", now + 5_001, 5_000, 10)
    assert sorted(d.id for d in again) == sorted(d.id for d in due)
    assert all(d.attempts == 2 for d in again)


async def test_outcomes_are_recorded(store: Store) -> None:
    site, visitor, cid = await conversation(store)
    now = now_ms()
    sent, retried, failed = (delivery(site, visitor, cid, due=now) for _ in range(3))
    for i, d in enumerate((sent, retried, failed)):
        assert await store.advance_email_cursor(cid, i, i + 1, d)
    assert len(await store.claim_deliveries("email", now, 1_000, 10)) == 3
    await store.finish_delivery(sent.id, DeliveryStatus.SENT, now + 5)
    await store.finish_delivery(retried.id, DeliveryStatus.QUEUED, now + 5, error="451 try later",
                                retry_at=now + 30_000)
    await store.finish_delivery(failed.id, DeliveryStatus.FAILED, now + 5, error="550 no such user")
    rows = {d.id: d for d in await store.deliveries(cid)}
    assert rows[sent.id].status is DeliveryStatus.SENT and rows[sent.id].sent_at == now + 5
    assert rows[retried.id].status is DeliveryStatus.QUEUED and rows[retried.id].next_attempt_at == now + 30_000
    assert rows[retried.id].error == "451 try later" and rows[retried.id].sent_at is None
    assert rows[failed.id].status is DeliveryStatus.FAILED and rows[failed.id].error == "550 no such user"
    # Only the retry comes back, and only when it is due.
    assert await store.claim_deliveries("email", now + 29_000, 1_000, 10) == []
    assert [d.id for d in await store.claim_deliveries("email", now + 30_000, 1_000, 10)] == [retried.id]


async def test_addresses_are_confirmed_once_and_keep_their_state(store: Store) -> None:
    site, visitor, cid = await conversation(store)
    assert await store.email_address(site.id, "ann@example.test") is None
    pending = EmailAddress(site.id, "ann@example.test", AddressState.PENDING, visitor.id, now_ms())
    confirm = delivery(site, visitor, cid, kind="confirm")
    assert await store.request_confirmation(pending, confirm) is True
    assert await store.request_confirmation(pending, delivery(site, visitor, cid, kind="confirm")) is False
    assert [d.kind for d in await store.deliveries(cid)] == ["confirm"]
    got = await store.email_address(site.id, "ann@example.test")
    assert got is not None and got.state is AddressState.PENDING and got.visitor_id == visitor.id
    await store.set_email_state(site.id, "ann@example.test", AddressState.CONFIRMED)
    got = await store.email_address(site.id, "ann@example.test")
    assert got is not None and got.state is AddressState.CONFIRMED and got.visitor_id == visitor.id
    await store.set_email_state(site.id, "ann@example.test", AddressState.UNSUBSCRIBED, visitor.id)
    got = await store.email_address(site.id, "ann@example.test")
    assert got is not None and got.state is AddressState.UNSUBSCRIBED
    other = await store.create_site("Other", [], {})
    assert await store.email_address(other.id, "ann@example.test") is None  # a state is per site

"""The store contract, continued: outgoing webhooks (store/webhooks.py) — endpoints, the derivation cursor
moved with its deliveries in one transaction, the claim that keeps per-conversation order, the attempt
log — run unchanged on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from papote.ids import new_id, now_ms
from papote.store import NewMessage, Site, Store
from papote.store.outbox import Delivery, DeliveryStatus
from papote.store.webhooks import WebhookAttempt, WebhookEndpoint
from papote.types import AuthorKind, MessageKind

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


async def conversation(store: Store, site: Site | None = None) -> tuple[Site, str, str]:
    site = site or await store.create_site("Shop", ["https://shop.test"], {})
    visitor = await store.create_visitor(site.id, "tokenhash-" + new_id("x"))
    first = await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, visitor.id, "", MessageKind.TEXT,
                                          "hello", new_id("m"), visitor_id=visitor.id))
    return site, visitor.id, first.conversation.id


def delivery(site: Site, visitor_id: str, cid: str, target: str, position: int, due: int = 0) -> Delivery:
    return Delivery(new_id("d"), site.id, cid, visitor_id, "webhook", "message.created", target,
                    {"webhook_id": f"msg_{position}", "body": "{}"}, next_attempt_at=due, created_at=now_ms(),
                    position=position)


async def endpoint(store: Store, site: Site) -> WebhookEndpoint:
    ep = WebhookEndpoint(new_id("we"), site.id, "https://hooks.test/in", ["message.created"], "whsec_AAAA",
                         created_at=now_ms())
    await store.insert_webhook_endpoint(ep)
    return ep


async def test_endpoints_are_kept_changed_and_removed_with_their_deliveries(store: Store) -> None:
    site, vid, cid = await conversation(store)
    other = await store.create_site("Other", ["https://other.test"], {})
    ep = await endpoint(store, site)
    theirs = await endpoint(store, other)
    assert [e.id for e in await store.webhook_endpoints(site.id)] == [ep.id]
    assert {e.id for e in await store.webhook_endpoints()} == {ep.id, theirs.id}
    ep.url, ep.events, ep.previous_secret, ep.previous_until = "https://new.test", ["conversation.closed"], "x", 7
    await store.update_webhook_endpoint(ep)
    assert await store.webhook_endpoint(ep.id) == ep
    await store.queue_delivery(delivery(site, vid, cid, ep.id, 3))
    assert await store.delete_webhook_endpoint(other.id, ep.id) is False  # another site's: untouched
    assert await store.delete_webhook_endpoint(site.id, ep.id) is True
    assert await store.webhook_endpoint(ep.id) is None
    assert await store.claim_ordered_deliveries("webhook", now_ms(), 1_000, 10) == []


async def test_the_cursor_and_its_deliveries_are_one_transaction(store: Store) -> None:
    site, vid, cid = await conversation(store)
    ep = await endpoint(store, site)
    assert [c.conversation_id for c in await store.webhook_candidates([site.id], 0, 10)] == [cid]
    assert await store.webhook_candidates([], 0, 10) == []
    first = delivery(site, vid, cid, ep.id, 3)
    assert await store.advance_webhook_cursor(cid, 0, 1, [first]) is True
    stale = delivery(site, vid, cid, ep.id, 3)
    assert await store.advance_webhook_cursor(cid, 0, 1, [stale]) is False  # nothing written
    assert await store.webhook_cursor(cid) == 1
    assert await store.webhook_candidates([site.id], 0, 10) == []
    assert [d.id for d in await store.claim_ordered_deliveries("webhook", now_ms(), 1_000, 10)] == [first.id]
    assert await store.get_delivery(stale.id) is None
    assert await store.advance_webhook_cursor(cid, 1, 2, []) is True
    assert await store.advance_webhook_cursor(cid, 1, 3, []) is False


async def test_a_delivery_waits_for_the_earlier_ones_of_its_conversation(store: Store) -> None:
    site, vid, cid = await conversation(store)
    _, vid2, cid2 = await conversation(store, site)
    ep = await endpoint(store, site)
    other_ep = await endpoint(store, site)
    now = now_ms()
    a1, a2, a3 = (delivery(site, vid, cid, ep.id, p) for p in (3, 5, 7))
    b1 = delivery(site, vid2, cid2, ep.id, 3)
    c1 = delivery(site, vid, cid, other_ep.id, 5)
    for d in (a3, a1, a2, b1, c1):
        await store.queue_delivery(d)
    # Concurrent claims: only the head of each (endpoint, conversation), each to one caller.
    claims = await asyncio.gather(*(store.claim_ordered_deliveries("webhook", now, 60_000, 10) for _ in range(3)))
    assert sorted(d.id for batch in claims for d in batch) == sorted([a1.id, b1.id, c1.id])
    # a1 failed and waits for its retry: a2 still waits behind it, even once a1's lease is over.
    await store.finish_delivery(a1.id, DeliveryStatus.QUEUED, now, error="HTTP 503", retry_at=now + 60_000)
    assert await store.claim_ordered_deliveries("webhook", now + 10_000, 5_000, 10) == []
    # Given up: the next one goes.
    await store.finish_delivery(a1.id, DeliveryStatus.FAILED, now, error="HTTP 503")
    assert [d.id for d in await store.claim_ordered_deliveries("webhook", now, 5_000, 10)] == [a2.id]
    await store.finish_delivery(a2.id, DeliveryStatus.SENT, now)
    assert [d.id for d in await store.claim_ordered_deliveries("webhook", now, 5_000, 10)] == [a3.id]


async def test_the_log_lists_deliveries_newest_first_with_their_attempts(store: Store) -> None:
    site, vid, cid = await conversation(store)
    ep = await endpoint(store, site)
    older = delivery(site, vid, cid, ep.id, 3)
    older.created_at = 1_000
    newer = delivery(site, vid, cid, ep.id, 5)
    newer.created_at = 2_000
    for d in (older, newer):
        await store.queue_delivery(d)
    await store.record_webhook_attempt(WebhookAttempt(older.id, 1, 1_500, None, 10_000, "timed out"))
    await store.record_webhook_attempt(WebhookAttempt(older.id, 2, 1_600, 204, 12))
    await store.record_webhook_attempt(WebhookAttempt(older.id, 2, 1_600, 500, 12))  # a repeat is ignored
    log = await store.webhook_log(ep.id, 10)
    assert [e.delivery.id for e in log] == [newer.id, older.id]
    assert log[0].attempts == []
    assert [(a.attempt, a.status_code, a.error) for a in log[1].attempts] == [(1, None, "timed out"), (2, 204, "")]
    assert [e.delivery.id for e in await store.webhook_log(ep.id, 10, before=2_000)] == [older.id]
    assert [e.delivery.id for e in await store.webhook_log(ep.id, 1)] == [newer.id]

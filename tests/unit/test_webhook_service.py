"""The webhook service over a real store (both backends), without a bus or a network: events committed
while no node derived them (a crash right after COMMIT) are queued by the scan, once, in order; the
outbox then sends them one conversation-position at a time, with the schedule's backoff on an injected
clock."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_asyncio

from papote.channels.outbox import DeliveryError, Outbox
from papote.channels.webhooks.service import Webhooks
from papote.config import Config
from papote.ids import new_id, now_ms
from papote.store import NewMessage, Site, Store
from papote.store.outbox import Delivery, DeliveryStatus
from papote.store.webhooks import WebhookEndpoint
from papote.types import AuthorKind, MessageKind

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


class Host:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.config = Config(webhook_retry_ms=1_000, webhook_retry_max_ms=4_000)

    async def site_by_id(self, site_id: str) -> Site | None:
        return await self.store.get_site(site_id)


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


async def say(store: Store, site: Site, visitor_id: str, cid: str | None, body: str) -> str:
    appended = await store.append(NewMessage(site.id, cid, AuthorKind.VISITOR, visitor_id, "", MessageKind.TEXT,
                                             body, new_id("m"), visitor_id=visitor_id))
    return appended.conversation.id


async def test_the_scan_queues_what_no_node_derived_once_and_in_order(store: Store) -> None:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    endpoint = WebhookEndpoint(new_id("we"), site.id, "https://hooks.test", ["message.created",
                               "conversation.opened"], "whsec_AAAA", created_at=now_ms() - 1)
    await store.insert_webhook_endpoint(endpoint)
    visitor = await store.create_visitor(site.id, "t-" + new_id("x"))
    cid = await say(store, site, visitor.id, None, "one")
    for body in ("two", "three"):
        await say(store, site, visitor.id, cid, body)
    webhooks = Webhooks(Host(store))  # a node that never saw those commits
    assert await webhooks.scan_once(now_ms()) == 1
    assert await webhooks.scan_once(now_ms()) == 0  # the cursor moved with the deliveries
    sent: list[tuple[int, str]] = []

    async def send(d: Delivery) -> None:
        body = json.loads(d.payload["body"])
        sent.append((body["data"]["seq"], body["type"]))

    clock = [now_ms()]
    outbox = Outbox(store, "webhook", send, lease_ms=10_000, every_secs=1, ordered=True, clock=lambda: clock[0])
    while await outbox.run_once():
        pass
    assert sent == [(1, "conversation.opened"), (1, "message.created"), (2, "message.created"),
                    (3, "message.created")]


async def test_a_failing_head_holds_its_conversation_back_until_it_goes(store: Store) -> None:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    endpoint = WebhookEndpoint(new_id("we"), site.id, "https://hooks.test", ["message.created"], "whsec_AAAA",
                               created_at=now_ms() - 1)
    await store.insert_webhook_endpoint(endpoint)
    visitor = await store.create_visitor(site.id, "t-" + new_id("x"))
    cid = await say(store, site, visitor.id, None, "first")
    await say(store, site, visitor.id, cid, "second")
    host = Host(store)
    webhooks = Webhooks(host)
    await webhooks.derive(cid)
    down = [True]
    sent: list[str] = []

    async def send(d: Delivery) -> None:
        if down[0]:
            raise DeliveryError("ConnectError")
        sent.append(json.loads(d.payload["body"])["data"]["message"]["body"])

    clock = [now_ms()]
    outbox = Outbox(store, "webhook", send, lease_ms=10_000, every_secs=1, ordered=True, clock=lambda: clock[0],
                    first_retry_ms=host.config.webhook_retry_ms, max_retry_ms=host.config.webhook_retry_max_ms)
    tries: list[Any] = []
    for _ in range(5):  # "ten minutes" down: five failed rounds, each after the backoff
        tries.append(await outbox.run_once())
        clock[0] += 5_000
    assert tries == [1, 1, 1, 1, 1], "only the head is tried: the second message waits behind it"
    down[0] = False
    while await outbox.run_once():
        clock[0] += 5_000
    assert sent == ["first", "second"]
    log = await store.webhook_log(endpoint.id, 10)
    assert [e.delivery.status for e in log] == [DeliveryStatus.SENT, DeliveryStatus.SENT]

"""The store contract for Web Push, on both backends (same fixture as test_store_contract.py): one key
pair whoever writes first, subscriptions by endpoint, alerts per device, an agent's rows only."""

from __future__ import annotations

import pytest
import pytest_asyncio

from papote.ids import now_ms
from papote.store import Store
from papote.store.push import PushSubscription, VapidKeys

pytestmark = pytest.mark.both_backends


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


def device(agent_id: str, endpoint: str, sub_id: str = "ps_1", **alerts: bool) -> PushSubscription:
    return PushSubscription(sub_id, agent_id, endpoint, "p" * 87, "a" * 22, "Phone",
                            alerts.get("new_conversation", True), alerts.get("visitor_reply", True),
                            alerts.get("transfer", True), now_ms())


@pytest.mark.asyncio
async def test_the_first_key_pair_written_is_the_one_every_node_reads(store: Store) -> None:
    first = await store.ensure_push_keys(VapidKeys("priv-1", "pub-1"))
    second = await store.ensure_push_keys(VapidKeys("priv-2", "pub-2"))
    assert first == second == VapidKeys("priv-1", "pub-1")


@pytest.mark.asyncio
async def test_subscriptions_by_endpoint_alerts_and_owner(store: Store) -> None:
    ann = await store.create_agent("ann@papote.test", "Ann", "x")
    bob = await store.create_agent("bob@papote.test", "Bob", "x")
    saved = await store.save_push_subscription(device(ann.id, "https://push.test/1", "ps_1", visitor_reply=False))
    assert saved.id == "ps_1" and not saved.visitor_reply and saved.new_conversation
    # The same browser subscribing again keeps its row (and id), with the new keys and choices.
    again = await store.save_push_subscription(device(ann.id, "https://push.test/1", "ps_9"))
    assert again.id == "ps_1" and again.visitor_reply
    await store.save_push_subscription(device(ann.id, "https://push.test/2", "ps_2", transfer=False))
    assert [s.id for s in await store.push_subscriptions(ann.id)] == ["ps_1", "ps_2"]
    assert [s.id for s in await store.push_targets([ann.id, bob.id], "transfer")] == ["ps_1"]
    assert await store.push_owners() == {ann.id}
    assert [s.id for s in await store.push_targets([ann.id], "new_conversation")] == ["ps_1", "ps_2"]
    assert await store.push_targets([], "transfer") == []
    with pytest.raises(ValueError):
        await store.push_targets([ann.id], "id; DROP TABLE agents")

    # Alerts change per device, and only the owner's.
    assert await store.update_push_alerts(bob.id, "ps_2", {"transfer": True}) is None
    changed = await store.update_push_alerts(ann.id, "ps_2", {"transfer": True, "new_conversation": False})
    assert changed is not None and changed.transfer and not changed.new_conversation and changed.visitor_reply
    assert (await store.update_push_alerts(ann.id, "ps_2", {})) == changed

    # Bob signs in on Ann's browser and subscribes it: the browser now alerts Bob only, under a new id.
    moved = await store.save_push_subscription(device(bob.id, "https://push.test/2", "ps_3"))
    assert moved.id == "ps_3" and moved.agent_id == bob.id
    assert [s.id for s in await store.push_subscriptions(ann.id)] == ["ps_1"]

    assert not await store.delete_push_subscription(bob.id, "ps_1")
    assert await store.delete_push_subscription(ann.id, "ps_1")
    assert await store.push_subscriptions(ann.id) == []
    await store.delete_push_endpoint("https://push.test/2")
    await store.delete_push_endpoint("https://push.test/none")
    assert await store.push_subscriptions(bob.id) == []

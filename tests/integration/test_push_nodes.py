"""Web Push on two nodes (one PostgreSQL database, a private Redis): both sign with the one key pair
the first made, and each alert is sent once, by the node that committed the change — not by every node
whose connections hear of it through the broker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.brokers import Broker
from tests.harness import agent, new_msg_id, visitor
from tests.nodes import Node, cluster, database, redis_broker
from tests.push_service import Browser, FakePushService

pytestmark = pytest.mark.asyncio
__all__ = ["database", "redis_broker"]

WAIT_SECS = 30.0


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    service = FakePushService().start()
    yield service
    service.stop()


def settled(node: Node) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECS
    while True:
        push = node.healthz()["push"]
        if push["handled"] == push["queued"] and push["in_flight"] == 0 and push["waiting"] == 0:
            return dict(push)
        assert time.monotonic() < deadline, f"{node.name}: alerts still on their way: {push}"
        time.sleep(0.05)


async def test_each_alert_is_sent_once_by_the_node_that_committed_it(
        tmp_path: Path, database: str, redis_broker: Broker, push_service: FakePushService,
        request: pytest.FixtureRequest) -> None:
    def failed() -> bool:
        report = getattr(request.node, "rep_call", None)
        return report is not None and report.failed

    async with cluster(tmp_path, database, redis_broker, 2, failed=failed,
                       env_extra={"PAPOTE_PUSH_SERVICES": push_service.origin}) as nodes:
        nodes.wait_bus_connected()
        one, two = nodes[0], nodes[1]
        # One key pair for the deployment, whichever node is asked.
        key = one.http("GET", "/api/push/key", cookie=one.login())[1]["public_key"]
        assert two.http("GET", "/api/push/key", cookie=two.login())[1]["public_key"] == key
        owner_on_two = two.login()
        _, me, _ = two.http("GET", "/api/me", cookie=owner_on_two)
        phone = Browser(push_service.endpoint("owner"))
        assert two.http("POST", "/api/me/devices", phone.subscription(), cookie=owner_on_two)[0] == 201
        # The owner's console is open on node 2: node 2 follows the site and hears every change of it.
        console = await agent(two, owner_on_two)
        await console.send({"t": "status", "ref": 1, "status": "away"})  # nothing gets routed to them

        # A visitor on node 1 starts a conversation: node 1 committed it, node 1 alerts, once.
        v = await visitor(one, origin=nodes.origin)
        await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Hi"})
        cid = (await v.expect("ack", ref=1))["conversation"]
        await console.expect("conversation", timeout=WAIT_SECS)  # node 2 did hear of it
        push_service.wait_for("owner", 1)
        first, second = settled(one), settled(two)
        assert (first["sent"], second["sent"], second["queued"]) == (1, 0, 0)
        assert phone.decrypt(push_service.received("owner")[0].body)["conversation"] == cid

        # Assigned to the owner (on node 2); the visitor writes again, now through node 2: node 2 alerts.
        assert two.http("POST", f"/api/conversations/{cid}/assign", {"agent": me["agent"]["id"]},
                        cookie=owner_on_two)[0] == 200
        await v.close()
        back = await visitor(two, token=v.welcome["token"], origin=nodes.origin)
        await back.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),
                         "body": "Still there?"})
        await back.expect("ack", ref=2)
        push_service.wait_for("owner", 2)
        first, second = settled(one), settled(two)
        assert (first["sent"], second["sent"]) == (1, 1)
        assert len(push_service.received("owner")) == 2
        assert phone.decrypt(push_service.received("owner")[1].body)["alert"] == "visitor_reply"

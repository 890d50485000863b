"""Routing through a real server: capacity, the queue the visitor sees, and the queue draining."""

from __future__ import annotations

import pytest

from tests.harness import PapoteServer, agent, new_msg_id, visitor

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


async def test_capacity_queue_and_drain(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    await a.send({"t": "status", "ref": 1, "status": "online", "capacity": 1})
    await a.expect("ok", ref=1)
    first = await visitor(papote_server)
    await first.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "one"})
    c1 = (await first.expect("ack", ref=1))["conversation"]
    assigned = await first.expect("message", event="assigned")
    assert assigned["data"]["agent"]["id"] == a.welcome["agent"]["id"]
    second = await visitor(papote_server)
    await second.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "two"})
    c2 = (await second.expect("ack", ref=1))["conversation"]
    queue = await second.expect("queue", conversation=c2)
    assert queue["position"] == 1 and queue["wait_secs"] is None  # no history yet: no invented estimate
    again = await visitor(papote_server, token=second.welcome["token"])
    assert again.welcome["conversations"][0]["queue"]["position"] == 1
    # The agent frees their slot: the queue drains to them.
    await a.send({"t": "close", "ref": 2, "conversation": c1})
    await a.expect("ok", ref=2)
    taken = await second.expect("message", event="assigned")
    assert taken["conversation"] == c2
    # With one closed conversation behind us, a new queued visitor gets an estimate.
    third = await visitor(papote_server)
    await third.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "three"})
    c3 = (await third.expect("ack", ref=1))["conversation"]
    queue = await third.expect("queue", conversation=c3)
    assert queue["position"] == 1 and isinstance(queue["wait_secs"], int)


async def test_away_agents_get_nothing_and_presence_is_broadcast(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    watcher = await visitor(papote_server)
    await a.send({"t": "status", "ref": 1, "status": "away"})
    await a.expect("ok", ref=1)
    availability = await watcher.expect("availability")
    assert availability["agents_online"] == 0
    v = await visitor(papote_server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "anyone?"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    assert (await v.expect("queue", conversation=cid))["position"] == 1
    await a.send({"t": "status", "ref": 2, "status": "online"})
    assert (await v.expect("message", event="assigned"))["conversation"] == cid


async def test_first_reply_claims_a_waiting_conversation(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    await a.send({"t": "status", "ref": 1, "status": "away"})  # so routing leaves it in the queue
    await a.expect("ok", ref=1)
    v = await visitor(papote_server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hello?"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    await a.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Here!"})
    await a.expect("ack", ref=2)
    assigned = await v.expect("message", event="assigned")
    assert assigned["data"]["agent"]["id"] == a.welcome["agent"]["id"]
    presence = await a.expect("presence")
    while presence["agent"]["load"] != 1:  # earlier ones announced the status change, at load 0
        presence = await a.expect("presence")

"""Routing defects a newcomer hit on day one (issue 14 §4), through a real server and protocol clients."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Client, PapoteServer, agent, new_msg_id, visitor

pytestmark = pytest.mark.asyncio

BOB_EMAIL = "bob@papote.test"
BOB_PASSWORD = "bob-battery-staple"


async def bob(server: PapoteServer) -> Client:
    server.cli("agent", "create", "--site", server.site_key, "--email", BOB_EMAIL, "--password", BOB_PASSWORD,
               "--name", "Bob", "--role", "agent")
    return await agent(server, server.login(BOB_EMAIL, BOB_PASSWORD))


async def status(client: Client, ref: int, value: str, capacity: int = 5) -> None:
    await client.send({"t": "status", "ref": ref, "status": value, "capacity": capacity})
    await client.expect("ok", ref=ref)


async def say(v: Client, ref: int, body: str, conversation: str | None = None) -> dict[str, Any]:
    await v.send({"t": "send", "ref": ref, "conversation": conversation, "client_msg_id": new_msg_id(),
                  "body": body})
    return await v.expect("ack", ref=ref)


async def test_a_returning_visitor_goes_back_to_their_agent_after_a_reopen(papote_server: PapoteServer) -> None:
    server = papote_server
    alice = await agent(server)
    b = await bob(server)
    await status(alice, 1, "away")
    await status(b, 1, "online")
    v = await visitor(server)
    cid = (await say(v, 1, "Where is my order?"))["conversation"]
    first = await v.expect("message", conversation=cid, event="assigned")
    assert first["data"]["agent"]["id"] == b.welcome["agent"]["id"]
    await b.send({"t": "close", "ref": 2, "conversation": cid})
    await b.expect("ok", ref=2)
    # Alice is back, idle for longer than Bob and as free (0 of 5): a newcomer would go to her. The
    # visitor Bob served writes again to the closed conversation: it reopens, and goes back to Bob.
    await status(alice, 2, "online")
    await say(v, 2, "It still has not arrived", conversation=cid)
    await v.expect("message", conversation=cid, event="reopened")
    again = await v.expect("message", conversation=cid, event="assigned")
    assert again["data"]["agent"]["id"] == b.welcome["agent"]["id"]
    # Someone new goes to whoever is free and idle longest: Alice.
    other = await visitor(server)
    other_cid = (await say(other, 1, "Hello"))["conversation"]
    assert (await other.expect("message", conversation=other_cid, event="assigned"))["data"]["agent"]["id"] \
        == alice.welcome["agent"]["id"]
    for client in (alice, b, v, other):
        await client.close()

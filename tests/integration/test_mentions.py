"""Mentions in private notes: the agents a note names hear of it on their own consoles, followed or not,
on one node and across two; what may not be mentioned is refused before anything is stored."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests import postgres
from tests.brokers import Broker
from tests.harness import Client, PapoteServer, agent, new_msg_id, visitor
from tests.nodes import cluster

pytestmark = pytest.mark.asyncio

#: Generous: several suites share this 2-core machine.
WAIT_SECS = 30.0


def teammate(server: PapoteServer, email: str, name: str) -> tuple[str, str]:
    """A second agent of the test site: (id, session cookie)."""
    server.cli("agent", "create", "--site", server.site_key, "--email", email, "--password", "mention-password-1",
               "--role", "agent", "--name", name)
    cookie = server.login(email, "mention-password-1")
    _, me, _ = server.http("GET", "/api/me", cookie=cookie)
    return str(me["agent"]["id"]), cookie


async def conversation_of(server: PapoteServer, origin: str | None = None) -> tuple[Client, str]:
    v = await visitor(server, origin=origin)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hello"})
    return v, (await v.expect("ack", ref=1))["conversation"]


async def owned_by(staff: Client, cid: str) -> None:
    """`staff` takes the conversation (routing may have given it to them first)."""
    await staff.send({"t": "claim", "ref": 5, "conversation": cid})
    await staff.expect("ok", ref=5)


@pytest.mark.both_backends
async def test_a_note_tells_the_agents_it_mentions_and_nobody_else(papote_server: PapoteServer) -> None:
    server = papote_server
    v, cid = await conversation_of(server)
    owner = await agent(server)
    await owned_by(owner, cid)
    bea_id, bea_cookie = teammate(server, "bea@papote.test", "Bea")
    bea = await agent(server, bea_cookie)  # Bea does not follow the conversation (the owner has it)
    owner_id = owner.welcome["agent"]["id"]

    await owner.send({"t": "send", "ref": 10, "conversation": cid, "client_msg_id": new_msg_id(),
                      "body": "@Bea can you check the refund?", "note": True, "mentions": [bea_id, owner_id, bea_id]})
    ack = await owner.expect("ack", ref=10)
    told = await bea.expect("mentioned", timeout=WAIT_SECS)
    assert told == {"t": "mentioned", "conversation": cid, "seq": ack["seq"],
                    "by": {"kind": "agent", "id": owner_id, "name": owner.welcome["agent"]["name"],
                           "avatar": owner.welcome["agent"].get("avatar")},
                    "body": "@Bea can you check the refund?"}
    # The note names Bea once, the author left out; its readers see who is mentioned.
    status, page, _ = server.http("GET", f"/api/conversations/{cid}/messages", cookie=server.login())
    assert status == 200
    [note] = [m for m in page["messages"] if m["seq"] == ack["seq"]]
    assert note["kind"] == "note" and note["data"]["mentions"] == [bea_id]

    # REST, with a long note: the frame carries its start.
    status, answer, _ = server.http("POST", f"/api/conversations/{cid}/messages",
                                    {"body": "x" * 300, "note": True, "mentions": [bea_id]}, cookie=server.login())
    assert status == 201
    told = await bea.expect("mentioned", timeout=WAIT_SECS, seq=answer["seq"])
    assert told["body"] == "x" * 140

    # A retried send tells nobody twice.
    retry = new_msg_id()
    for ref in (11, 12):
        await owner.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": retry,
                          "body": "once", "note": True, "mentions": [bea_id]})
        await owner.expect("ack", ref=ref)
    await bea.expect("mentioned", timeout=WAIT_SECS, body="once")
    await bea.quiet(1.0)
    assert len([f for f in bea.frames if f["t"] == "mentioned" and f["body"] == "once"]) == 1

    # Nobody else hears of it, and the visitor sees no note.
    assert not [f for f in owner.frames if f["t"] == "mentioned"]
    await v.quiet(0.5)
    assert not [f for f in v.frames if f["t"] in ("mentioned",) or f.get("kind") == "note"
                or "refund" in str(f.get("body", ""))]


@pytest.mark.both_backends
async def test_what_may_not_be_mentioned_is_refused_and_nothing_is_stored(papote_server: PapoteServer) -> None:
    server = papote_server
    _, cid = await conversation_of(server)
    owner = await agent(server)
    await owned_by(owner, cid)
    bea_id, _ = teammate(server, "bea@papote.test", "Bea")
    site_b = server.cli("site", "create", "--name", "B", "--origin", server.base_url).splitlines()[0]
    stranger_id = server.cli("agent", "create", "--site", site_b, "--email", "s@papote.test", "--password",
                             "stranger-password-1", "--role", "owner").strip()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"body": "reply", "mentions": [bea_id]}, "bad_field"),  # a reply, not a note
        ({"body": "note", "note": True, "mentions": [stranger_id]}, "not_found"),  # another site's agent
        ({"body": "note", "note": True, "mentions": ["a_doesnotexist"]}, "not_found"),
        ({"body": "note", "note": True, "mentions": [bea_id] * 21}, "too_large"),  # more than a note may name
    ]
    for ref, (case, code) in enumerate(cases, start=20):
        await owner.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(), **case})
        error = await owner.expect("error", ref=ref)
        assert error["code"] == code, (case, error)
    # The same answer for another site's agent and for none: nothing about other sites is told.
    assert server.cli("agent", "list", "--site", server.site_key).count("@") >= 2
    cookie = server.login()
    answers = []
    for mentioned in (stranger_id, "a_doesnotexist"):
        status, body, _ = server.http("POST", f"/api/conversations/{cid}/messages",
                                      {"body": "n", "note": True, "mentions": [mentioned]}, cookie=cookie)
        answers.append((status, body["error"]["code"], body["error"]["message"]))
    assert answers[0] == answers[1] and answers[0][:2] == (404, "not_found")
    # A reply that mentions someone is refused by the body's schema.
    status, body, _ = server.http("POST", f"/api/conversations/{cid}/messages",
                                  {"body": "r", "mentions": [bea_id]}, cookie=cookie)
    assert (status, body["error"]["code"]) == (400, "bad_field")
    status, page, _ = server.http("GET", f"/api/conversations/{cid}/messages", cookie=cookie)
    assert [m["body"] for m in page["messages"] if m["kind"] != "event"] == ["hello"]


async def test_a_mention_reaches_an_agent_on_another_node(tmp_path: Path, redis_broker: Broker) -> None:
    async with postgres.database() as database, cluster(tmp_path, database, redis_broker, 2) as nodes:
        a, b = nodes[0], nodes[1]
        nodes.wait_nodes_see_each_other()
        _, cid = await conversation_of(a, origin=nodes.origin)
        owner = await agent(a)
        await owned_by(owner, cid)
        bea_id, bea_cookie = teammate(a, "bea@papote.test", "Bea")
        bea = await agent(b, bea_cookie)
        deadline = time.monotonic() + WAIT_SECS
        await owner.send({"t": "send", "ref": 10, "conversation": cid, "client_msg_id": new_msg_id(),
                          "body": "over to you?", "note": True, "mentions": [bea_id]})
        ack = await owner.expect("ack", ref=10)
        told = await bea.expect("mentioned", timeout=max(1.0, deadline - time.monotonic()))
        assert told["conversation"] == cid and told["seq"] == ack["seq"] and told["body"] == "over to you?"

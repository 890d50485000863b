"""Snooze (conversations/snooze.py): an agent sets an open conversation aside until a time; it comes
back then, or as soon as its visitor writes; on one node and across two."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import postgres
from tests.brokers import Broker
from tests.harness import Client, PapoteServer, agent, new_msg_id, serve, visitor
from tests.nodes import cluster

pytestmark = pytest.mark.asyncio

#: Generous: several suites share this 2-core machine.
WAIT_SECS = 30.0
HOUR_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def server(tmp_path: Path, server_backend: str, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    """A server that sweeps snoozes every second (the default is every 5)."""
    s = PapoteServer(tmp_path, env_extra={"PAPOTE_SNOOZE_CHECK_SECS": "1"}, backend=server_backend)
    yield from serve(s, request)


async def seen(client: Client, cid: str, after: int, what: str,
               fits: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first `conversation` frame of `cid` received after the client's `after`th frame whose summary
    `fits`, waiting for it. Frames read meanwhile stay for `expect`."""
    deadline = time.monotonic() + WAIT_SECS
    while True:
        for frame in client.frames[after:]:
            conv = frame.get("conversation")
            if frame["t"] == "conversation" and conv["id"] == cid and fits(conv):
                return conv  # type: ignore[no-any-return]
        left = deadline - time.monotonic()
        assert left > 0, f"no conversation frame {what}"
        try:
            client.backlog.append(await client.recv(min(left, 1.0)))
        except TimeoutError:
            pass


async def snoozed_until(client: Client, cid: str, until: int | None, after: int) -> dict[str, Any]:
    """The first `conversation` frame of `cid` after the `after`th that says it is snoozed until `until`
    (None: awake)."""
    return await seen(client, cid, after, f"with snoozed_until={until}", lambda c: c.get("snoozed_until") == until)


def wakes(client: Client, cid: str, after: int) -> list[dict[str, Any]]:
    return [f for f in client.frames[after:] if f["t"] == "conversation" and f["conversation"]["id"] == cid
            and f["conversation"].get("snoozed_until") is None]


async def started(server: PapoteServer, origin: str | None = None) -> tuple[Client, str]:
    v = await visitor(server, origin=origin)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hello"})
    return v, (await v.expect("ack", ref=1))["conversation"]


async def claimed(server: PapoteServer, cid: str, cookie: str | None = None) -> Client:
    """An agent who took the conversation: routing leaves it alone, so what publishes it from then on
    is the snooze and its end."""
    staff = await agent(server, cookie)
    await staff.send({"t": "claim", "ref": 5, "conversation": cid})
    await staff.expect("ok", ref=5)
    # Routing may have given it to this agent first (the claim then holds): its frame can come after
    # the `ok`, so the assignment is awaited as the agent sees it.
    me = staff.welcome["agent"]["id"]
    await seen(staff, cid, 0, "assigned to the agent", lambda c: (c.get("assignee") or {}).get("id") == me)
    return staff


@pytest.mark.both_backends
async def test_a_snoozed_conversation_comes_back_when_its_visitor_writes_or_at_its_time(
    server: PapoteServer,
) -> None:
    v, cid = await started(server)
    staff = await claimed(server, cid)
    cookie = server.login()
    until = now_ms() + HOUR_MS
    mark = len(staff.frames)
    await staff.send({"t": "snooze", "ref": 10, "conversation": cid, "until": until})
    await staff.expect("ok", ref=10)
    await snoozed_until(staff, cid, until, mark)
    status, body, _ = server.http("GET", f"/api/conversations/{cid}", cookie=cookie)
    assert status == 200 and body["snoozed_until"] == until and body["status"] == "open"
    status, body, _ = server.http("GET", "/api/conversations?snoozed=true", cookie=cookie)
    assert status == 200 and [c["id"] for c in body["conversations"]] == [cid]
    status, body, _ = server.http("GET", "/api/conversations?snoozed=false&status=open", cookie=cookie)
    assert status == 200 and cid not in [c["id"] for c in body["conversations"]]
    # An agent's own reply does not wake it; its visitor's message does, at once.
    await staff.send({"t": "send", "ref": 11, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Monday"})
    await staff.expect("ack", ref=11)
    status, body, _ = server.http("GET", f"/api/conversations/{cid}", cookie=cookie)
    assert body["snoozed_until"] == until
    assert not wakes(staff, cid, mark)
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "body": "any news?"})
    await v.expect("ack", ref=2)
    await snoozed_until(staff, cid, None, mark)

    # Over REST, until a moment from now: the sweep brings it back.
    soon = now_ms() + 1500
    mark = len(staff.frames)
    status, body, _ = server.http("POST", f"/api/conversations/{cid}/snooze", {"until": soon}, cookie=cookie)
    assert status == 200 and body["snoozed_until"] == soon
    await snoozed_until(staff, cid, soon, mark)
    await snoozed_until(staff, cid, None, mark)
    assert now_ms() >= soon

    # Woken by hand; a second wake changes nothing and publishes nothing.
    status, body, _ = server.http("POST", f"/api/conversations/{cid}/snooze", {"until": until}, cookie=cookie)
    assert status == 200
    mark = len(staff.frames)
    for _ in range(2):
        status, body, _ = server.http("POST", f"/api/conversations/{cid}/unsnooze", cookie=cookie)
        assert status == 200 and body["snoozed_until"] is None
    await snoozed_until(staff, cid, None, mark)
    await staff.quiet(0.5)
    assert len(wakes(staff, cid, mark)) == 1

    # The visitor is never told: their conversation frames carry no snooze.
    assert not [f for f in v.frames if f["t"] == "conversation" and "snoozed_until" in f["conversation"]]


@pytest.mark.both_backends
async def test_what_cannot_be_snoozed_is_refused_and_a_closing_ends_a_snooze(server: PapoteServer) -> None:
    _, cid = await started(server)
    staff = await agent(server)
    cookie = server.login()
    for ref, until in ((20, now_ms() - 1000), (21, now_ms() + 400 * 86_400_000)):
        await staff.send({"t": "snooze", "ref": ref, "conversation": cid, "until": until})
        error = await staff.expect("error", ref=ref)
        assert error["code"] == "bad_field", error
    status, body, _ = server.http("POST", f"/api/conversations/{cid}/snooze", {"until": now_ms() - 1}, cookie=cookie)
    assert status == 400 and body["error"]["code"] == "bad_field"
    status, body, _ = server.http("POST", f"/api/conversations/{cid}/snooze", {"until": "tomorrow"}, cookie=cookie)
    assert status == 400 and body["error"]["code"] == "bad_field"
    status, body, _ = server.http("GET", f"/api/conversations/{cid}", cookie=cookie)
    assert body["snoozed_until"] is None

    status, body, _ = server.http("POST", f"/api/conversations/{cid}/snooze", {"until": now_ms() + HOUR_MS},
                                  cookie=cookie)
    assert status == 200 and body["snoozed_until"]
    status, body, _ = server.http("POST", f"/api/conversations/{cid}/close", cookie=cookie)
    assert status == 200 and body["status"] == "closed" and body["snoozed_until"] is None
    status, body, _ = server.http("POST", f"/api/conversations/{cid}/snooze", {"until": now_ms() + HOUR_MS},
                                  cookie=cookie)
    assert status == 409 and body["error"]["code"] == "conflict"


async def test_a_snooze_on_one_node_is_woken_once_by_a_visitor_writing_to_another(
    tmp_path: Path, redis_broker: Broker,
) -> None:
    async with postgres.database() as database, cluster(
            tmp_path, database, redis_broker, 2, env_extra={"PAPOTE_SNOOZE_CHECK_SECS": "1"}) as nodes:
        a, b = nodes[0], nodes[1]
        nodes.wait_nodes_see_each_other()
        cookie = a.login()
        v, cid = await started(b, origin=nodes.origin)
        staff = await claimed(a, cid, cookie)
        until = now_ms() + HOUR_MS
        # Snoozed on node A; node B learns of it at its next sweep, or not before the message below:
        # either way the message wakes it (B at once, or a sweep that finds the message).
        mark = len(staff.frames)
        status, _, _ = a.http("POST", f"/api/conversations/{cid}/snooze", {"until": until}, cookie=cookie)
        assert status == 200
        await snoozed_until(staff, cid, until, mark)
        await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),
                      "body": "still there?"})
        await v.expect("ack", ref=2)
        await snoozed_until(staff, cid, None, mark)
        # Both nodes sweep every second: one of them woke it, once.
        await staff.quiet(2.5)
        assert len(wakes(staff, cid, mark)) == 1, wakes(staff, cid, mark)
        status, body, _ = b.http("GET", f"/api/conversations/{cid}", cookie=cookie)
        assert status == 200 and body["snoozed_until"] is None

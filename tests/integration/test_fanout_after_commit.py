"""Fan-out happens after COMMIT: every message another connection receives live is the stored one.

An agent follows a conversation while its visitor sends, re-sends the same `client_msg_id` with another
body (refused: nothing stored), and sends again. Every `message` frame the agent got must equal the
store's message at that seq (body, client_msg_id), and the refused send must never reach it. The
self-check runs the same scenario against a build that publishes before COMMIT
(tests/faults/mutant_publish_before_commit.py) and requires the check to fail.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ROOT, PapoteServer, agent, new_msg_id, visitor

WAIT_SECS = 30.0


async def scenario(server: PapoteServer) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """(message frames the agent received live, the store's messages by seq)."""
    cookie = server.login()
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "first"})
    cid = (await v.expect("ack", timeout=WAIT_SECS))["conversation"]
    a = await agent(server, cookie)
    await a.send({"t": "resume", "ref": 1, "epoch": a.welcome["epoch"], "conversations": {cid: 1}})
    history = await a.expect("history", timeout=WAIT_SECS, conversation=cid)
    # Routing assigns the conversation once the agent is online, and the assignment is a message of its
    # own. Committed in the middle of the sends, it takes the seq the mutant guesses for the refused
    # one, and the guess is then dropped as a duplicate instead of showing: the sends wait for it.
    if not any(m.get("event") == "assigned" for m in history["messages"]):
        await a.expect("message", timeout=WAIT_SECS, conversation=cid, event="assigned")
    reused = new_msg_id()
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": reused, "body": "second"})
    await v.expect("ack", timeout=WAIT_SECS, client_msg_id=reused)
    await v.send({"t": "send", "ref": 3, "conversation": cid, "client_msg_id": reused, "body": "forged"})
    refused = await v.expect("error", timeout=WAIT_SECS, ref=3)
    assert refused["code"] == "conflict", refused
    last = new_msg_id()
    await v.send({"t": "send", "ref": 4, "conversation": cid, "client_msg_id": last, "body": "third"})
    ack = await v.expect("ack", timeout=WAIT_SECS, client_msg_id=last)
    await a.expect("message", timeout=WAIT_SECS, seq=ack["seq"], client_msg_id=last)
    await a.quiet(0.3)
    status, body, _ = server.http("GET", f"/api/conversations/{cid}/messages?after_seq=0&limit=200",
                                  cookie=cookie)
    assert status == 200, body
    stored = {m["seq"]: m for m in body["messages"]}
    return [f for f in a.frames if f["t"] == "message" and f["conversation"] == cid], stored


def faithful(received: list[dict[str, Any]], stored: dict[int, dict[str, Any]]) -> list[str]:
    """What the agent received that the store does not hold as received."""
    wrong = []
    for frame in received:
        mine = stored.get(frame["seq"])
        if mine is None or (mine["body"], mine["client_msg_id"]) != (frame["body"], frame["client_msg_id"]):
            wrong.append(f"seq {frame['seq']}: got {frame['body']!r}, stored {mine and mine['body']!r}")
    return wrong


@pytest.mark.asyncio
async def test_other_connections_get_only_what_was_committed(papote_server: PapoteServer) -> None:
    received, stored = await scenario(papote_server)
    assert faithful(received, stored) == []
    assert "forged" not in [f["body"] for f in received]
    assert [f["body"] for f in received if f["kind"] == "text"] == ["second", "third"]


@pytest.mark.asyncio
async def test_the_check_catches_a_publish_before_commit(tmp_path: Path) -> None:
    assert (ROOT / "tests" / "faults" / "mutant_publish_before_commit.py").exists()
    server = PapoteServer(tmp_path, env_extra={"PYTHONPATH": str(ROOT)},
                          launcher=[sys.executable, "-m", "tests.faults.mutant_publish_before_commit"])
    server.init()
    server.start()
    try:
        received, stored = await scenario(server)
    finally:
        server.stop()
    assert faithful(received, stored), f"the mutant was not caught: {received}"

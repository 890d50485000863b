"""The documented limits hold exactly, through a real server: frames per connection (then 4008), frames
per site, and the number of conversations one `resume` may name."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from papote.web.live import RATE_REFUSALS_BEFORE_CLOSE
from tests.harness import Client, PapoteServer, new_msg_id, visitor

pytestmark = pytest.mark.asyncio


async def drain(client: Client, timeout: float = 20.0) -> tuple[list[dict[str, Any]], int | None]:
    """Every frame until the socket closes (and its close code) or nothing comes for a while."""
    frames: list[dict[str, Any]] = []
    try:
        while True:
            frames.append(await client.recv(timeout))
    except ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return frames, None


async def test_a_flooding_socket_gets_exactly_its_rate_then_is_closed_4008(papote_server: PapoteServer) -> None:
    """The default 120 frames per 10 s: of 600 sends fired at once, 120 are stored, the next ones are
    refused `rate_limited`, and after 20 refusals the socket is closed 4008."""
    server = papote_server
    v = await visitor(server)
    first = {"t": "send", "ref": 0, "conversation": None, "client_msg_id": new_msg_id(), "body": "flood 0"}
    await v.send(first)
    cid = (await v.expect("ack", ref=0))["conversation"]
    frames = [{"t": "send", "ref": n, "conversation": cid, "client_msg_id": new_msg_id(), "body": f"flood {n}"}
              for n in range(1, 600)]
    try:
        for frame in frames:
            await v.send(frame)
    except ConnectionClosed:
        pass  # closed while we were still writing: that is the point
    got, code = await drain(v)
    acks = [f for f in got if f["t"] == "ack"]
    refused = [f for f in got if f["t"] == "error" and f["code"] == "rate_limited"]
    assert len(acks) == 119, "one connection gets exactly 120 frames per 10 s (the first send included)"
    assert len(refused) == RATE_REFUSALS_BEFORE_CLOSE
    assert code == 4008
    status, body, _ = server.http("GET", f"/api/conversations/{cid}/messages?after_seq=0&limit=200",
                                  cookie=server.login())
    assert status == 200 and len([m for m in body["messages"] if m["kind"] == "text"]) == 120


async def test_a_polite_client_told_to_slow_down_is_not_closed(tmp_path: Path) -> None:
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_RATE_PER_CONNECTION": "10/2second"})
    server.init()
    server.start()
    try:
        v = await visitor(server)
        for n in range(12):
            await v.send({"t": "ping", "n": n})
        got = [await v.recv(10) for _ in range(12)]
        assert [f["t"] for f in got].count("pong") == 10
        assert [f.get("code") for f in got if f["t"] == "error"] == ["rate_limited"] * 2
        await asyncio.sleep(2.2)  # the next window: the budget is back in full
        for n in range(10):
            await v.send({"t": "ping", "n": 100 + n})
        assert [(await v.recv(10))["t"] for _ in range(10)] == ["pong"] * 10
    finally:
        server.stop()


async def test_the_site_budget_is_exact_over_all_its_visitors(tmp_path: Path) -> None:
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_RATE_PER_SITE": "30/10second"})
    server.init()
    server.start()
    try:
        clients = [await visitor(server) for _ in range(3)]
        for client in clients:
            for n in range(20):
                await client.send({"t": "ping", "n": n})
        answers = [[await c.recv(10) for _ in range(20)] for c in clients]
        flat = [f for a in answers for f in a]
        assert sum(f["t"] == "pong" for f in flat) == 30
        assert sum(f["t"] == "error" and f["code"] == "rate_limited" for f in flat) == 30
        for client in clients:  # a site over budget closes nobody: no visitor is proven a flooder
            await client.send({"t": "ping", "n": 99})
            assert (await client.recv(10))["t"] == "error"
    finally:
        server.stop()


async def test_resume_naming_too_many_conversations_is_refused_whole(papote_server: PapoteServer) -> None:
    v = await visitor(papote_server)
    many = {f"c_unknown{n:04d}": 0 for n in range(101)}
    await v.send({"t": "resume", "ref": 1, "epoch": "", "conversations": many})
    error = await v.expect("error", ref=1)
    assert error["code"] == "too_large" and "100" in error["message"]
    # At the cap, each unknown id is answered not_found once (one lookup each, not two).
    await v.send({"t": "resume", "ref": 2, "epoch": "", "conversations": dict(list(many.items())[:100])})
    errors = [await v.expect("error", conversation=cid) for cid in list(many)[:100]]
    assert {e["code"] for e in errors} == {"not_found"}
    await v.send({"t": "ping", "n": 1})
    await v.expect("pong", n=1)

"""Restarts: sockets get 1001, clients come back, resume, and nothing acknowledged is lost."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed

from tests.harness import PapoteServer, agent, new_msg_id, visitor

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


async def test_graceful_restart_closes_1001_and_clients_resume(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    v = await visitor(papote_server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "before"})
    ack = await v.expect("ack", ref=1)
    cid = ack["conversation"]
    await a.expect("message", conversation=cid, kind="text")
    stopping = asyncio.get_running_loop().run_in_executor(None, papote_server.stop)
    codes = []
    for client in (v, a):
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await client.recv(10)
        codes.append(info.value.rcvd.code if info.value.rcvd else None)
    assert codes == [1001, 1001]
    assert await stopping in (0, -15)  # uvicorn re-raises the SIGTERM it handled, after a clean exit
    papote_server.start()
    a2 = await agent(papote_server)
    v2 = await visitor(papote_server, token=v.welcome["token"])
    assert v2.welcome["epoch"] == v.welcome["epoch"]
    assert v2.welcome["visitor"]["id"] == v.welcome["visitor"]["id"]
    await a2.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "body": "after"})
    sent = await a2.expect("ack", ref=2)
    await v2.send({"t": "resume", "epoch": v.welcome["epoch"], "conversations": {cid: ack["seq"]}})
    history = await v2.expect("history", conversation=cid)
    assert history["recovered"]
    assert sent["seq"] in [m["seq"] for m in history["messages"]]


async def test_kill_9_loses_no_acknowledged_message(papote_server: PapoteServer) -> None:
    v = await visitor(papote_server)
    await v.send({"t": "send", "ref": 0, "conversation": None, "client_msg_id": new_msg_id(), "body": "start"})
    cid = (await v.expect("ack", ref=0))["conversation"]
    acked: dict[str, int] = {}
    pending: dict[int, str] = {}
    for i in range(1, 100):  # under the per-connection rate limit (120 frames per 10 s)
        cmid = new_msg_id()
        pending[i] = cmid
        await v.send({"t": "send", "ref": i, "conversation": cid, "client_msg_id": cmid, "body": f"m{i}"})
    # Let some acks come back, then kill the server without warning.
    for _ in range(30):
        frame = await v.expect("ack")
        acked[frame["client_msg_id"]] = frame["seq"]
    papote_server.kill()
    try:
        while True:
            frame = await v.recv(2)
            if frame["t"] == "ack":
                acked[frame["client_msg_id"]] = frame["seq"]
    except (ConnectionClosed, TimeoutError):
        pass
    papote_server.start()
    back = await visitor(papote_server, token=v.welcome["token"])
    # The client retries everything it has no ack for: stored once, with their original seq if stored.
    for i, cmid in pending.items():
        await back.send({"t": "send", "ref": i, "conversation": cid, "client_msg_id": cmid, "body": f"m{i}"})
    retried = {}
    for _ in pending:
        frame = await back.expect("ack")
        retried[frame["client_msg_id"]] = frame["seq"]
    for cmid, seq in acked.items():
        assert retried[cmid] == seq, "an acknowledged message changed or vanished"
    await back.send({"t": "resume", "epoch": back.welcome["epoch"], "conversations": {cid: 0}})
    history = await back.expect("history", conversation=cid)
    bodies = [m["body"] for m in history["messages"] if m["kind"] == "text"]
    assert len(bodies) == len(set(bodies)) == 100

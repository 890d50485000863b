"""The delivery contract end to end: a real server, real sockets, a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from tests.harness import PapoteServer, agent, new_msg_id, visitor

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


async def start_conversation(server: PapoteServer, body: str = "hello") -> tuple[object, str]:
    v = await visitor(server)
    await v.send({"t": "resume", "epoch": v.welcome["epoch"], "conversations": {}})
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": body})
    ack = await v.expect("ack", ref=1)
    return v, ack["conversation"]


async def test_send_ack_deliver_both_ways(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    v, cid = await start_conversation(papote_server, "Do you ship to Lyon?")
    got = await a.expect("message", conversation=cid, kind="text")
    assert got["body"] == "Do you ship to Lyon?" and got["seq"] == 1 and got["author"]["kind"] == "visitor"
    await a.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Yes!"})
    ack = await a.expect("ack", ref=2)
    reply = await v.expect("message", body="Yes!")  # type: ignore[attr-defined]
    assert reply["seq"] == ack["seq"] and reply["author"]["name"] == "owner"


async def test_ack_means_on_disk(papote_server: PapoteServer) -> None:
    v, cid = await start_conversation(papote_server, "durable?")
    rows = papote_server.sql("SELECT body, seq FROM messages WHERE conversation_id=? AND kind='text'", cid)
    assert rows == [("durable?", 1)]


async def test_healthz_counts_the_commits_that_carried_the_acked_writes(papote_server: PapoteServer) -> None:
    before = papote_server.http("GET", "/healthz")[1]["store"]
    v, cid = await start_conversation(papote_server, "first")
    for ref in range(2, 12):  # sent together: group commit may carry several in one transaction
        await v.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(), "body": "more"})  # type: ignore[attr-defined]
    for ref in range(2, 12):
        await v.expect("ack", ref=ref)  # type: ignore[attr-defined]
    after = papote_server.http("GET", "/healthz")[1]["store"]
    commits, writes = after["commits"] - before["commits"], after["writes"] - before["writes"]
    assert writes >= 11 and 1 <= commits <= writes


async def test_frames_settled_together_leave_together_in_order(papote_server: PapoteServer) -> None:
    """A group commit settles a burst in one turn: its acks reach the sender, and its fan-outs the
    agent, in seq order, and each socket's frames of that turn leave in one write (/healthz counts
    frames and writes). Bursts are sent until one is seen gathered: a busy machine may read a burst
    over several turns, and then it is written over several too."""
    a = await agent(papote_server)
    v, cid = await start_conversation(papote_server, "first")
    await a.expect("message", conversation=cid, seq=1)
    last_seq = 1
    for burst in range(20):
        before = papote_server.http("GET", "/healthz")[1]["socket_writes"]
        refs = range(100 * burst + 100, 100 * burst + 120)
        for ref in refs:
            await v.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(),  # type: ignore[attr-defined]
                          "body": f"burst {burst} ref {ref}"})
        for ref in refs:
            await v.expect("ack", ref=ref)  # type: ignore[attr-defined]
            await a.expect("message", conversation=cid, body=f"burst {burst} ref {ref}")
        # In the order they arrived: each socket's frames in commit order.
        acks = [f["seq"] for f in v.frames if f["t"] == "ack" and f.get("ref") in refs]  # type: ignore[attr-defined]
        delivered = [f["seq"] for f in a.frames
                     if f["t"] == "message" and str(f.get("body", "")).startswith(f"burst {burst} ")]
        # Strictly increasing, not consecutive: routing may take a seq meanwhile (the agent's `assigned`).
        assert acks == delivered and len(acks) == 20 and acks == sorted(set(acks)) and acks[0] > last_seq
        last_seq = acks[-1]
        after = papote_server.http("GET", "/healthz")[1]["socket_writes"]
        frames, writes = after["frames"] - before["frames"], after["writes"] - before["writes"]
        assert frames >= 40 and writes <= frames
        if frames - writes >= 10:
            return
    raise AssertionError("no burst of 20 sends ever left in fewer writes than frames")


async def test_retry_of_an_unacked_send_is_stored_once(papote_server: PapoteServer) -> None:
    v, cid = await start_conversation(papote_server)
    cmid = new_msg_id()
    frame = {"t": "send", "conversation": cid, "client_msg_id": cmid, "body": "only once"}
    await v.send({**frame, "ref": 10})  # type: ignore[attr-defined]
    await v.ws.close()  # type: ignore[attr-defined]  # gone before (or as) the ack comes back
    again = await visitor(papote_server, token=v.welcome["token"])  # type: ignore[attr-defined]
    await again.send({**frame, "ref": 11})
    ack = await again.expect("ack", ref=11)
    await again.send({**frame, "ref": 12})
    assert (await again.expect("ack", ref=12))["seq"] == ack["seq"]
    await again.send({**frame, "ref": 13, "body": "different"})
    err = await again.expect("error", ref=13)
    assert err["code"] == "conflict"
    assert papote_server.sql("SELECT COUNT(*) FROM messages WHERE client_msg_id=?", cmid) == [(1,)]


async def test_first_message_retried_never_creates_two_conversations(papote_server: PapoteServer) -> None:
    v = await visitor(papote_server)
    cmid = new_msg_id()
    for ref in (1, 2):
        await v.send({"t": "send", "ref": ref, "conversation": None, "client_msg_id": cmid, "body": "hi"})
    first, second = await v.expect("ack", ref=1), await v.expect("ack", ref=2)
    assert first["conversation"] == second["conversation"] and first["seq"] == second["seq"] == 1


async def test_resume_gets_exactly_the_gap(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    v, cid = await start_conversation(papote_server)
    token, epoch = v.welcome["token"], v.welcome["epoch"]  # type: ignore[attr-defined]
    await a.expect("message", conversation=cid, kind="text")
    await v.send({"t": "read", "conversation": cid, "seq": 1})  # type: ignore[attr-defined]
    last_seen = max(f.get("seq", 0) for f in [*v.frames, {"seq": 1}])  # type: ignore[attr-defined]
    await v.ws.close()  # type: ignore[attr-defined]
    sent = []
    for i in range(5):
        await a.send({"t": "send", "ref": 100 + i, "conversation": cid, "client_msg_id": new_msg_id(),
                      "body": f"while you were away {i}"})
        sent.append((await a.expect("ack", ref=100 + i))["seq"])
    back = await visitor(papote_server, token=token)
    assert back.welcome["visitor"]["id"] == v.welcome["visitor"]["id"]  # type: ignore[attr-defined]
    [summary] = back.welcome["conversations"]
    assert summary["unread"] == 5 and summary["last_seq"] == sent[-1]
    await back.send({"t": "resume", "epoch": epoch, "conversations": {cid: last_seen}})
    history = await back.expect("history", conversation=cid)
    assert history["recovered"] is True
    texts = [m for m in history["messages"] if m["kind"] == "text"]
    assert [m["seq"] for m in texts] == sent
    assert all(m["seq"] > last_seen for m in history["messages"])


async def test_resume_with_another_epoch_is_not_recovered(papote_server: PapoteServer) -> None:
    v, cid = await start_conversation(papote_server)
    await v.send({"t": "resume", "epoch": "e_from_a_restored_backup", "conversations": {cid: 1}})  # type: ignore[attr-defined]
    history = await v.expect("history", conversation=cid)  # type: ignore[attr-defined]
    assert history["recovered"] is False and history["messages"][0]["seq"] == 1


async def test_read_positions_reach_the_other_side(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    v, cid = await start_conversation(papote_server)
    await a.expect("message", conversation=cid, kind="text")
    await a.send({"t": "read", "conversation": cid, "seq": 1})
    read = await v.expect("read", conversation=cid)  # type: ignore[attr-defined]
    assert read["seq"] == 1 and read["reader"]["kind"] == "agent"


async def test_two_tabs_of_one_visitor_stay_in_sync(papote_server: PapoteServer) -> None:
    v1, cid = await start_conversation(papote_server)
    v2 = await visitor(papote_server, token=v1.welcome["token"])  # type: ignore[attr-defined]
    await v2.send({"t": "resume", "epoch": v2.welcome["epoch"], "conversations": {cid: 0}})
    await v2.expect("history")
    await v1.send({"t": "send", "ref": 5, "conversation": cid, "client_msg_id": new_msg_id(), "body": "tab one"})  # type: ignore[attr-defined]
    echo = await v2.expect("message", body="tab one")
    assert echo["author"]["kind"] == "visitor"
    # The sending tab has its ack, not an echo.
    assert not [f for f in await v1.quiet(0.3) if f["t"] == "message" and f.get("body") == "tab one"]  # type: ignore[attr-defined]


async def test_typing_is_relayed_not_stored(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    v, cid = await start_conversation(papote_server)
    await a.expect("message", conversation=cid, kind="text")
    await v.send({"t": "typing", "conversation": cid, "on": True})  # type: ignore[attr-defined]
    typing = await a.expect("typing", conversation=cid)
    assert typing["on"] is True and typing["author"]["kind"] == "visitor"


async def test_notes_never_reach_the_visitor(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    v, cid = await start_conversation(papote_server)
    await a.expect("message", conversation=cid, kind="text")
    await a.send({"t": "send", "ref": 1, "conversation": cid, "client_msg_id": new_msg_id(),
                  "body": "VIP customer", "note": True})
    await a.expect("ack", ref=1)
    await a.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "body": "hello!"})
    await v.expect("message", body="hello!")  # type: ignore[attr-defined]
    assert all(f.get("body") != "VIP customer" for f in v.frames)  # type: ignore[attr-defined]
    await v.send({"t": "resume", "epoch": v.welcome["epoch"], "conversations": {cid: 0}})  # type: ignore[attr-defined]
    history = await v.expect("history", conversation=cid)  # type: ignore[attr-defined]
    assert "note" not in {m["kind"] for m in history["messages"]}


async def test_close_then_visitor_write_reopens(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    v, cid = await start_conversation(papote_server)
    await a.expect("message", conversation=cid, kind="text")
    await a.send({"t": "close", "ref": 1, "conversation": cid})
    await a.expect("ok", ref=1)
    closed = await v.expect("message", event="closed")  # type: ignore[attr-defined]
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "body": "wait!"})  # type: ignore[attr-defined]
    ack = await v.expect("ack", ref=2)  # type: ignore[attr-defined]
    assert ack["seq"] == closed["seq"] + 2
    # The agent stopped following the closed conversation; the reopening brings it back into view
    # (a `conversation` frame), live messages follow, and resume fills in the event it missed.
    summary = await a.expect("conversation")
    while summary["conversation"]["status"] != "open":
        summary = await a.expect("conversation")
    assert (await a.expect("message", body="wait!"))["seq"] == ack["seq"]
    await a.send({"t": "resume", "epoch": a.welcome["epoch"], "conversations": {cid: closed["seq"]}})
    history = await a.expect("history", conversation=cid)
    assert [m.get("event") for m in history["messages"]][:1] == ["reopened"]


async def test_many_visitors_concurrently(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    visitors = await asyncio.gather(*[start_conversation(papote_server, f"hi {i}") for i in range(20)])
    cids = {cid for _, cid in visitors}
    assert len(cids) == 20
    seen = set()
    while len(seen) < 20:
        m = await a.expect("message", kind="text")
        seen.add(m["conversation"])
    assert seen == cids


async def test_resume_during_live_traffic_is_in_order_and_once(papote_server: PapoteServer) -> None:
    a = await agent(papote_server)
    v, cid = await start_conversation(papote_server)
    token = v.welcome["token"]  # type: ignore[attr-defined]
    await a.expect("message", conversation=cid, kind="text")
    await v.ws.close()  # type: ignore[attr-defined]
    for i in range(30):  # a gap to replay
        await a.send({"t": "send", "conversation": cid, "client_msg_id": new_msg_id(), "body": f"gap {i}"})

    async def traffic() -> None:  # and messages still flowing while the visitor resumes
        for i in range(40):
            await a.send({"t": "send", "conversation": cid, "client_msg_id": new_msg_id(), "body": f"live {i}"})
            await asyncio.sleep(0.002)

    flowing = asyncio.create_task(traffic())
    back = await visitor(papote_server, token=token)
    await back.send({"t": "resume", "epoch": back.welcome["epoch"], "conversations": {cid: 1}})
    await flowing
    seqs: list[int] = []
    bodies: list[str] = []
    deadline = asyncio.get_running_loop().time() + 10
    while "live 39" not in bodies and asyncio.get_running_loop().time() < deadline:
        frame = await back.recv(5)
        batch = frame["messages"] if frame["t"] == "history" else [frame] if frame["t"] == "message" else []
        for m in batch:
            if m["kind"] == "text":
                seqs.append(m["seq"])
                bodies.append(m["body"])
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), "out of order or twice"
    assert bodies == [f"gap {i}" for i in range(30)] + [f"live {i}" for i in range(40)]


async def test_text_holding_u0000_is_refused_and_nothing_is_stored(papote_server: PapoteServer) -> None:
    """PostgreSQL cannot store U+0000: on every backend a frame or a request holding one gets
    `bad_field`, never an internal error, and what was there before is untouched."""
    v, cid = await start_conversation(papote_server, "before")
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),  # type: ignore[attr-defined]
                  "body": "a\x00b"})
    refused = await v.expect("error", ref=2)  # type: ignore[attr-defined]
    assert refused["code"] == "bad_field"
    await v.send({"t": "set", "ref": 3, "name": "N\x00", "attributes": {"plan": "pro\x00"}})  # type: ignore[attr-defined]
    assert (await v.expect("error", ref=3))["code"] == "bad_field"  # type: ignore[attr-defined]
    cookie = papote_server.login()
    status, body, _ = papote_server.http("PATCH", "/api/me", {"name": "x\x00y"}, cookie=cookie)
    assert (status, body["error"]["code"]) == (400, "bad_field")
    status, body, _ = papote_server.http("GET", "/api/conversations?q=%00", cookie=cookie)
    assert (status, body["error"]["code"]) == (400, "bad_field")
    assert papote_server.sql("SELECT body FROM messages WHERE conversation_id=? AND kind='text'", cid) == [("before",)]
    # The connection goes on.
    await v.send({"t": "send", "ref": 4, "conversation": cid, "client_msg_id": new_msg_id(), "body": "after"})  # type: ignore[attr-defined]
    assert (await v.expect("ack", ref=4))["seq"] == 2  # type: ignore[attr-defined]

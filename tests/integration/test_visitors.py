"""Who a visitor is, through a real server: identity switches on a shared browser, exactly-once across an
identify-merge, the limit on new anonymous visitors per client address, the JWT's `nbf`, and the
rating rules (one per closing, none while open)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from papote.identity import sign_jwt
from tests.harness import Client, PapoteServer, agent, identify, new_msg_id, visitor

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


async def say(client: Client, body: str, conversation: str | None = None, ref: int = 1) -> dict[str, Any]:
    await client.send({"t": "send", "ref": ref, "conversation": conversation, "client_msg_id": new_msg_id(),
                       "body": body})
    return await client.expect("ack", ref=ref)


def conversation_owner(server: PapoteServer, cookie: str, cid: str) -> str:
    status, body, _ = server.http("GET", f"/api/conversations/{cid}", cookie=cookie)
    assert status == 200, body
    return str(body["visitor"]["user_id"])


async def test_a_verified_visitor_identified_as_another_user_starts_fresh(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    shared = await visitor(server)  # a shared browser: the shop never calls Papote('reset')
    as_alice = await identify(server, shared, "alice")
    alice_conv = (await say(shared, "Alice's private question"))["conversation"]

    as_bob = await identify(server, shared, "bob", ref=91)
    assert as_bob["switched"] is True
    assert as_bob["visitor"]["id"] != as_alice["visitor"]["id"]
    assert as_bob["conversations"] == [], "Bob must not see Alice's conversations"
    assert as_bob["token"] != as_alice["token"]
    assert conversation_owner(server, cookie, alice_conv) == "alice"

    # Alice's own phone still has her conversation; Bob's other device has nothing of hers.
    phone = await visitor(server)
    assert [c["id"] for c in (await identify(server, phone, "alice"))["conversations"]] == [alice_conv]
    laptop = await visitor(server)
    assert (await identify(server, laptop, "bob"))["conversations"] == []
    # The token the shared browser held for Alice is revoked: it opens nobody's history now.
    again = await visitor(server, token=as_alice["token"])
    assert again.welcome["visitor"]["id"] not in (as_alice["visitor"]["id"], as_bob["visitor"]["id"])
    assert again.welcome["conversations"] == []


async def test_a_switch_to_a_known_user_shows_only_that_users_history(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    bobs_phone = await visitor(server)
    await identify(server, bobs_phone, "bob")
    bob_conv = (await say(bobs_phone, "Bob's order"))["conversation"]

    shared = await visitor(server)
    await identify(server, shared, "alice")
    alice_conv = (await say(shared, "Alice's order"))["conversation"]
    as_bob = await identify(server, shared, "bob", ref=91)
    assert as_bob["switched"] is True
    assert [c["id"] for c in as_bob["conversations"]] == [bob_conv]
    assert conversation_owner(server, cookie, alice_conv) == "alice"
    # Bob's live stream on the shared socket no longer carries Alice's conversation.
    agent_client = await agent(server, cookie)
    await agent_client.send({"t": "send", "ref": 5, "conversation": alice_conv, "client_msg_id": new_msg_id(),
                             "body": "Reply for Alice"})
    await agent_client.expect("ack", ref=5)
    await shared.send({"t": "ping", "n": 7})
    await shared.expect("pong", n=7)
    assert not [f for f in shared.frames if f["t"] == "message" and f.get("conversation") == alice_conv
                and f.get("body") == "Reply for Alice"]


async def test_anonymous_history_still_merges_into_the_identified_user(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    phone = await visitor(server)
    await identify(server, phone, "carol")
    known = (await say(phone, "From my phone"))["conversation"]
    laptop = await visitor(server)
    anonymous = (await say(laptop, "Before signing in"))["conversation"]
    merged = await identify(server, laptop, "carol")
    assert merged["switched"] is False
    assert {c["id"] for c in merged["conversations"]} == {known, anonymous}
    assert conversation_owner(server, cookie, anonymous) == "carol"


async def test_a_send_retried_after_an_identify_merge_is_stored_once(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    phone = await visitor(server)
    await identify(server, phone, "dana")  # Dana has a history: identifying merges into it
    laptop = await visitor(server)
    cmid = new_msg_id()
    send = {"t": "send", "ref": 1, "conversation": None, "client_msg_id": cmid, "body": "Where is my parcel?"}
    await laptop.send(send)
    first = await laptop.expect("ack", ref=1)
    other_tab = await visitor(server, token=laptop.welcome["token"])  # same browser, same storage
    identified = await identify(server, laptop, "dana")
    # The widget's outbox retries what it did not see acknowledged (the ack was lost, say).
    await laptop.send({**send, "ref": 2})
    retried = await laptop.expect("ack", ref=2)
    assert (retried["conversation"], retried["seq"]) == (first["conversation"], first["seq"])
    # The other tab spoke for the visitor merged away: it is told to reconnect, comes back as Dana
    # with the token the browser now holds, and its own retry is the same message again.
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await other_tab.recv(10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    back = await visitor(server, token=identified["token"])
    assert back.welcome["visitor"]["id"] == identified["visitor"]["id"]
    await back.send({**send, "ref": 3})
    again = await back.expect("ack", ref=3)
    assert (again["conversation"], again["seq"]) == (first["conversation"], first["seq"])
    status, body, _ = server.http("GET", f"/api/conversations/{first['conversation']}/messages?after_seq=0",
                                  cookie=cookie)
    assert status == 200
    assert [m["body"] for m in body["messages"] if m["kind"] == "text"] == ["Where is my parcel?"]


async def new_visitor_close_code(server: PapoteServer, address: str, token: str | None = None) -> int | None:
    """Open a visitor socket as if from `address` (uvicorn trusts X-Forwarded-For from loopback, like
    from a reverse proxy on the same host); None when it is welcomed."""
    import msgpack

    async with connect(server.ws_url + "/ws/visitor", origin=server.base_url,  # type: ignore[arg-type]
                       additional_headers={"x-forwarded-for": address}) as ws:
        hello: dict[str, Any] = {"t": "hello", "v": 1, "site": server.site_key}
        if token:
            hello["token"] = token
        await ws.send(msgpack.packb(hello))
        try:
            frame = msgpack.unpackb(await ws.recv(), raw=False)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        assert frame["t"] == "welcome"
        return None


async def test_new_anonymous_visitors_are_limited_per_client_address(tmp_path: Path, server_backend: str) -> None:
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_RATE_NEW_VISITORS": "5/10minute"}, backend=server_backend)
    try:
        server.init()
        server.start()
        assert [await new_visitor_close_code(server, "203.0.113.7") for _ in range(5)] == [None] * 5
        assert await new_visitor_close_code(server, "203.0.113.7") == 4008
        assert await new_visitor_close_code(server, "203.0.113.7") == 4008
        # Another address is not affected, and a returning visitor (a known token) is not a new one.
        assert await new_visitor_close_code(server, "198.51.100.20") is None
        known = await visitor(server)
        assert await new_visitor_close_code(server, "203.0.113.7", token=known.welcome["token"]) is None
    finally:
        server.close()


async def test_a_jwt_is_not_accepted_before_its_nbf(papote_server: PapoteServer) -> None:
    server = papote_server
    v = await visitor(server)
    now = int(time.time())
    early = sign_jwt(server.site_secret, {"sub": "erin", "exp": now + 7200, "nbf": now + 3600})
    await v.send({"t": "identify", "ref": 3, "user_id": "erin", "jwt": early})
    error = await v.expect("error", ref=3)
    assert error["code"] == "identity_rejected" and "nbf" in error["message"]
    valid = sign_jwt(server.site_secret, {"sub": "erin", "exp": now + 600, "nbf": now - 10})
    await v.send({"t": "identify", "ref": 4, "user_id": "erin", "jwt": valid})
    assert (await v.expect("identified", ref=4))["visitor"]["verified"] is True


async def test_one_rating_per_closing_and_none_while_open(papote_server: PapoteServer) -> None:
    server = papote_server
    v = await visitor(server)
    cid = (await say(v, "Hello"))["conversation"]
    await v.send({"t": "rate", "ref": 10, "conversation": cid, "rating": 5})
    assert (await v.expect("error", ref=10))["code"] == "conflict"

    staff = await agent(server)
    await staff.send({"t": "close", "ref": 1, "conversation": cid})
    await staff.expect("ok", ref=1)
    await v.send({"t": "rate", "ref": 11, "conversation": cid, "rating": 4, "comment": "good"})
    await v.expect("ok", ref=11)
    await v.send({"t": "rate", "ref": 12, "conversation": cid, "rating": 1})
    assert (await v.expect("error", ref=12))["code"] == "conflict"

    await staff.send({"t": "reopen", "ref": 2, "conversation": cid})
    await staff.expect("ok", ref=2)
    await staff.send({"t": "close", "ref": 3, "conversation": cid})
    await staff.expect("ok", ref=3)
    await v.send({"t": "rate", "ref": 13, "conversation": cid, "rating": 2})
    await v.expect("ok", ref=13)
    status, body, _ = server.http("GET", f"/api/conversations/{cid}/messages?after_seq=0", cookie=server.login())
    assert status == 200
    assert [m["data"]["rating"] for m in body["messages"] if m.get("event") == "rated"] == [4, 2]

"""Defences: origins, authorization across visitors and sites, bad input, lockout, revocation."""

from __future__ import annotations

import asyncio

import msgpack
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from papote.identity import sign_jwt, user_hash
from tests.harness import PapoteServer, agent, new_msg_id, visitor

pytestmark = pytest.mark.asyncio


async def close_code(server: PapoteServer, path: str, origin: str | None, first: bytes | None,
                     headers: dict[str, str] | None = None) -> int | None:
    async with connect(server.ws_url + path, origin=origin, additional_headers=headers or {}) as ws:  # type: ignore[arg-type]
        try:
            if first is not None:
                await ws.send(first)
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    return None


async def test_wrong_origin_is_refused(papote_server: PapoteServer) -> None:
    hello = msgpack.packb({"t": "hello", "v": 1, "site": papote_server.site_key})
    assert await close_code(papote_server, "/ws/visitor", "https://evil.example", hello) == 4003
    assert await close_code(papote_server, "/ws/visitor", None, hello) == 4003
    cookie = papote_server.login()
    assert await close_code(papote_server, "/ws/agent", "https://evil.example",
                            msgpack.packb({"t": "hello", "v": 1}), {"cookie": cookie}) == 4003


async def test_unknown_site_and_missing_session(papote_server: PapoteServer) -> None:
    hello = msgpack.packb({"t": "hello", "v": 1, "site": "pk_doesnotexist"})
    assert await close_code(papote_server, "/ws/visitor", papote_server.base_url, hello) == 4004
    assert await close_code(papote_server, "/ws/agent", papote_server.base_url,
                            msgpack.packb({"t": "hello", "v": 1})) == 4001
    assert await close_code(papote_server, "/ws/agent", papote_server.base_url,
                            msgpack.packb({"t": "hello", "v": 1}), {"cookie": "papote_session=forged"}) == 4001


async def test_bad_hello_and_version(papote_server: PapoteServer) -> None:
    url = papote_server.base_url
    assert await close_code(papote_server, "/ws/visitor", url, b"\xc1garbage") == 4000
    assert await close_code(papote_server, "/ws/visitor", url,
                            msgpack.packb({"t": "hello", "v": 9, "site": papote_server.site_key})) == 4005


async def test_bad_frames_are_answered_and_the_server_keeps_serving(papote_server: PapoteServer) -> None:
    v = await visitor(papote_server)
    for bad in [b"\xc1", b"\x93\x01", msgpack.packb([1, 2]), msgpack.packb({"t": "nope", "ref": 4}),
                msgpack.packb({"t": "send", "ref": 5, "client_msg_id": "x", "body": 3})]:
        await v.ws.send(bad)
        err = await v.expect("error")
        assert err["code"] in {"bad_frame", "unknown_type", "bad_field"}
    await v.ws.send("a text frame")
    assert (await v.expect("error"))["code"] == "bad_frame"
    await v.send({"t": "ping", "n": 1})
    assert (await v.expect("pong"))["n"] == 1
    other = await visitor(papote_server)
    await other.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "ok"})
    await other.expect("ack", ref=1)
    assert "Traceback" not in papote_server.logs()


async def test_a_frame_over_64k_closes_with_1009(papote_server: PapoteServer) -> None:
    v = await visitor(papote_server)
    await v.ws.send(b"\x00" * 70_000)
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await v.recv(5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009


async def test_another_visitors_conversation_looks_like_nothing(papote_server: PapoteServer) -> None:
    owner = await visitor(papote_server)
    await owner.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "mine"})
    cid = (await owner.expect("ack", ref=1))["conversation"]
    thief = await visitor(papote_server)
    for frame in [
        {"t": "send", "conversation": cid, "client_msg_id": new_msg_id(), "body": "hijack"},
        {"t": "fetch", "conversation": cid},
        {"t": "read", "conversation": cid, "seq": 1},
        {"t": "typing", "conversation": cid, "on": True},
        {"t": "rate", "conversation": cid, "rating": 1},
        {"t": "fetch", "conversation": "c_doesnotexist"},
    ]:
        await thief.send({**frame, "ref": 9})
        err = await thief.expect("error", ref=9)
        assert err["code"] == "not_found", frame
    await thief.send({"t": "resume", "epoch": "", "conversations": {cid: 0}})
    assert (await thief.expect("error"))["code"] == "not_found"
    assert not [f for f in thief.frames if f.get("body") == "mine"]


async def test_another_sites_agent_and_visitor_see_nothing(papote_server: PapoteServer) -> None:
    v = await visitor(papote_server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "site A"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    other_key = papote_server.cli("site", "create", "--name", "Site B",
                                  "--origin", papote_server.base_url).splitlines()[0]
    papote_server.cli("agent", "create", "--site", other_key, "--email", "b@papote.test",
                      "--password", "password-b-123", "--role", "owner")
    cookie_b = papote_server.login("b@papote.test", "password-b-123")
    b = await agent(papote_server, cookie_b)
    assert b.welcome["conversations"] == []
    for frame in [{"t": "claim", "conversation": cid}, {"t": "fetch", "conversation": cid},
                  {"t": "send", "conversation": cid, "client_msg_id": new_msg_id(), "body": "x"},
                  {"t": "subscribe", "conversations": [cid]}, {"t": "close", "conversation": cid}]:
        await b.send({**frame, "ref": 3})
        answer = await b.expect("error", ref=3) if frame["t"] != "subscribe" else await b.expect("ok", ref=3)
        assert answer["t"] == "ok" or answer["code"] == "not_found"
    # A visitor of site B cannot reach a conversation of site A either.
    vb = await visitor(papote_server, site=other_key)
    await vb.send({"t": "fetch", "ref": 4, "conversation": cid})
    assert (await vb.expect("error", ref=4))["code"] == "not_found"
    # Over HTTP, the same answer.
    for path in (f"/api/conversations/{cid}", f"/api/conversations/{cid}/messages",
                 f"/api/conversations/{cid}/transcript"):
        status, body, _ = papote_server.http("GET", path, cookie=cookie_b)
        assert status == 404 and body["error"]["code"] == "not_found"
    status, body, _ = papote_server.http("POST", f"/api/conversations/{cid}/messages",
                                         {"body": "x"}, cookie=cookie_b)
    assert status == 404
    status, body, _ = papote_server.http("GET", f"/api/sites/{papote_server.site_key}", cookie=cookie_b)
    assert status == 404
    status, body, _ = papote_server.http("GET", "/api/conversations", cookie=cookie_b)
    assert status == 200 and body["conversations"] == []
    # And the agent of site A does see it.
    status, body, _ = papote_server.http("GET", f"/api/conversations/{cid}", cookie=papote_server.login())
    assert status == 200 and body["id"] == cid
    await asyncio.sleep(0.2)
    assert not [f for f in b.frames if f.get("body") == "site A"]


async def test_login_lockout_after_ten_failures(papote_server: PapoteServer) -> None:
    for _ in range(10):
        status, body, _ = papote_server.http("POST", "/api/login",
                                             {"email": papote_server.agent_email, "password": "wrong-guess"})
        assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body, _ = papote_server.http("POST", "/api/login", {
        "email": papote_server.agent_email, "password": papote_server.agent_password})
    assert status == 423 and body["error"]["code"] == "locked"
    # Unknown accounts answer exactly like wrong passwords.
    status, body, _ = papote_server.http("POST", "/api/login", {"email": "nobody@x.test", "password": "whatever1"})
    assert status == 401 and body["error"]["code"] == "unauthorized"


async def test_logout_and_disable_close_agent_sockets(papote_server: PapoteServer) -> None:
    cookie = papote_server.login()
    a = await agent(papote_server, cookie)
    status, _, _ = papote_server.http("POST", "/api/logout", {}, cookie=cookie)
    assert status == 200
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await a.recv(5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4010
    status, _, _ = papote_server.http("GET", "/api/me", cookie=cookie)
    assert status == 401
    # Disabling an agent on a site closes their sockets that carry it (4012: reconnect without the site).
    papote_server.cli("agent", "create", "--site", papote_server.site_key, "--email", "c@papote.test",
                      "--password", "password-c-123", "--role", "agent")
    cookie_c = papote_server.login("c@papote.test", "password-c-123")
    c = await agent(papote_server, cookie_c)
    owner = papote_server.login()
    status, me, _ = papote_server.http("GET", "/api/me", cookie=cookie_c)
    agent_id = me["agent"]["id"]
    status, _, _ = papote_server.http("PATCH", f"/api/sites/{papote_server.site_key}/agents/{agent_id}",
                                      {"disabled": True}, cookie=owner)
    assert status == 200
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await c.recv(5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4012


async def test_http_writes_need_json(papote_server: PapoteServer) -> None:
    cookie = papote_server.login()
    status, body, _ = papote_server.http("POST", "/api/sites", None, cookie=cookie,
                                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert status == 400 and body["error"]["code"] == "bad_frame"


async def test_identity_verification(papote_server: PapoteServer) -> None:
    v = await visitor(papote_server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "anon"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    await v.send({"t": "identify", "ref": 2, "user_id": "u-42", "hash": "0" * 64})
    assert (await v.expect("error", ref=2))["code"] == "identity_rejected"
    good = user_hash(papote_server.site_secret, "u-42")
    await v.send({"t": "identify", "ref": 3, "user_id": "u-42", "hash": good, "name": "Ada"})
    identified = await v.expect("identified", ref=3)
    assert identified["visitor"]["verified"] and identified["visitor"]["name"] == "Ada"
    assert [c["id"] for c in identified["conversations"]] == [cid]
    # The pre-identification token no longer works (rotated).
    stale = await visitor(papote_server, token=v.welcome["token"])
    assert stale.welcome["visitor"]["id"] != identified["visitor"]["id"]
    # Another device, another anonymous visitor, identifies with a JWT: the history follows.
    phone = await visitor(papote_server)
    import time

    jwt = sign_jwt(papote_server.site_secret, {"sub": "u-42", "exp": int(time.time()) + 600})
    await phone.send({"t": "identify", "ref": 4, "user_id": "u-42", "jwt": jwt})
    again = await phone.expect("identified", ref=4)
    assert again["visitor"]["id"] == identified["visitor"]["id"]
    assert cid in [c["id"] for c in again["conversations"]]
    await phone.send({"t": "fetch", "ref": 5, "conversation": cid})
    history = await phone.expect("history", conversation=cid)
    assert history["messages"][0]["body"] == "anon"


async def test_continue_on_another_device_with_a_link_code(papote_server: PapoteServer) -> None:
    laptop = await visitor(papote_server)
    await laptop.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(),
                       "body": "from laptop"})
    cid = (await laptop.expect("ack", ref=1))["conversation"]
    await laptop.send({"t": "link", "ref": 2})
    link = await laptop.expect("link", ref=2)
    phone = await visitor(papote_server, link_code=link["code"])
    assert phone.welcome["visitor"]["id"] == laptop.welcome["visitor"]["id"]
    assert phone.welcome["token"] != laptop.welcome["token"]
    assert [c["id"] for c in phone.welcome["conversations"]] == [cid]
    # Single use.
    thief = await visitor(papote_server, link_code=link["code"])
    assert thief.welcome["visitor"]["id"] != laptop.welcome["visitor"]["id"]


async def test_token_never_in_a_url(papote_server: PapoteServer) -> None:
    v = await visitor(papote_server)
    assert v.welcome["token"] not in papote_server.logs()


async def test_unknown_http_route_and_bad_json(papote_server: PapoteServer) -> None:
    status, body, _ = papote_server.http("POST", "/api/login", None, headers={"content-type": "application/json"})
    assert status == 400
    import urllib.request

    req = urllib.request.Request(papote_server.base_url + "/api/login", data=b"{not json", method="POST",
                                 headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    info.value.close()
    assert info.value.code == 400
    with pytest.raises(InvalidStatus):
        async with connect(papote_server.ws_url + "/ws/nothing"):
            pass

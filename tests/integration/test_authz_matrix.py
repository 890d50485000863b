"""The authorization matrix: every frame type and every HTTP route × every foreign principal.

Generated from the protocol's frame tables and the REST API's endpoint list, so a new frame type or
route joins the matrix by itself — and fails here until it is classified below. Each foreign cell must
be denied with exactly the answer a conversation (or site, or visitor) that does not exist gets.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from papote.protocol import Endpoint, frame_types
from papote.web.api import all_endpoints
from tests.harness import Client, PapoteServer, agent, new_msg_id, visitor

#: How each conversation-scoped frame is built against a target conversation id.
SCOPED: dict[str, Any] = {
    "resume": lambda cid: {"epoch": "", "conversations": {cid: 0}},
    "fetch": lambda cid: {"conversation": cid},
    "send": lambda cid: {"conversation": cid, "client_msg_id": new_msg_id(), "body": "x"},
    "typing": lambda cid: {"conversation": cid, "on": True},
    "read": lambda cid: {"conversation": cid, "seq": 1},
    "rate": lambda cid: {"conversation": cid, "rating": 3},
    "contact": lambda cid: {"conversation": cid, "email": "a@b.test"},
    "subscribe": lambda cid: {"conversations": [cid]},
    "unsubscribe": lambda cid: {"conversations": [cid]},
    "claim": lambda cid: {"conversation": cid},
    "assign": lambda cid: {"conversation": cid, "agent": "a_whoever"},
    "transfer": lambda cid: {"conversation": cid, "agent": "a_whoever", "note": "n"},
    "close": lambda cid: {"conversation": cid},
    "reopen": lambda cid: {"conversation": cid},
    "label": lambda cid: {"conversation": cid, "add": ["vip"]},
}
#: Frames that name no conversation: they act on the sender itself (tested elsewhere).
UNSCOPED = {"hello", "ping", "page", "identify", "set", "track", "link", "status"}
#: Frames whose foreign answer is silence rather than an error (nothing is delivered: checked below).
SILENT = {"unsubscribe"}


def test_every_frame_type_is_classified() -> None:
    for endpoint in Endpoint:
        for kind in frame_types(endpoint):
            assert kind in SCOPED or kind in UNSCOPED, f"classify the new frame type {kind!r} in this matrix"


async def answer_to(client: Client, kind: str, fields: dict[str, Any], ref: int) -> tuple[str, str | None]:
    await client.send({"t": kind, "ref": ref, **fields})
    while True:
        frame = await client.recv(5)
        if frame["t"] == "error" and (frame.get("ref") == ref or frame.get("frame") == kind):
            return "error", frame["code"]
        if frame["t"] in ("ok", "ack", "history") and frame.get("ref", ref) == ref:
            return frame["t"], None


@pytest.mark.asyncio
async def test_websocket_matrix(papote_server: PapoteServer) -> None:
    server = papote_server
    owner = await visitor(server)
    await owner.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "secret"})
    cid = (await owner.expect("ack", ref=1))["conversation"]
    site_b = server.cli("site", "create", "--name", "B", "--origin", server.base_url).splitlines()[0]
    server.cli("agent", "create", "--site", site_b, "--email", "b@papote.test", "--password", "password-b-1",
               "--role", "owner")
    foreigners = {
        "same-site visitor": await visitor(server),
        "other-site visitor": await visitor(server, site=site_b),
        "other-site agent": await agent(server, server.login("b@papote.test", "password-b-1")),
    }
    ref = 100
    for who, client in foreigners.items():
        endpoint = "agent" if who.endswith("agent") else "visitor"
        kinds = frame_types(Endpoint.AGENT if endpoint == "agent" else Endpoint.VISITOR)
        for kind in sorted(k for k in kinds if k in SCOPED):
            ref += 1
            foreign = await answer_to(client, kind, SCOPED[kind](cid), ref)
            ref += 1
            missing = await answer_to(client, kind, SCOPED[kind]("c_doesnotexist"), ref)
            assert foreign == missing, f"{who} / {kind}: {foreign} differs from a missing conversation {missing}"
            if kind not in SILENT and kind != "subscribe":
                assert foreign == ("error", "not_found"), f"{who} / {kind}: {foreign}"
    # Whatever they asked, none of them received a byte of the conversation.
    await owner.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "body": "later"})
    await owner.expect("ack", ref=2)
    await asyncio.sleep(0.3)
    for who, client in foreigners.items():
        await client.quiet(0.2)
        leaked = [f for f in client.frames if f.get("body") in ("secret", "later")
                  or (f.get("conversation") == cid and f["t"] in ("message", "typing", "read", "history"))]
        assert not leaked, f"{who} received {leaked}"


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "x_doesnotexist"), path)


@pytest.mark.asyncio
async def test_http_matrix(papote_server: PapoteServer) -> None:
    server = papote_server
    owner_cookie = server.login()
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "secret"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    vid = v.welcome["visitor"]["id"]
    site_b = server.cli("site", "create", "--name", "B", "--origin", server.base_url).splitlines()[0]
    server.cli("agent", "create", "--site", site_b, "--email", "b@papote.test", "--password", "password-b-1",
               "--role", "owner")
    cookie_b = server.login("b@papote.test", "password-b-1")
    status, key_b, _ = server.http("POST", f"/api/sites/{site_b}/keys", {"name": "B"}, cookie=cookie_b)
    assert status == 201
    principals = {
        "other-site agent": {"cookie": cookie_b},
        "other-site API key": {"headers": {"authorization": f"Bearer {key_b['key']}"}},
    }
    real = {"cid": cid, "key": server.site_key, "vid": vid, "action": "close"}
    fake = {"cid": "c_doesnotexist", "key": "pk_doesnotexist", "vid": "v_doesnotexist", "action": "close"}
    bodies = {"POST": {"body": "x", "name": "n", "shortcut": "s", "email": "e@x.test", "agent": "a_x",
                       "password": "password-x-1"},
              "PATCH": {"name": "n"}, "DELETE": None, "GET": None}
    checked = 0
    for ep in all_endpoints():
        if ep.auth == "none" or not re.search(r"{(cid|key|vid)}", ep.path):
            continue  # not about a site's resource: sign-in, my own account, the OpenAPI document
        for who, auth in principals.items():
            answers = []
            for values in (real, fake):
                status, body, _ = server.http(ep.method, fill(ep.path, values), bodies[ep.method], **auth)
                code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
                answers.append((status, code))
            assert answers[0] == answers[1], f"{who} {ep.method} {ep.path}: {answers[0]} vs missing {answers[1]}"
            assert answers[0][0] in (401, 404), f"{who} {ep.method} {ep.path}: {answers[0]}"
            checked += 1
    assert checked >= 20
    # And the owner does get through, so the matrix is not denying everyone.
    status, body, _ = server.http("GET", f"/api/conversations/{cid}", cookie=owner_cookie)
    assert status == 200 and body["id"] == cid

"""The authorization matrix: every frame type and every HTTP route × every foreign principal.

Generated from the protocol's frame tables and the REST API's endpoint list, so a new frame type or
route joins the matrix by itself — and fails here until it is classified below. Each foreign cell must
be denied with exactly the answer a conversation (or site, or visitor) that does not exist gets.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from papote.config import Config
from papote.protocol import Endpoint, frame_types
from papote.web.api import all_endpoints
from tests.harness import Client, PapoteServer, agent, new_msg_id, visitor

pytestmark = pytest.mark.both_backends

#: How each conversation-scoped frame is built against a target conversation id.
SCOPED: dict[str, Any] = {
    "resume": lambda cid: {"epoch": "", "conversations": {cid: 0}},
    "fetch": lambda cid: {"conversation": cid},
    "send": lambda cid: {"conversation": cid, "client_msg_id": new_msg_id(), "body": "x"},
    "typing": lambda cid: {"conversation": cid, "on": True},
    "read": lambda cid: {"conversation": cid, "seq": 1},
    "rate": lambda cid: {"conversation": cid, "rating": 3},
    "nps": lambda cid: {"conversation": cid, "survey": "n_whatever", "score": 9},
    "transcript": lambda cid: {"conversation": cid},
    "contact": lambda cid: {"conversation": cid, "email": "a@b.test"},
    "subscribe": lambda cid: {"conversations": [cid]},
    "unsubscribe": lambda cid: {"conversations": [cid]},
    "claim": lambda cid: {"conversation": cid},
    "assign": lambda cid: {"conversation": cid, "agent": "a_whoever"},
    "transfer": lambda cid: {"conversation": cid, "agent": "a_whoever", "note": "n"},
    "close": lambda cid: {"conversation": cid},
    "reopen": lambda cid: {"conversation": cid},
    "snooze": lambda cid: {"conversation": cid, "until": int(time.time() * 1000) + 3_600_000},
    "unsnooze": lambda cid: {"conversation": cid},
    "label": lambda cid: {"conversation": cid, "add": ["vip"]},
}
#: Frames that name no conversation: they act on the sender itself (tested elsewhere).
UNSCOPED = {"hello", "ping", "page", "identify", "set", "track", "link", "redeem", "fired", "status"}
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


#: Routes whose body must name something of the site to pass validation: the generic body would be
#: refused with `bad_field` before authorization is even asked (a merge names the contact merged away).
ROUTE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/visitors/{vid}/merge"): {"from": "{vid}"},
    ("POST", "/api/conversations/{cid}/snooze"): {"until": int(time.time() * 1000) + 3_600_000},
}


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
    # A file sent in the conversation: its routes join the matrix ({attachment_id}).
    upload = urllib.request.Request(f"{server.base_url}/api/widget/{server.site_key}/attachments?name=a.txt",
                                    data=b"a file", method="POST",
                                    headers={"authorization": f"Bearer {v.welcome['token']}"})
    with urllib.request.urlopen(upload, timeout=10) as answer:
        attachment_id = json.loads(answer.read())["id"]
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),
                  "attachments": [attachment_id]})
    await v.expect("ack", ref=2)
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
    real = {"cid": cid, "key": server.site_key, "vid": vid, "action": "close", "attachment_id": attachment_id}
    fake = {"cid": "c_doesnotexist", "key": "pk_doesnotexist", "vid": "v_doesnotexist", "action": "close",
            "attachment_id": "at_doesnotexist"}
    bodies = {"POST": {"body": "x", "name": "n", "shortcut": "s", "email": "e@x.test", "agent": "a_x",
                       "password": "password-x-1"},
              "PATCH": {"name": "n"}, "DELETE": None, "GET": None}
    checked = 0
    for ep in all_endpoints():
        if ep.auth == "none" or not re.search(r"{(cid|key|vid|attachment_id)}", ep.path):
            continue  # not about a site's resource: sign-in, my own account, the OpenAPI document
        for who, auth in principals.items():
            answers = []
            for values in (real, fake):
                body_in = ROUTE_BODIES.get((ep.method, ep.path), bodies[ep.method])
                if isinstance(body_in, dict) and (ep.method, ep.path) in ROUTE_BODIES:
                    body_in = {k: fill(v, values) if isinstance(v, str) else v for k, v in body_in.items()}
                status, body, _ = server.http(ep.method, fill(ep.path, values), body_in, **auth)
                code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
                answers.append((status, code))
            assert answers[0] == answers[1], f"{who} {ep.method} {ep.path}: {answers[0]} vs missing {answers[1]}"
            assert answers[0][0] in (401, 404), f"{who} {ep.method} {ep.path}: {answers[0]}"
            checked += 1
    assert checked >= 20
    # And the owner does get through, so the matrix is not denying everyone.
    status, body, _ = server.http("GET", f"/api/conversations/{cid}", cookie=owner_cookie)
    assert status == 200 and body["id"] == cid
    status, _, _ = server.http("GET", f"/api/attachments/{attachment_id}", cookie=owner_cookie)
    assert status == 200


# -- the team matrix: every route that acts on a member or an invitation ---------------------------------

#: How each route that acts on an agent is called, and what an admin of the site gets for a member of
#: lower rank (the other cells are the same for every route: 403 for equal or higher rank, and for a
#: member of another site or an account on no site, exactly what an id that does not exist gets).
ON_AGENT: dict[tuple[str, str], tuple[Any, int]] = {
    ("PATCH", "/api/sites/{key}/agents/{agent_id}"): ({"disabled": True}, 200),
    ("DELETE", "/api/sites/{key}/agents/{agent_id}"): (None, 200),
    ("POST", "/api/sites/{key}/transfer"): ({"agent": "{agent_id}"}, 403),  # only an owner hands over
}
#: Routes naming an invitation: its own site's (or its own email's) works, any other is a missing one.
ON_INVITE: dict[tuple[str, str], Any] = {
    ("DELETE", "/api/sites/{key}/invites/{invite_id}"): None,
    ("POST", "/api/me/invites/{invite_id}/accept"): {},
    ("POST", "/api/me/invites/{invite_id}/decline"): {},
}


def acts_on_agent(ep: Any) -> bool:
    """A site's route that names a member: in its path, or as the `agent` field of its body."""
    body = ep.body_schema(Config()) or {}
    return ep.path.startswith("/api/sites/{key}") and ("{agent_id}" in ep.path or "agent" in body.get("properties", {}))


def test_every_route_acting_on_a_member_or_an_invitation_is_classified() -> None:
    for ep in all_endpoints():
        if acts_on_agent(ep):
            assert (ep.method, ep.path) in ON_AGENT, f"classify {ep.method} {ep.path} in ON_AGENT"
        if "{invite_id}" in ep.path:
            assert (ep.method, ep.path) in ON_INVITE, f"classify {ep.method} {ep.path} in ON_INVITE"


def _call(server: PapoteServer, method: str, path: str, body: Any, key: str, agent_id: str,
          cookie: str) -> tuple[int, str | None]:
    if isinstance(body, dict):
        body = {k: (agent_id if v == "{agent_id}" else v) for k, v in body.items()}
    status, answer, _ = server.http(method, fill(path, {"key": key, "agent_id": agent_id}), body, cookie=cookie)
    return status, answer["error"]["code"] if isinstance(answer, dict) and "error" in answer else None


def _account(server: PapoteServer, site: str, email: str, role: str) -> tuple[str, str]:
    server.cli("agent", "create", "--site", site, "--email", email, "--password", "matrix-password", "--role", role)
    cookie = server.login(email, "matrix-password")
    _, me, _ = server.http("GET", "/api/me", cookie=cookie)
    return str(me["agent"]["id"]), cookie


def test_team_matrix(papote_server: PapoteServer) -> None:
    server = papote_server
    site = server.site_key
    owner = server.login()
    _, me, _ = server.http("GET", "/api/me", cookie=owner)
    owner_id = me["agent"]["id"]
    site_b = server.cli("site", "create", "--name", "B", "--origin", server.base_url).splitlines()[0]
    _, admin = _account(server, site, "admin@papote.test", "admin")
    admin2_id, _ = _account(server, site, "admin2@papote.test", "admin")
    foreign_id, foreign = _account(server, site_b, "foreign@papote.test", "owner")
    # An account on no site: it joined B by invitation, then left.
    _, invite, _ = server.http("POST", f"/api/sites/{site_b}/invites", {"email": "loner@papote.test"}, cookie=foreign)
    status, _, headers = server.http("POST", "/api/invites/accept", {"token": invite["token"], "name": "Loner",
                                                                     "password": "matrix-password"})
    assert status == 200
    loner = headers["set-cookie"].split(";")[0]
    _, me, _ = server.http("GET", "/api/me", cookie=loner)
    loner_id = me["agent"]["id"]
    assert server.http("DELETE", f"/api/sites/{site_b}/agents/{loner_id}", cookie=loner)[0] == 200

    checked = 0
    for ep in all_endpoints():
        if not acts_on_agent(ep):
            continue
        body, lower_answer = ON_AGENT[(ep.method, ep.path)]
        lower_id, _ = _account(server, site, f"lower-{checked}@papote.test", "agent")
        missing = _call(server, ep.method, ep.path, body, site, "a_doesnotexist", admin)
        cells: dict[str, tuple[str, Any]] = {
            "same site, lower rank": (lower_id, lower_answer),
            "same site, equal rank": (admin2_id, (403, "forbidden")),
            "same site, higher rank": (owner_id, (403, "forbidden")),
            "another site": (foreign_id, missing),
            "no membership": (loner_id, missing),
        }
        for cell, (target, expected) in cells.items():
            got = _call(server, ep.method, ep.path, body, site, target, admin)
            assert (got[0] if isinstance(expected, int) else got) == expected, (
                f"admin {ep.method} {ep.path} on {cell}: {got}, expected {expected}")
        assert missing[0] in (403, 404), f"{ep.method} {ep.path}: a missing agent gives {missing}"
        # The owner of another site gets nothing here, whoever the target.
        for target in (lower_id, admin2_id, owner_id):
            got = _call(server, ep.method, ep.path, body, site, target, foreign)
            assert got == (404, "not_found"), f"another site's owner {ep.method} {ep.path}: {got}"
        checked += 1
    assert checked == len(ON_AGENT)
    # An owner, though, does hand the site over to a member of lower rank.
    lower_id, _ = _account(server, site, "heir@papote.test", "admin")
    assert _call(server, "POST", "/api/sites/{key}/transfer", {"agent": lower_id}, site, lower_id, owner)[0] == 200

    # Invitations: one of this site for the loner, one of site B for the admin's email.
    _, mine, _ = server.http("POST", f"/api/sites/{site}/invites", {"email": "loner@papote.test"}, cookie=admin)
    _, theirs, _ = server.http("POST", f"/api/sites/{site_b}/invites", {"email": "admin@papote.test"},
                               cookie=foreign)
    for (method, path), body in ON_INVITE.items():
        for who, cookie, foreign_invite in (("admin", admin, mine["id"] if "/me/" in path else theirs["id"]),
                                            ("other-site owner", foreign, mine["id"])):
            values = {"key": site if who == "admin" else site_b, "invite_id": foreign_invite}
            got = server.http(method, fill(path, values), body, cookie=cookie)[:2]
            none = server.http(method, fill(path, {**values, "invite_id": "i_doesnotexist"}), body, cookie=cookie)[:2]
            assert (got[0], got[1]["error"]["code"]) == (none[0], none[1]["error"]["code"]) == (404, "not_found"), (
                f"{who} {method} {path} on another's invitation: {got} vs {none}")
    # ...while the loner's own invitation is theirs to accept.
    assert server.http("POST", f"/api/me/invites/{mine['id']}/accept", {}, cookie=loner)[0] == 200


# -- my devices (Web Push): every route naming a device is its owner's only ------------------------------

#: How each route naming a device is called: another agent's device must be answered as a missing one.
ON_DEVICE: dict[tuple[str, str], Any] = {
    ("PATCH", "/api/me/devices/{device_id}"): {"alerts": {"transfer": False}},
    ("DELETE", "/api/me/devices/{device_id}"): None,
}


def test_every_route_naming_a_device_is_classified() -> None:
    for ep in all_endpoints():
        if "{device_id}" in ep.path:
            assert (ep.method, ep.path) in ON_DEVICE, f"classify {ep.method} {ep.path} in ON_DEVICE"


def test_device_matrix(tmp_path: Any, server_backend: str) -> None:
    endpoint = "https://fcm.googleapis.com/fcm/send/matrix"
    server = PapoteServer(tmp_path, backend=server_backend)
    try:
        server.init()
        server.start()
        owner = server.login()
        keys = {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                "auth": "tBHItJI5svbpez7KI4CCXg"}
        status, device, _ = server.http("POST", "/api/me/devices", {"endpoint": endpoint, "keys": keys}, cookie=owner)
        assert status == 201, device
        site_b = server.cli("site", "create", "--name", "B", "--origin", server.base_url).splitlines()[0]
        for email, site in (("same@papote.test", server.site_key), ("other@papote.test", site_b)):
            server.cli("agent", "create", "--site", site, "--email", email, "--password", "matrix-password",
                       "--role", "owner")
            cookie = server.login(email, "matrix-password")
            for (method, path), body in ON_DEVICE.items():
                got = server.http(method, fill(path, {"device_id": device["id"]}), body, cookie=cookie)[:2]
                none = server.http(method, fill(path, {"device_id": "ps_doesnotexist"}), body, cookie=cookie)[:2]
                assert (got[0], got[1]["error"]["code"]) == (none[0], none[1]["error"]["code"]) == (404, "not_found")
            assert server.http("GET", "/api/me/devices", cookie=cookie)[1] == {"devices": []}
        # Untouched, and still the owner's to change.
        assert server.http("GET", "/api/me/devices", cookie=owner)[1]["devices"] == [device]
        assert server.http("PATCH", f"/api/me/devices/{device['id']}", {"alerts": {"transfer": False}},
                           cookie=owner)[0] == 200
    finally:
        server.close()
# -- pages reached by a signed token rather than a session (docs/channels.md) ------------------------------

#: Each page and the purpose its token is signed for. A token forged, signed by another site, or naming
#: nothing gets the same 404 and changes nothing.
TOKEN_PAGES = {"/email/confirm": "confirm", "/email/unsubscribe": "unsubscribe", "/email/nps": "nps"}


def test_every_token_page_is_classified() -> None:
    from papote.app import create_app

    paths = {getattr(r, "path", "") for r in create_app(Config()).routes}
    assert {p for p in paths if p.startswith("/email/")} == set(TOKEN_PAGES)
    assert {p for p in paths if p.startswith("/password/")} == RESET_PAGES


#: Mail providers' webhooks: each authenticated by the provider's own credentials, its site named by the
#: mail's recipient (tests/integration/test_email_webhook.py: no or wrong credentials 401 and nothing
#: stored, a recipient that is no site's 403 — 406 for Mailgun, its "stop retrying"). Unconfigured, a
#: webhook is a route that does not exist.
WEBHOOKS = {("POST", "/api/webhooks/postmark/inbound"), ("POST", "/api/webhooks/mailgun/inbound")}


def test_every_webhook_is_classified() -> None:
    assert {(ep.method, ep.path) for ep in all_endpoints() if ep.path.startswith("/api/webhooks/")} == WEBHOOKS


def test_an_unconfigured_webhook_does_not_exist(papote_server: PapoteServer) -> None:
    for method, path in WEBHOOKS:
        status, body, _ = papote_server.http(method, path, {"FromFull": {"Email": "a@b.test"}})
        assert status == 404 and body["error"]["code"] == "not_found", (method, path)


#: Pages reached by an agent's password reset token (random, stored as a digest: not signed by a site).
RESET_PAGES = {"/password/reset"}


def test_reset_page_matrix(papote_server: PapoteServer) -> None:
    """A reset token unknown, made up or of another shape gets 404 on the page and on the JSON route, and
    changes no password (a genuine one: tests/integration/test_agent_mail.py)."""
    server = papote_server
    before = server.sql("SELECT id, password_hash FROM agents")
    for token in ("pr_doesnotexist-but-looks-right-0123456789abcdefghijklmnop", "x", ""):
        for method in ("GET", "POST"):
            status, _, _ = server.http(method, f"/password/reset?t={token}")
            assert status in (400, 404), f"{method} /password/reset?t={token!r}: {status}"
        status, _, _ = server.http("POST", "/api/password/reset", {"token": token, "password": "password-x-1"})
        assert status in (400, 404)
    assert server.sql("SELECT id, password_hash FROM agents") == before


def test_token_page_matrix(papote_server: PapoteServer) -> None:
    from papote.channels.email.tokens import LinkClaim, sign_link

    server = papote_server
    cookie = server.login()
    _, site_a, _ = server.http("GET", f"/api/sites/{server.site_key}", cookie=cookie)
    status, site_b, _ = server.http("POST", "/api/sites", {"name": "B", "origins": [server.base_url]}, cookie=cookie)
    assert status == 201
    for path, purpose in TOKEN_PAGES.items():
        # An NPS link also names its survey (a POST without a score only shows the form again).
        claim = LinkClaim(purpose, site_a["id"], "ann@example.test", "v_x", 2**60, "n_x" if purpose == "nps" else "")
        forged = {
            "another site's secret": sign_link(site_b["secrets"][0], claim),
            "a made-up secret": sign_link("not-a-secret", claim),
            "a site that does not exist": sign_link(site_b["secrets"][0], LinkClaim(
                purpose, "s_doesnotexist", "ann@example.test", "v_x", 2**60)),
            "another purpose": sign_link(site_a["secrets"][0], LinkClaim(
                "unsubscribe" if purpose == "confirm" else "confirm", site_a["id"], "ann@example.test", "", 2**60)),
            "garbage": "x_doesnotexist",
        }
        before = server.sql("SELECT site_id, email, state FROM email_addresses")
        for who, token in forged.items():
            for method in ("GET", "POST"):
                status, _, _ = server.http(method, f"{path}?t={token}")
                assert status == 404, f"{who} {method} {path}: {status}"
        assert server.sql("SELECT site_id, email, state FROM email_addresses") == before, path
        # The genuine token does get through, so the matrix is not denying everyone.
        status, _, _ = server.http("POST", f"{path}?t={sign_link(site_a['secrets'][0], claim)}")
        assert status == 200, path


# -- signed file links: the signature of the file's own site, unexpired, and nothing else ----------------

#: Routes that open a file by a signed, expiring link (papote/attachments/links.py), no session needed.
FILE_LINKS = {"/files/{attachment_id}"}


def test_every_file_link_route_is_classified() -> None:
    from papote.app import create_app

    paths = {getattr(r, "path", "") for r in create_app(Config()).routes}
    assert {p for p in paths if p.startswith("/files/")} == FILE_LINKS


@pytest.mark.asyncio
async def test_file_link_matrix(papote_server: PapoteServer) -> None:
    """A file link opens its one file while its signature (by the file's site) holds and it has not
    expired. Another site's secret, a made-up one, a tampered expiry, an expired link, an unsent upload and
    a file that does not exist all get the same 404; the genuine link gets the file."""
    from papote.attachments.links import file_link, signature
    from papote.ids import now_ms

    server = papote_server
    cookie = server.login()
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hi"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    ids = []
    for name in ("sent.txt", "unsent.txt"):
        upload = urllib.request.Request(f"{server.base_url}/api/widget/{server.site_key}/attachments?name={name}",
                                        data=b"a file", method="POST",
                                        headers={"authorization": f"Bearer {v.welcome['token']}"})
        with urllib.request.urlopen(upload, timeout=10) as answer:
            ids.append(json.loads(answer.read())["id"])
    sent, unsent = ids
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "attachments": [sent]})
    await v.expect("ack", ref=2)
    _, site_a, _ = server.http("GET", f"/api/sites/{server.site_key}", cookie=cookie)
    _, site_b, _ = server.http("POST", "/api/sites", {"name": "B", "origins": [server.base_url]}, cookie=cookie)
    secret = site_a["secrets"][0]
    later = now_ms() + 600_000

    def get(url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            with exc:
                return int(exc.code)

    base = f"{server.base_url}/files/{sent}"
    forged = {
        "another site's secret": file_link(server.base_url, site_b["secrets"][0], sent, later),
        "a made-up secret": file_link(server.base_url, "not-a-secret", sent, later),
        "a tampered expiry": f"{base}?e={later + 1}&s={signature(secret, sent, later)}",
        "an expired link": file_link(server.base_url, secret, sent, now_ms() - 1),
        "another file's signature": f"{base}?e={later}&s={signature(secret, unsent, later)}",
        "an unsent upload": file_link(server.base_url, secret, unsent, later),
        "a file that does not exist": file_link(server.base_url, secret, "at_doesnotexist", later),
        "no signature": f"{base}?e={later}",
        "garbage": f"{base}?e=x&s=y",
    }
    for who, url in forged.items():
        assert get(url) == 404, who
    assert get(file_link(server.base_url, secret, sent, later)) == 200  # not denying everyone


# -- messaging webhooks: each account's own signature, nothing else ---------------------------------------

def test_channel_webhook_matrix(papote_server: PapoteServer) -> None:
    """A provider webhook is authorized by the signature of the account its URL names, and only that:
    another site's account secrets, a made-up secret, no signature, or an account that does not exist
    store nothing (401/403/404)."""
    import hashlib
    import hmac

    from tests.providers import meta_body, whatsapp_message

    server = papote_server
    cookie = server.login()
    _, site_b, _ = server.http("POST", "/api/sites", {"name": "B", "origins": [server.base_url]}, cookie=cookie)
    accounts = {}
    for key, secret in ((server.site_key, "secret-of-site-a"), (site_b["key"], "secret-of-site-b")):
        status, account, _ = server.http("POST", f"/api/sites/{key}/channels", {"kind": "whatsapp", "name": "WA",
                                         "settings": {"phone_number_id": "300001", "access_token": "token-123456",
                                                      "app_secret": secret, "verify_token": "verify-123456"}},
                                         cookie=cookie)
        assert status == 201
        accounts[key] = account["id"]
    body = meta_body(whatsapp_message("300001", "33699999999", "wamid.matrix", "intruder", name="Intruder"))

    def signed(secret: str) -> dict[str, str]:
        return {"x-hub-signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}

    def post(account_id: str, headers: dict[str, str]) -> int:
        request = urllib.request.Request(f"{server.base_url}/channels/whatsapp/{account_id}", data=body,
                                         method="POST", headers={"content-type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as e:
            with e:
                return int(e.code)

    target = accounts[server.site_key]
    cells = {
        "another site's account secret": (target, signed("secret-of-site-b"), 403),
        "a made-up secret": (target, signed("not-a-secret"), 403),
        "no signature": (target, {}, 401),
        "an account that does not exist": ("ch_doesnotexist", signed("secret-of-site-a"), 404),
        "another kind's route": (target, {"x-telegram-bot-api-secret-token": "secret-of-site-a"}, 401),
    }
    for who, (account_id, headers, expected) in cells.items():
        assert post(account_id, headers) == expected, who
    assert server.sql("SELECT count(*) FROM channel_identities") == [(0,)]
    # The genuine signature does get through.
    assert post(target, signed("secret-of-site-a")) == 200
    assert server.sql("SELECT count(*) FROM channel_identities") == [(1,)]

"""Web Push end to end, without the internet: a real server subprocess posts its alerts to a push service
on loopback (tests/push_service.py), which decrypts them with the subscription's own private key and
checks their VAPID token against the server's public key.

Each alert (new conversation, a visitor's reply in mine, a conversation transferred to me) is sent to
the devices that chose it and to no other; a device the push service says is gone (410) is forgotten.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from papote.config import Config
from tests.harness import PapoteServer, new_msg_id, serve, visitor
from tests.push_service import Browser, FakePushService, vapid_claims

pytestmark = pytest.mark.both_backends


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    service = FakePushService().start()
    yield service
    service.stop()


@pytest.fixture
def server(tmp_path: Path, server_backend: str, push_service: FakePushService,
           request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, backend=server_backend,
                          env_extra={"PAPOTE_PUSH_SERVICES": push_service.origin})
    yield from serve(server, request)


def settled(server: PapoteServer, timeout: float = 30) -> dict[str, Any]:
    """Wait until every alert queued so far was dispatched and every request answered: what was not
    sent by then was skipped, not late."""
    deadline = time.monotonic() + timeout
    while True:
        _, health, _ = server.http("GET", "/healthz")
        push = health["push"]
        if push["handled"] == push["queued"] and push["in_flight"] == 0 and push["waiting"] == 0:
            return dict(push)
        assert time.monotonic() < deadline, f"alerts still on their way: {push}"
        time.sleep(0.05)


def subscribe(server: PapoteServer, cookie: str, browser: Browser, **alerts: bool) -> dict[str, Any]:
    status, device, _ = server.http("POST", "/api/me/devices",
                                    {**browser.subscription(), "label": "Phone", "alerts": alerts}, cookie=cookie)
    assert status == 201, device
    return dict(device)


def agent_account(server: PapoteServer, email: str) -> tuple[str, str]:
    server.cli("agent", "create", "--site", server.site_key, "--email", email, "--password", "push-password-1",
               "--role", "agent", "--name", email.split("@")[0].title())
    cookie = server.login(email, "push-password-1")
    _, me, _ = server.http("GET", "/api/me", cookie=cookie)
    return str(me["agent"]["id"]), cookie


@pytest.mark.asyncio
async def test_alerts_reach_the_devices_that_chose_them(server: PapoteServer, push_service: FakePushService) -> None:
    owner = server.login()
    _, me, _ = server.http("GET", "/api/me", cookie=owner)
    owner_id = me["agent"]["id"]
    bea_id, bea = agent_account(server, "bea@papote.test")
    status, key, _ = server.http("GET", "/api/push/key", cookie=owner)
    assert status == 200 and len(key["public_key"]) == 87
    # The same key on every call (it is stored, not made per start).
    assert server.http("GET", "/api/push/key", cookie=bea)[1] == key

    owner_phone = Browser(push_service.endpoint("owner-phone"))
    bea_phone = Browser(push_service.endpoint("bea-phone"))
    owner_device = subscribe(server, owner, owner_phone, visitor_reply=False)
    assert owner_device["alerts"] == {"new_conversation": True, "visitor_reply": False, "transfer": True,
                                      "mention": True}
    bea_device = subscribe(server, bea, bea_phone, new_conversation=False)

    # 1. A new conversation: the owner's phone wants it, Bea's does not.
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(),
                  "body": "Where is my order?"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    settled(server)
    [push] = push_service.wait_for("owner-phone", 1)
    alert = owner_phone.decrypt(push.body)
    assert alert["alert"] == "new_conversation" and alert["conversation"] == cid
    assert alert["body"] == "Where is my order?" and alert["url"] == f"/console#conversation={cid}"
    assert alert["site"] == "Test shop"
    assert push_service.received("bea-phone") == []
    # The request is a Web Push: encrypted body, TTL, urgency, and a VAPID token for this service.
    assert push.headers["content-encoding"] == "aes128gcm" and int(push.headers["ttl"]) > 0
    assert push.headers["urgency"] == "high"
    claims = vapid_claims(push.headers["authorization"], key["public_key"])
    assert claims["aud"] == push_service.origin
    assert claims["sub"] == "mailto:papote@localhost"
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600

    # 2. The owner takes it; the visitor replies: the owner chose no replies, so nothing is sent...
    assert server.http("POST", f"/api/conversations/{cid}/assign", {"agent": owner_id}, cookie=owner)[0] == 200
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Hello?"})
    await v.expect("ack", ref=2)
    settled(server)
    assert len(push_service.received("owner-phone")) == 1
    # ...until the owner turns replies on for this device.
    status, changed, _ = server.http("PATCH", f"/api/me/devices/{owner_device['id']}",
                                     {"alerts": {"visitor_reply": True}}, cookie=owner)
    assert status == 200 and changed["alerts"]["visitor_reply"] and changed["alerts"]["new_conversation"]
    await v.send({"t": "send", "ref": 3, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Anyone there?"})
    await v.expect("ack", ref=3)
    settled(server)
    pushes = push_service.wait_for("owner-phone", 2)
    reply = owner_phone.decrypt(pushes[1].body)
    assert reply["alert"] == "visitor_reply" and reply["conversation"] == cid and reply["body"] == "Anyone there?"
    assert reply["visitor"] == ""  # anonymous: the console names them by their id
    # Bea is not assigned: a reply in someone else's conversation alerts nobody else.
    assert push_service.received("bea-phone") == []

    # 3. The owner transfers it to Bea, who wants transfers.
    status, _, _ = server.http("POST", f"/api/conversations/{cid}/assign",
                               {"agent": bea_id, "note": "VIP"}, cookie=owner)
    assert status == 200
    settled(server)
    [handed] = push_service.wait_for("bea-phone", 1)
    transfer = bea_phone.decrypt(handed.body)
    assert transfer["alert"] == "transfer" and transfer["conversation"] == cid
    assert transfer["by"] == server.http("GET", "/api/me", cookie=owner)[1]["agent"]["name"]
    # Bea turns transfers off; the owner, who wants them, gets it back and is alerted; Bea is not.
    assert server.http("PATCH", f"/api/me/devices/{bea_device['id']}", {"alerts": {"transfer": False}},
                       cookie=bea)[0] == 200
    assert server.http("POST", f"/api/conversations/{cid}/assign", {"agent": owner_id}, cookie=bea)[0] == 200
    settled(server)
    pushes = push_service.wait_for("owner-phone", 3)
    assert owner_phone.decrypt(pushes[2].body)["alert"] == "transfer"
    assert server.http("POST", f"/api/conversations/{cid}/assign", {"agent": bea_id}, cookie=owner)[0] == 200
    settled(server)
    assert len(push_service.received("bea-phone")) == 1
    assert len(push_service.received("owner-phone")) == 3  # the owner's own act alerts nobody

    # 4. A note of the owner's mentions Bea (and the owner, left out): Bea's phone hears it, with its start.
    status, _, _ = server.http("POST", f"/api/conversations/{cid}/messages",
                               {"body": "Bea, can you check the refund?", "note": True,
                                "mentions": [bea_id, owner_id]}, cookie=owner)
    assert status == 201
    settled(server)
    [_, mentioned] = push_service.wait_for("bea-phone", 2)
    mention = bea_phone.decrypt(mentioned.body)
    assert mention["alert"] == "mention" and mention["conversation"] == cid
    assert mention["body"] == "Bea, can you check the refund?" and mention["by"] == transfer["by"]
    assert len(push_service.received("owner-phone")) == 3
    # Bea turns mentions off: the next one is not sent.
    assert server.http("PATCH", f"/api/me/devices/{bea_device['id']}", {"alerts": {"mention": False}},
                       cookie=bea)[0] == 200
    status, _, _ = server.http("POST", f"/api/conversations/{cid}/messages",
                               {"body": "Again?", "note": True, "mentions": [bea_id]}, cookie=owner)
    assert status == 201
    settled(server)
    assert len(push_service.received("bea-phone")) == 2


@pytest.mark.asyncio
async def test_a_device_the_push_service_says_is_gone_is_forgotten(
        server: PapoteServer, push_service: FakePushService) -> None:
    owner = server.login()
    old = Browser(push_service.endpoint("old-laptop"))
    current = Browser(push_service.endpoint("phone"))
    push_service.answers["/push/old-laptop"] = 410
    subscribe(server, owner, old)
    subscribe(server, owner, current)
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hi"})
    await v.expect("ack", ref=1)
    push_service.wait_for("old-laptop", 1)
    push_service.wait_for("phone", 1)
    stats = settled(server)
    assert stats["gone"] == 1 and stats["sent"] == 1
    _, devices, _ = server.http("GET", "/api/me/devices", cookie=owner)
    assert [d["endpoint"] for d in devices["devices"]] == [current.endpoint]


def test_devices_are_their_owners_only_and_endpoints_are_checked(
        server: PapoteServer, push_service: FakePushService) -> None:
    owner = server.login()
    _, bea = agent_account(server, "bea@papote.test")
    device = subscribe(server, owner, Browser(push_service.endpoint("mine")))
    for method, body in (("PATCH", {"alerts": {"transfer": False}}), ("DELETE", None)):
        for device_id in (device["id"], "ps_doesnotexist"):
            status, answer, _ = server.http(method, f"/api/me/devices/{device_id}", body, cookie=bea)
            assert (status, answer["error"]["code"]) == (404, "not_found")
    assert server.http("GET", "/api/me/devices", cookie=bea)[1] == {"devices": []}
    # A push service the server does not post to, and keys that cannot be encrypted for, are refused.
    elsewhere = Browser("https://push.elsewhere.test/x").subscription()
    status, answer, _ = server.http("POST", "/api/me/devices", elsewhere, cookie=owner)
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    broken = Browser(push_service.endpoint("broken")).subscription()
    broken["keys"]["p256dh"] = "A" * 87
    status, answer, _ = server.http("POST", "/api/me/devices", broken, cookie=owner)
    assert (status, answer["error"]["code"]) == (400, "bad_field")
    assert server.http("GET", "/api/me/devices", cookie=owner)[1]["devices"] == [device]
    # Signed out, nothing.
    assert server.http("GET", "/api/me/devices")[0] == 401
    # The owner turns the device off.
    assert server.http("DELETE", f"/api/me/devices/{device['id']}", cookie=owner)[0] == 200
    assert server.http("GET", "/api/me/devices", cookie=owner)[1] == {"devices": []}


def test_the_default_services_are_the_browsers_own() -> None:
    services = Config().push_service_list
    assert "https://fcm.googleapis.com" in services and all(s.startswith("https://") for s in services)

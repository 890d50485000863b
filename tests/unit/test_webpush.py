"""Web Push without sockets: the bodies only the subscription's key reads, the VAPID token, the allowed
push services, and the alerts' hook on the bus (which events it keeps, and its bound)."""

from __future__ import annotations

import json
import os

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from papote.config import Config
from papote.events import MessageAppended, Typing
from papote.push import Alerts
from papote.store import Message
from papote.store.push import PushSubscription
from papote.types import AuthorKind, MessageKind
from papote.webpush import b64url, build_request, new_keys, service_allowed, valid_browser_keys
from tests.push_service import vapid_claims


def browser() -> tuple[ec.EllipticCurvePrivateKey, bytes, PushSubscription]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    auth = os.urandom(16)
    sub = PushSubscription("ps_1", "a_1", "https://fcm.googleapis.com/fcm/send/x", b64url(public), b64url(auth),
                           "", True, True, True, 0)
    return key, auth, sub


def test_the_body_is_for_the_subscriptions_key_only_and_the_token_names_the_service() -> None:
    keys = new_keys()
    key, auth, sub = browser()
    request = build_request(sub, b'{"conversation":"c_1"}', keys, "mailto:ops@shop.test", topic="c_1", now=1000.0)
    assert request.url == sub.endpoint
    assert request.headers["content-encoding"] == "aes128gcm" and request.headers["topic"] == "c_1"
    plain = http_ece.decrypt(request.body, private_key=key, auth_secret=auth, version="aes128gcm")
    assert json.loads(plain) == {"conversation": "c_1"}
    other, other_auth, _ = browser()
    with pytest.raises(http_ece.ECEException, match="InvalidTag"):
        http_ece.decrypt(request.body, private_key=other, auth_secret=other_auth, version="aes128gcm")
    # Two pushes of the same text never look alike (a fresh key and salt each time).
    assert build_request(sub, b"same", keys, "mailto:a@b.test").body != build_request(sub, b"same", keys,
                                                                                      "mailto:a@b.test").body
    claims = vapid_claims(request.headers["authorization"], keys.public_key)
    assert claims == {"aud": "https://fcm.googleapis.com", "exp": 1000 + 12 * 3600, "sub": "mailto:ops@shop.test"}
    with pytest.raises(AssertionError):
        vapid_claims(request.headers["authorization"], new_keys().public_key)


@pytest.mark.parametrize(("endpoint", "allowed"), [
    ("https://fcm.googleapis.com/fcm/send/abc", True),
    ("https://wns2-by3p.notify.windows.com/w/?token=x", True),
    ("https://notify.windows.com.evil.test/x", False),
    ("https://evilnotify.windows.com/x", False),
    ("http://fcm.googleapis.com/fcm/send/abc", False),
    ("https://fcm.googleapis.com:8443/fcm/send/abc", False),
    ("https://user:pw@fcm.googleapis.com/x", False),
    ("https://10.0.0.1/x", False),
    ("http://127.0.0.1:9/push", False),
    ("https://fcm.googleapis.com:99999/x", False),
    ("https://fcm.googleapis.com\x0c/x", False),
    ("https://[fcm.googleapis.com/x", False),
    ("https://k\u00eba\u00ef.push.apple.com/x", False),
])
def test_only_the_push_services_listed_are_posted_to(endpoint: str, allowed: bool) -> None:
    assert service_allowed(endpoint, Config().push_service_list) is allowed


def test_browser_keys_are_checked() -> None:
    _, _, sub = browser()
    assert valid_browser_keys(sub.p256dh, sub.auth)
    assert not valid_browser_keys("A" * 87, sub.auth)
    assert not valid_browser_keys(sub.p256dh, "short")


def message(kind: MessageKind, author: AuthorKind, seq: int = 2, event: str | None = None,
            data: dict[str, object] | None = None, author_id: str = "v_1") -> MessageAppended:
    return MessageAppended(Message("c_1", seq, kind, author, author_id, "", None, "hi", event, data, 0))


@pytest.mark.asyncio
async def test_the_hook_keeps_what_may_alert_and_drops_beyond_its_bound() -> None:
    alerts = Alerts(store=None, config=Config(push_queue=2))  # type: ignore[arg-type]
    alerts.observe("c:c_1", message(MessageKind.TEXT, AuthorKind.VISITOR))
    assert alerts.counts["queued"] == 0, "off until started with a key pair"
    alerts.keys = new_keys()
    kept = [
        message(MessageKind.TEXT, AuthorKind.VISITOR),
        message(MessageKind.EVENT, AuthorKind.AGENT, event="transferred", data={"agent": {"id": "a_2"}},
                author_id="a_1"),
    ]
    ignored = [
        message(MessageKind.TEXT, AuthorKind.AGENT, author_id="a_1"),
        message(MessageKind.NOTE, AuthorKind.AGENT, author_id="a_1"),
        message(MessageKind.EVENT, AuthorKind.AGENT, event="assigned", data={"agent": {"id": "a_1"}},
                author_id="a_1"),  # a claim: nobody to tell
        message(MessageKind.EVENT, AuthorKind.SYSTEM, event="assigned", data={"agent": {"id": "a_1"}}, author_id=""),
        message(MessageKind.EVENT, AuthorKind.AGENT, event="closed", author_id="a_1"),
        Typing("c_1", {"kind": "visitor"}, True),
    ]
    for event in [*ignored, *kept]:
        alerts.observe("c:c_1", event)  # type: ignore[arg-type]
    assert alerts.stats()["waiting"] == 2 and alerts.counts["queued"] == 2
    alerts.observe("c:c_1", message(MessageKind.TEXT, AuthorKind.VISITOR))
    assert alerts.counts["dropped"] == 1 and alerts.stats()["waiting"] == 2


@pytest.mark.asyncio
async def test_the_hook_drops_everything_while_no_agent_has_a_device() -> None:
    """The hot path's cost for a shop without phones: one test per visitor text, no queued work."""
    alerts = Alerts(store=None, config=Config(push_queue=4))  # type: ignore[arg-type]
    alerts.keys = new_keys()
    alerts.owners = frozenset()
    alerts.observe("c:c_1", message(MessageKind.TEXT, AuthorKind.VISITOR))
    assert alerts.counts["queued"] == 0 and alerts.stats()["waiting"] == 0
    # Unknown (a node announced a change of devices, being re-read): everything that may alert is queued.
    alerts.owners = None
    alerts.observe("c:c_1", message(MessageKind.TEXT, AuthorKind.VISITOR))
    assert alerts.counts["queued"] == 1

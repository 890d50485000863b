"""Outgoing webhooks, the pure parts: Standard Webhooks signing (checked against the spec's vector and
the `standardwebhooks` reference package), the events a seq stream makes, and which targets are allowed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from papote.channels.webhooks import events, signing
from papote.channels.webhooks.targets import check_target, check_url, is_public
from papote.errors import PapoteError
from papote.store import Message
from papote.store.webhooks import WebhookEndpoint
from papote.types import AuthorKind, MessageKind

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"


def test_the_spec_vector() -> None:
    signature = signing.sign(SPEC_SECRET, SPEC_ID, 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_reference_package_verifies_our_headers() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = json.dumps({"type": "message.created", "data": {"body": "héllo"}}, ensure_ascii=False).encode()
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers([secret], "msg_x", now, body)
    assert Webhook(secret).verify(body, headers) == {"type": "message.created", "data": {"body": "héllo"}}
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_during_a_rotation_both_secrets_verify() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    endpoint = WebhookEndpoint("we_1", "s_1", "https://x.test", ["message.created"], new, previous_secret=old,
                               previous_until=2_000)
    assert endpoint.signing_secrets(1_999) == [new, old]
    assert endpoint.signing_secrets(2_000) == [new]
    body = b"{}"
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers(endpoint.signing_secrets(1_000), "msg_y", now, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_a_bad_secret_is_refused() -> None:
    with pytest.raises(signing.BadSecret):
        signing.key_of("whsec_not base64!")
    with pytest.raises(signing.BadSecret):
        signing.key_of("whsec_")


def message(seq: int, kind: MessageKind = MessageKind.TEXT, event: str | None = None, at: int = 5_000) -> Message:
    return Message("c_1", seq, kind, AuthorKind.AGENT, "a_1", "Ann", None, "hi" if event is None else "", event,
                   {"agent": {"id": "a_2"}} if event else None, at)


def test_the_events_a_stream_makes() -> None:
    assert events.events_of(message(1)) == ["conversation.opened", "message.created"]
    assert events.events_of(message(2, MessageKind.NOTE)) == ["message.created"]
    assert events.events_of(message(3, MessageKind.EVENT, "closed")) == ["conversation.closed"]
    assert events.events_of(message(4, MessageKind.EVENT, "transferred")) == ["conversation.assigned"]
    assert events.events_of(message(5, MessageKind.EVENT, "contact")) == []
    assert events.position(1, "conversation.opened") < events.position(1, "message.created") < events.position(
        2, "message.created")


def test_deliveries_go_to_the_endpoints_that_want_them_and_existed_then() -> None:
    wants_all = WebhookEndpoint("we_a", "s_1", "https://a.test", list(events.EVENT_TYPES), "whsec_AAAA",
                                created_at=1_000)
    closes_only = WebhookEndpoint("we_b", "s_1", "https://b.test", ["conversation.closed"], "whsec_AAAA",
                                  created_at=1_000)
    too_new = WebhookEndpoint("we_c", "s_1", "https://c.test", list(events.EVENT_TYPES), "whsec_AAAA",
                              created_at=9_000)
    stream = [message(1), message(2, MessageKind.EVENT, "closed")]
    out = events.deliveries_for(stream, [wants_all, closes_only, too_new], site_key="pk_1", visitor_id="v_1",
                                now=10_000)
    assert [(d.target, d.kind) for d in out] == [
        ("we_a", "conversation.opened"), ("we_a", "message.created"), ("we_a", "conversation.closed"),
        ("we_b", "conversation.closed")]
    body = json.loads(out[1].payload["body"])
    assert body["type"] == "message.created" and body["timestamp"] == "1970-01-01T00:00:05.000Z"
    assert body["data"]["message"]["body"] == "hi" and body["data"]["site"] == "pk_1"
    closed = json.loads(out[2].payload["body"])
    assert closed["data"]["by"]["id"] == "a_1" and closed["data"]["details"] == {"agent": {"id": "a_2"}}
    # The webhook-id is the same whenever it is derived: a retry or a repeat carries it unchanged.
    again = events.deliveries_for(stream, [wants_all], site_key="pk_1", visitor_id="v_1", now=20_000)
    assert [d.payload["webhook_id"] for d in again] == [d.payload["webhook_id"] for d in out[:3]]
    assert len({d.payload["webhook_id"] for d in out}) == 4


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1",
                                     "fc00::1", "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1", "224.0.0.1"])
def test_private_addresses(address: str) -> None:
    assert not is_public(address)


def test_public_addresses() -> None:
    assert is_public("93.184.215.14") and is_public("2606:4700::1111")


@pytest.mark.parametrize("url", ["ftp://x.test/", "https://", "javascript:alert(1)", "https://u:p@x.test/",
                                 "https://x.test:99999/", "x.test/hook"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(PapoteError) as refused:
        check_url(url)
    assert refused.value.code.value == "bad_field"


@pytest.mark.asyncio
async def test_loopback_is_refused_unless_allowed() -> None:
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://[::1]/hook"):
        with pytest.raises(PapoteError, match="PAPOTE_WEBHOOK_ALLOW_PRIVATE"):
            await check_target(url, allow_private=False)
        await check_target(url, allow_private=True)

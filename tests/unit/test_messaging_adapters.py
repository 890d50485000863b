"""The messaging adapters without sockets: signatures against known vectors, parsing of the providers'
real payload shapes (batched, mixed, foreign), and the reply windows."""

from __future__ import annotations

import json

import pytest

from papote.channels.messaging.base import (
    WINDOW_MS,
    Hook,
    Inbound,
    Media,
    Receipt,
    Watermark,
    WebhookRefused,
    buttons_of,
)
from papote.channels.meta import graph
from papote.channels.meta.messenger import Messenger
from papote.channels.telegram import Telegram
from papote.channels.twilio import Twilio, signature
from papote.channels.whatsapp import WhatsApp
from papote.store.channels import ChannelAccount, ChannelIdentity


def account(kind: str, config: dict[str, str], secrets: dict[str, str]) -> ChannelAccount:
    return ChannelAccount("ch_1", "s_1", kind, "x", config, secrets, 0)


def hook(body: bytes, headers: dict[str, str] | None = None, url: str = "https://chat.shop.test/channels/x/ch_1",
         method: str = "POST", query: dict[str, str] | None = None) -> Hook:
    return Hook(method, url, headers or {}, query or {}, body)


def test_twilio_signature_matches_twilio_documentation_vector() -> None:
    params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
              ("From", "+12349013030"), ("To", "+18005551212")]
    assert signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_meta_signature_is_over_the_raw_escaped_bytes() -> None:
    wa = account("whatsapp", {"phone_number_id": "1"}, {"app_secret": "s3cret"})
    raw = json.dumps({"text": "Zoé ✓"}, ensure_ascii=True).encode()  # Meta escapes non-ASCII
    good = graph.signature("s3cret", raw)
    WhatsApp().verify(wa, hook(raw, {"x-hub-signature-256": good}))
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    with pytest.raises(WebhookRefused) as refused:
        WhatsApp().verify(wa, hook(reserialised, {"x-hub-signature-256": good}))
    assert refused.value.status == 403
    with pytest.raises(WebhookRefused) as missing:
        WhatsApp().verify(wa, hook(raw))
    assert missing.value.status == 401


def test_meta_handshake_needs_the_verify_token() -> None:
    wa = account("whatsapp", {}, {"verify_token": "v-token"})
    ok = graph.handshake(wa, hook(b"", method="GET", query={"hub.mode": "subscribe", "hub.verify_token": "v-token",
                                                             "hub.challenge": "42"}))
    assert ok is not None and (ok.status, ok.body) == (200, "42")
    bad = graph.handshake(wa, hook(b"", method="GET", query={"hub.mode": "subscribe", "hub.verify_token": "no",
                                                              "hub.challenge": "42"}))
    assert bad is not None and bad.status == 403
    assert graph.handshake(wa, hook(b"{}")) is None  # a POST is no handshake


def test_whatsapp_parses_batched_entries_and_skips_other_numbers() -> None:
    wa = account("whatsapp", {"phone_number_id": "111"}, {})
    doc = {"object": "whatsapp_business_account", "entry": [
        {"id": "W", "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "111"}, "contacts": [{"profile": {"name": "Ann"}, "wa_id": "336"}],
            "messages": [{"from": "336", "id": "wamid.A", "timestamp": "1700000000", "type": "text",
                          "text": {"body": "hi"}},
                         {"from": "336", "id": "wamid.B", "timestamp": "1700000001", "type": "image",
                          "image": {"id": "m1", "caption": "my parcel"}}],
            "statuses": [{"id": "wamid.out", "status": "failed", "timestamp": "1700000002", "recipient_id": "336",
                          "errors": [{"code": 131047, "title": "Re-engagement message"}]}]}}]},
        {"id": "W", "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "999"},
            "messages": [{"from": "1", "id": "wamid.other", "type": "text", "text": {"body": "not ours"}}]}}]},
    ]}
    out = WhatsApp().parse(wa, hook(json.dumps(doc).encode()))
    assert out == [
        Inbound("336", "wamid.A", "hi", 1_700_000_000_000, "Ann", {"type": "text"}),
        Inbound("336", "wamid.B", "my parcel", 1_700_000_001_000, "Ann", {"type": "image"}, [Media("m1", "image")]),
        Receipt("wamid.out", "failed", 1_700_000_002_000, "131047 Re-engagement message"),
    ]


def test_whatsapp_window_and_template() -> None:
    ident = ChannelIdentity("ch_1", "336", "s_1", "v_1", last_inbound_at=1_000)
    plain = account("whatsapp", {"phone_number_id": "1"}, {})
    assert WhatsApp().window(plain, ident, 1_000 + WINDOW_MS - 1).open
    shut = WhatsApp().window(plain, ident, 1_000 + WINDOW_MS)
    assert not shut.can_send and shut.reason
    templated = account("whatsapp", {"phone_number_id": "1", "template": "follow_up"}, {})
    window = WhatsApp().window(templated, ident, 1_000 + WINDOW_MS)
    assert window.can_send and window.fallback == "template"
    payload = WhatsApp().payload(templated, ident, "hello", window, "")
    assert payload["type"] == "template" and payload["template"]["language"] == {"code": "en_US"}


def test_telegram_secret_token_and_update() -> None:
    tg = account("telegram", {}, {"secret_token": "abc_123"})
    update = {"update_id": 5, "message": {"message_id": 9, "date": 1700000000, "chat": {"id": -42, "type": "private"},
                                          "from": {"id": 7, "first_name": "Tess", "last_name": "B"}, "text": "yo"}}
    raw = json.dumps(update).encode()
    Telegram().verify(tg, hook(raw, {"x-telegram-bot-api-secret-token": "abc_123"}))
    for headers, status in (({}, 401), ({"x-telegram-bot-api-secret-token": "abc_124"}, 403)):
        with pytest.raises(WebhookRefused) as refused:
            Telegram().verify(tg, hook(raw, headers))
        assert refused.value.status == status
    assert Telegram().parse(tg, hook(raw)) == [Inbound("-42", "-42:9", "yo", 1_700_000_000_000, "Tess B")]
    edited = {"update_id": 6, "edited_message": update["message"]}
    assert Telegram().parse(tg, hook(json.dumps(edited).encode())) == []


def test_twilio_inbound_and_status_callbacks() -> None:
    tw = account("twilio", {"account_sid": "AC1", "from_number": "+1555"}, {"auth_token": "tok"})
    inbound = b"MessageSid=SM1&AccountSid=AC1&From=%2B336&To=%2B1555&Body=Hello+there&SmsStatus=received"
    assert Twilio().parse(tw, hook(inbound)) == [Inbound("+336", "SM1", "Hello there", 0, "")]
    status = b"MessageSid=SM2&AccountSid=AC1&MessageStatus=undelivered&ErrorCode=30003"
    assert Twilio().parse(tw, hook(status)) == [Receipt("SM2", "failed", 0, "30003")]
    assert Twilio().parse(tw, hook(b"MessageSid=SM3&AccountSid=AC1&MessageStatus=sending")) == []
    assert Twilio().parse(tw, hook(b"MessageSid=SM4&AccountSid=AC9&From=%2B1&Body=x")) == []  # another account


def test_messenger_skips_echoes_and_maps_delivery_mids() -> None:
    fb = account("messenger", {"page_id": "P"}, {})
    doc = {"object": "page", "entry": [{"id": "P", "time": 1, "messaging": [
        {"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 5, "message": {"mid": "m1", "text": "hey"}},
        {"sender": {"id": "P"}, "recipient": {"id": "U"}, "timestamp": 6,
         "message": {"mid": "m2", "text": "echo", "is_echo": True}},
        {"sender": {"id": "U"}, "recipient": {"id": "P"}, "delivery": {"mids": ["m_out"], "watermark": 7}},
        {"sender": {"id": "U"}, "recipient": {"id": "P"}, "delivery": {"watermark": 8}},
    ]}]}
    doc["entry"][0]["messaging"].append({"sender": {"id": "U"}, "recipient": {"id": "P"}, "read": {"watermark": 9}})
    assert Messenger().parse(fb, hook(json.dumps(doc).encode())) == [
        Inbound("U", "m1", "hey", 5), Receipt("m_out", "delivered", 7), Watermark("U", "delivered", 8),
        Watermark("U", "read", 9)]


def _options(*labels: str) -> list[dict[str, str]]:
    return [{"label": label, "value": f"go:n{n}"} for n, label in enumerate(labels, 1)]


def test_whatsapp_draws_reply_buttons_then_a_list_then_numbered_lines() -> None:
    wa = account("whatsapp", {"phone_number_id": "111", "template": "reply_later"}, {})
    who = ChannelIdentity("ch_1", "336", "s_1", "v_1", last_inbound_at=1_000)
    open_, shut = WhatsApp().window(wa, who, 2_000), WhatsApp().window(wa, who, 1_000 + WINDOW_MS + 1)
    three = buttons_of(_options("Shipping", "All good", "Talk to a person"))
    payload = WhatsApp().payload(wa, who, "Hi!", open_, "", three)
    assert payload["type"] == "interactive" and payload["interactive"]["type"] == "button"
    assert payload["interactive"]["action"]["buttons"][0] == {"type": "reply", "reply": {"id": "qr:1:go:n1",
                                                                                         "title": "Shipping"}}
    # A title over 20 characters, or a fourth option: a list (rows of 24).
    for options in (_options("Parler à une personne"), _options("a", "b", "c", "d")):
        listed = WhatsApp().payload(wa, who, "Hi!", open_, "", buttons_of(options))["interactive"]
        assert listed["type"] == "list" and listed["action"]["button"] == "Options"
        assert [r["id"] for r in listed["action"]["sections"][0]["rows"]] == [f"qr:{n}:go:n{n}"
                                                                             for n in range(1, len(options) + 1)]
    # Over 24 characters, over 10 options, a body over 1024, or a closed window: numbered lines.
    for body, options in (("Hi!", _options("Shipping, parcels and returns", "b")),
                          ("Hi!", _options(*"abcdefghijk")), ("x" * 1025, _options("a", "b"))):
        text = WhatsApp().payload(wa, who, body, open_, "", buttons_of(options))
        assert text["type"] == "text" and text["text"]["body"].endswith(f"– {options[-1]['label']}")
    late = WhatsApp().payload(wa, who, "Hi!", shut, "", three)
    assert late["type"] == "template"
    numbered = "Hi!\n\n1. Shipping\n2. All good\n– Talk to a person"
    assert late["template"]["components"][0]["parameters"][0]["text"] == numbered


def test_a_value_too_long_for_telegram_draws_no_buttons_anywhere() -> None:
    assert buttons_of([{"label": "a", "value": "go:" + "x" * 60}]) == []
    assert len(buttons_of([{"label": "a", "value": "go:" + "x" * 40}])) == 1  # the longest node id fits


def test_whatsapp_taps_come_back_with_their_payload() -> None:
    wa = account("whatsapp", {"phone_number_id": "111"}, {})
    doc = {"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "111"}, "contacts": [{"profile": {"name": "Ann"}, "wa_id": "336"}],
        "messages": [
            {"context": {"from": "111", "id": "wamid.out"}, "from": "336", "id": "wamid.T1", "timestamp": "1700000000",
             "type": "interactive", "interactive": {"type": "button_reply",
                                                    "button_reply": {"id": "qr:1:go:ship", "title": "Shipping"}}},
            {"from": "336", "id": "wamid.T2", "timestamp": "1700000001", "type": "interactive",
             "interactive": {"type": "list_reply", "list_reply": {"id": "qr:4:person", "title": "Talk to a person"}}},
        ]}}]}]}
    out = WhatsApp().parse(wa, hook(json.dumps(doc).encode()))
    assert out == [
        Inbound("336", "wamid.T1", "Shipping", 1_700_000_000_000, "Ann",
                {"type": "interactive", "tap": "qr:1:go:ship"}),
        Inbound("336", "wamid.T2", "Talk to a person", 1_700_000_001_000, "Ann",
                {"type": "interactive", "tap": "qr:4:person"}),
    ]


def test_telegram_inline_keyboard_and_callback_query() -> None:
    tg = account("telegram", {}, {"bot_token": "1:x", "secret_token": "s"})
    who = ChannelIdentity("ch_1", "42", "s_1", "v_1")
    payload = Telegram().payload(tg, who, "Hi!", Telegram().window(tg, who, 0), "",
                                 buttons_of(_options("Shipping", "Talk to a person")))
    assert payload == {"chat_id": "42", "text": "Hi!", "reply_markup": {"inline_keyboard": [
        [{"text": "Shipping", "callback_data": "qr:1:go:n1"}],
        [{"text": "Talk to a person", "callback_data": "qr:2:go:n2"}]]}}
    update = {"update_id": 5, "callback_query": {
        "id": "99", "from": {"id": 42, "first_name": "Tess"}, "chat_instance": "1", "data": "qr:1:go:n1",
        "message": {"message_id": 7, "chat": {"id": 42, "type": "private"}, "date": 1, "text": "Hi!",
                    "reply_markup": payload["reply_markup"]}}}
    assert Telegram().parse(tg, hook(json.dumps(update).encode())) == [
        Inbound("42", "cb:99", "Shipping", 0, "Tess", {"type": "callback_query", "tap": "qr:1:go:n1",
                                                      "callback_query": "99"})]
    inline_mode = {"update_id": 6, "callback_query": {"id": "100", "from": {"id": 42}, "inline_message_id": "i",
                                                      "data": "qr:1:go:n1"}}
    assert Telegram().parse(tg, hook(json.dumps(inline_mode).encode())) == []


def test_messenger_quick_replies_out_and_their_payload_back() -> None:
    page = account("messenger", {"page_id": "1"}, {})
    who = ChannelIdentity("ch_1", "PSID1", "s_1", "v_1", last_inbound_at=1_000)
    payload = Messenger().payload(page, who, "Hi!", Messenger().window(page, who, 2_000), "",
                                  buttons_of(_options("Parler à une personne")))
    assert payload["message"] == {"text": "Hi!", "quick_replies": [
        {"content_type": "text", "title": "Parler à une person…", "payload": "qr:1:go:n1"}]}
    doc = {"object": "page", "entry": [{"id": "1", "messaging": [
        {"sender": {"id": "PSID1"}, "recipient": {"id": "1"}, "timestamp": 5,
         "message": {"mid": "m1", "text": "Parler à une person…", "quick_reply": {"payload": "qr:1:go:n1"}}}]}]}
    assert Messenger().parse(page, hook(json.dumps(doc).encode())) == [
        Inbound("PSID1", "m1", "Parler à une person…", 5, data={"tap": "qr:1:go:n1"})]


def test_twilio_sends_the_options_as_numbered_lines() -> None:
    sms = account("twilio", {"account_sid": "AC1", "from_number": "+1555"}, {})
    who = ChannelIdentity("ch_1", "+336", "s_1", "v_1")
    payload = Twilio().payload(sms, who, "Hi!", Twilio().window(sms, who, 0), "https://cb",
                               buttons_of(_options("Shipping", "Talk to a person")))
    assert payload["Body"] == "Hi!\n\n1. Shipping\n– Talk to a person"


def test_each_provider_names_the_files_a_message_carries() -> None:
    """Media in: the file's reference for `fetch`, the caption as the body (empty without one), and no
    placeholder text for a file (its attachment follows); a kind without a file keeps a placeholder."""
    wa = account("whatsapp", {"phone_number_id": "111"}, {})
    doc = {"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "111"},
        "messages": [{"from": "336", "id": "wamid.D", "timestamp": "1", "type": "document",
                      "document": {"id": "77", "filename": "bill.pdf", "mime_type": "application/pdf"}},
                     {"from": "336", "id": "wamid.L", "timestamp": "2", "type": "location",
                      "location": {"latitude": 1, "longitude": 2}}]}}]}]}
    [doc_in, where] = WhatsApp().parse(wa, hook(json.dumps(doc).encode()))
    assert (doc_in.body, doc_in.media) == ("", [Media("77", "document", "bill.pdf", "application/pdf")])
    assert (where.body, where.media) == ("[location]", [])
    tg = account("telegram", {}, {"secret_token": "abc_123"})
    photo = {"update_id": 7, "message": {"message_id": 3, "date": 1, "chat": {"id": 5, "type": "private"},
                                         "from": {"id": 5, "first_name": "T"}, "caption": "look",
                                         "photo": [{"file_id": "small"}, {"file_id": "large"}]}}
    [tg_in] = Telegram().parse(tg, hook(json.dumps(photo).encode()))
    assert (tg_in.body, tg_in.media) == ("look", [Media("large", "image", "", "image/jpeg")])
    tw = account("twilio", {"account_sid": "AC1", "from_number": "+1555"}, {"auth_token": "tok"})
    mms = (b"MessageSid=MM1&AccountSid=AC1&From=%2B336&Body=&NumMedia=2&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm0"
           b"&MediaContentType0=image%2Fjpeg&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fm1&MediaContentType1=text%2Fvcard")
    [tw_in] = Twilio().parse(tw, hook(mms))
    assert [m.ref for m in tw_in.media] == ["https://api.twilio.com/m0", "https://api.twilio.com/m1"]
    fb = account("messenger", {"page_id": "P"}, {})
    msg = {"object": "page", "entry": [{"id": "P", "time": 1, "messaging": [
        {"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 5, "message": {"mid": "m9", "attachments": [
            {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/a.jpg"}},
            {"type": "fallback", "payload": {"title": "a shared post"}}]}}]}]}
    [fb_in] = Messenger().parse(fb, hook(json.dumps(msg).encode()))
    assert (fb_in.body, fb_in.media) == ("", [Media("https://scontent.xx.fbcdn.net/a.jpg", "image")])


def test_a_file_url_a_webhook_names_into_the_operators_network_is_not_fetched() -> None:
    """A site owner signs their own webhooks: a MediaUrl (or a redirect) to loopback, a private network or
    the cloud's metadata address is refused for good before any request, unless allowed."""
    import asyncio

    import httpx

    from papote.channels.messaging.base import download
    from papote.channels.outbox import DeliveryError
    from papote.channels.webhooks.targets import check_target

    async def fetch(url: str) -> DeliveryError:
        async def guard(target: str) -> None:
            await check_target(target, allow_private=False)

        async with httpx.AsyncClient() as http:
            with pytest.raises(DeliveryError) as refused:
                await download(http, url, 1000, guard)
        return refused.value

    for url in ("http://127.0.0.1:9/x.jpg", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/a",
                "file:///etc/passwd"):
        refused = asyncio.run(fetch(url))
        assert refused.permanent and "may not be fetched" in refused.reason, url

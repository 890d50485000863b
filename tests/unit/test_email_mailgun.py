"""Mailgun's inbound form read into the mail it describes (channels/email/mailgun.py), then read like any
mail (inbound.py); its signature (HMAC-SHA256 of timestamp + token) and its freshness; the replay guard
(replays.py) without Redis."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from papote.channels.email.inbound import SIGNATURE_IMAGE_BYTES, MailKind, read_mail
from papote.channels.email.mailgun import (
    MAX_AGE_SECS,
    MailgunFile,
    PayloadError,
    SignatureError,
    check_signature,
    read_mailgun,
    signature,
)
from papote.ratelimits import SharedLimits
from papote.replays import Replays
from tests.brokers import Broker

KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
NOW = 1_800_000_000


def form(**changes: Any) -> dict[str, str]:
    out = {
        "recipient": "help@shop.test", "sender": "bob@example.test", "from": "Bob Martin <bob@example.test>",
        "subject": "Invoice 77", "body-plain": "Hello\n\nOn Fri, Ann wrote:\n> earlier", "body-html": "",
        "stripped-text": "Hello", "message-headers": json.dumps([
            ["From", "Bob Martin <bob@example.test>"], ["Message-Id", "<b-1@mail.example.test>"],
            ["In-Reply-To", "<a-1@shop.test>"], ["Content-Type", "text/plain"], ["X-Mailgun-Spam", "No"]]),
        "timestamp": str(NOW), "token": "t" * 50,
    }
    out["signature"] = hmac.new(KEY.encode(), (out["timestamp"] + out["token"]).encode(), hashlib.sha256).hexdigest()
    return {**out, **changes}


def test_the_signature_is_hmac_sha256_of_timestamp_and_token() -> None:
    signed = form()
    assert signature(KEY, signed["timestamp"], signed["token"]) == signed["signature"]
    assert check_signature(KEY, signed, NOW + 5) == "t" * 50
    assert check_signature(KEY, {**signed, "signature": signed["signature"].upper()}, NOW) == "t" * 50
    for bad, now in (({"signature": "0" * 64}, NOW), ({"token": "u" * 50}, NOW), ({"signature": ""}, NOW),
                     ({}, NOW + MAX_AGE_SECS + 1), ({}, NOW - 61)):
        with pytest.raises(SignatureError):
            check_signature(KEY, {**signed, **bad}, now)
    with pytest.raises(SignatureError):
        check_signature("another-key", signed, NOW)


def test_the_form_reads_like_the_mail() -> None:
    mail = read_mailgun(form())
    assert mail.recipients == ["help@shop.test"] and mail.envelope_sender == "bob@example.test"
    read = read_mail(mail.raw, mail.envelope_sender)
    assert read.kind is MailKind.REPLY and read.message_id == "<b-1@mail.example.test>"
    assert read.references == ["<a-1@shop.test>"] and read.sender == "bob@example.test"
    assert read.text == "Hello" and read.subject == "Invoice 77" and read.sender_name == "Bob Martin"


def test_html_only_mail_is_read_from_its_html_and_the_fields_stand_in_for_missing_headers() -> None:
    html_only = form(**{"body-plain": "Any news? On Fri, Ann wrote: Checking.",
                        "body-html": "<p>Any news?</p><blockquote>On Fri, Ann wrote: Checking.</blockquote>",
                        "message-headers": json.dumps([["Content-Type", "text/html; charset=utf-8"]]),
                        "Message-Id": "<b-2@mail.example.test>"})
    read = read_mail(read_mailgun(html_only).raw)
    assert read.text == "Any news?" and read.message_id == "<b-2@mail.example.test>"


def test_automatic_mail_raw_mime_and_bad_forms() -> None:
    auto = form(**{"message-headers": json.dumps([["Auto-Submitted", "auto-replied"]])})
    assert read_mail(read_mailgun(auto).raw).kind is MailKind.AUTOMATIC
    assert read_mail(read_mailgun(form(sender="")).raw, "").kind is MailKind.AUTOMATIC  # null MAIL FROM
    raw = b"From: c@example.test\r\nTo: help@shop.test\r\nMessage-ID: <c@x>\r\nSubject: s\r\n\r\nRaw body\r\n"
    mime = read_mailgun({"recipient": "help@shop.test", "sender": "c@example.test", "body-mime": raw.decode()})
    assert mime.raw == raw and read_mail(mime.raw).text == "Raw body"
    for bad in ({"recipient": ""}, {"from": "", "message-headers": "[]"}, {"message-headers": "{not json"}):
        with pytest.raises(PayloadError):
            read_mailgun(form(**bad))


def test_attachments_are_carried_in_the_mails_order_and_a_signatures_small_inline_image_is_not() -> None:
    """The form's `attachment-N` files become the mail's files, ordered by N whatever the form's order;
    `content-id-map` makes a file inline, so a small one is a signature's logo, left out."""
    logo = b"\x89PNG\r\n\x1a\n" + b"0" * 200
    screenshot = b"\x89PNG\r\n\x1a\n" + b"1" * (SIGNATURE_IMAGE_BYTES + 1)
    files = [MailgunFile("attachment-3", "pasted.png", "image/png", screenshot),
             MailgunFile("attachment-1", "bill.pdf", "application/pdf", b"%PDF-1.4 x"),
             MailgunFile("attachment-2", "logo.png", "image/png", logo),
             MailgunFile("attachment-10", "notes.txt", "text/plain\r\nX-Evil: 1", b"notes")]
    cids = json.dumps({"<logo1@mail>": "attachment-2", "<img2@mail>": "attachment-3"})
    mail = read_mail(read_mailgun(form(**{"attachment-count": "4", "content-id-map": cids}), files).raw)
    assert [(f.name, f.content_type, len(f.data)) for f in mail.files] == [
        ("bill.pdf", "application/pdf", 10), ("pasted.png", "image/png", len(screenshot)),
        ("notes.txt", "application/octet-stream", 5)]
    assert mail.text == "Hello"
    # An unreadable map is no map: the files are kept as plain attachments (the logo too).
    kept = read_mail(read_mailgun(form(**{"content-id-map": "{not json"}), files[1:3]).raw)
    assert [f.name for f in kept.files] == ["bill.pdf", "logo.png"]


@pytest.mark.asyncio
async def test_a_token_is_taken_once_until_forgotten() -> None:
    replays = Replays(None, 60)
    assert await replays.first("mailgun", "t1")
    assert not await replays.first("mailgun", "t1")
    assert await replays.first("other", "t1")  # namespaces apart
    await replays.forget("mailgun", "t1")  # the post failed: its retry gets through
    assert await replays.first("mailgun", "t1")


@pytest.mark.asyncio
async def test_two_nodes_take_a_token_once_through_the_shared_redis(tmp_path: Path) -> None:
    broker = Broker("redis", tmp_path)
    broker.start()
    shared = [SharedLimits(broker.url), SharedLimits(broker.url)]
    try:
        one, two = (Replays(s, 60) for s in shared)
        assert await one.first("mailgun", "tok-a")
        assert not await two.first("mailgun", "tok-a")  # the other node saw it
        await one.forget("mailgun", "tok-a")  # a failed post: its retry may land on any node
        assert await two.first("mailgun", "tok-a")
        assert shared[0].errors == shared[1].errors == 0
    finally:
        for s in shared:
            await s.close()
        broker.kill()

"""Postmark's inbound JSON read into the mail it describes (channels/email/postmark.py), then read like
any mail (inbound.py). Pure: no server."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from papote.channels.email.inbound import SIGNATURE_IMAGE_BYTES, MailKind, read_mail
from papote.channels.email.postmark import PayloadError, read_postmark


def payload(**more: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "FromName": "Ann Smith", "From": "ann@example.test",
        "FromFull": {"Email": "ann@example.test", "Name": "Ann Smith", "MailboxHash": ""},
        "To": "help@shop.test", "ToFull": [{"Email": "help@shop.test", "Name": "Shop", "MailboxHash": ""}],
        "CcFull": [{"Email": "boss@shop.test", "Name": "", "MailboxHash": ""}],
        "OriginalRecipient": "help@shop.test", "Subject": "Order 1234", "MessageID": "pm-0001",
        "TextBody": "Where is it?\n\nOn Fri, Shop <help@shop.test> wrote:\n> It ships today.\n",
        "HtmlBody": "<p>Where is it?</p>", "StrippedTextReply": "Where is it?",
        "Headers": [{"Name": "Message-ID", "Value": "<abc@mail.example.test>"},
                    {"Name": "In-Reply-To", "Value": "<papote.x@reply.shop.test>"},
                    {"Name": "X-Spam-Status", "Value": "No"}],
        "Attachments": [],
    }
    base.update(more)
    return base


def test_a_reply_reads_like_one_by_smtp() -> None:
    got = read_postmark(payload())
    assert got.recipients == ["help@shop.test", "boss@shop.test"] and got.envelope_sender is None
    mail = read_mail(got.raw, got.envelope_sender)
    assert mail.kind is MailKind.REPLY and mail.sender == "ann@example.test" and mail.sender_name == "Ann Smith"
    assert mail.message_id == "<abc@mail.example.test>" and mail.references == ["<papote.x@reply.shop.test>"]
    assert mail.text == "Where is it?" and mail.subject == "Order 1234"


def test_postmark_s_own_id_stands_in_for_a_missing_message_id() -> None:
    mail = read_mail(read_postmark(payload(Headers=[])).raw)
    assert mail.message_id == "<pm-0001@postmark>"


def test_html_only_and_automatic_mail() -> None:
    html_only = read_mail(read_postmark(payload(TextBody="", HtmlBody="<div>Hi there</div>")).raw)
    assert html_only.text == "Hi there"
    auto = payload(Headers=[{"Name": "Auto-Submitted", "Value": "auto-replied"}])
    assert read_mail(read_postmark(auto).raw).kind is MailKind.AUTOMATIC
    bounce_path = read_postmark(payload(Headers=[{"Name": "Return-Path", "Value": "<>"}]))
    assert read_mail(bounce_path.raw, bounce_path.envelope_sender).kind is MailKind.AUTOMATIC


def test_a_header_cannot_inject_another() -> None:
    sneaky = payload(Subject="Hi\r\nBcc: victim@example.test",
                     Headers=[{"Name": "X-Note", "Value": "a\r\nTo: victim@example.test"}])
    from email import message_from_bytes, policy

    msg = message_from_bytes(read_postmark(sneaky).raw, policy=policy.default)
    assert msg["Bcc"] is None and msg.get_all("To") == ["Shop <help@shop.test>"] and msg["X-Note"] is None
    assert "\n" not in str(msg["Subject"])


@pytest.mark.parametrize("bad", [None, [], "text", {"FromFull": {}}, {"FromFull": {"Email": "nobody"}},
                                 {"FromFull": {"Email": "a@b.test"}}])
def test_what_is_not_a_postmark_message(bad: Any) -> None:
    with pytest.raises(PayloadError):
        read_postmark(bad)


def test_attachments_are_carried_and_a_signatures_small_inline_image_is_not() -> None:
    logo = b"\x89PNG\r\n\x1a\n" + b"0" * 200
    screenshot = b"\x89PNG\r\n\x1a\n" + b"1" * (SIGNATURE_IMAGE_BYTES + 1)
    got = read_postmark(payload(Attachments=[
        {"Name": "bill.pdf", "Content": base64.b64encode(b"%PDF-1.4 x").decode(), "ContentType": "application/pdf"},
        {"Name": "logo.png", "Content": base64.b64encode(logo).decode(), "ContentType": "image/png",
         "ContentID": "logo1"},
        {"Name": "pasted.png", "Content": base64.b64encode(screenshot).decode(), "ContentType": "image/png",
         "ContentID": "<img2>"},
        {"Name": "broken", "Content": "not base64 !", "ContentType": "text/plain"},
    ]))
    mail = read_mail(got.raw)
    assert [(f.name, f.content_type, len(f.data)) for f in mail.files] == [
        ("bill.pdf", "application/pdf", 10), ("pasted.png", "image/png", len(screenshot))]
    assert mail.text == "Where is it?"


def test_an_agents_files_are_attached_up_to_the_mails_budget_then_linked() -> None:
    from papote.channels.email.render import MAIL_ATTACH_BYTES, with_files

    payload = {"text": "Hello\n", "html": "<!doctype html><html><body><p>Hello</p></body></html>"}
    files = [{"id": f"at_{i}", "name": f"f{i}.pdf", "size": size, "content_type": "application/pdf",
              "link": f"https://chat.example/files/at_{i}?e=1&s=x"}
             for i, size in enumerate((MAIL_ATTACH_BYTES // 2, MAIL_ATTACH_BYTES // 2 + 1, 1000))]
    out = with_files(payload, "en", files)
    assert [f["attach"] for f in out["files"]] == [True, False, True]
    assert "f1.pdf (5.0 MB): https://chat.example/files/at_1?e=1&s=x" in out["text"]
    assert "f0.pdf (5.0 MB): attached" in out["text"] and 'href="https://chat.example/files/at_1' in out["html"]
    assert with_files(payload, "en", []) is payload

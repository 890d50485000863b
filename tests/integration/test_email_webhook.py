"""Postmark's inbound webhook and Mailgun's inbound route end to end: a real server, real HTTP posts
shaped like Postmark's (its documented JSON fields, HTTP Basic credentials from the webhook URL) and
Mailgun's (its form, signed in its fields), and the same rules as mail by SMTP: a new conversation at
the support address, replies into their conversation, one message per Message-ID, automatic mail
dropped, 200 only after COMMIT."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from papote.channels.email import tokens
from tests.harness import PapoteServer, agent, new_msg_id, serve, until_io
from tests.integration.test_email import DOMAIN, Sink, sink

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]
__all__ = ["sink"]

SECRET = "postmark-inbound-secret-1234"
SUPPORT = "help@shop.test"
PATH = "/api/webhooks/postmark/inbound"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
MAILGUN_PATH = "/api/webhooks/mailgun/inbound"


@pytest.fixture
def hook_server(tmp_path: Path, server_backend: str, sink: tuple[Sink, int],
                request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, backend=server_backend, env_extra={
        "PAPOTE_SMTP_URL": f"smtp://127.0.0.1:{sink[1]}",
        "PAPOTE_EMAIL_FROM": "papote@shop.test",
        "PAPOTE_EMAIL_DOMAIN": DOMAIN,
        "PAPOTE_EMAIL_CHECK_SECS": "1",
        "PAPOTE_POSTMARK_INBOUND_SECRET": SECRET,
        "PAPOTE_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
    })
    yield from serve(server, request)


def payload(text: str, *, to: str = SUPPORT, sender: str = "ann@example.test", message_id: str = "",
            headers: list[dict[str, str]] | None = None, html: str = "", subject: str = "Order 1234") -> dict[str, Any]:
    """Postmark's inbound JSON (https://postmarkapp.com/developer/webhooks/inbound-webhook)."""
    return {
        "FromName": "Ann Smith", "MessageStream": "inbound", "From": sender,
        "FromFull": {"Email": sender, "Name": "Ann Smith", "MailboxHash": ""},
        "To": to, "ToFull": [{"Email": to, "Name": "", "MailboxHash": ""}], "Cc": "", "CcFull": [], "Bcc": "",
        "BccFull": [], "OriginalRecipient": to, "Subject": subject,
        "MessageID": "73e6d360-66eb-11e1-8e72-" + new_msg_id()[-12:], "ReplyTo": "", "MailboxHash": "",
        "Date": "Fri, 1 Aug 2026 16:45:32 -04:00", "TextBody": text, "HtmlBody": html,
        "StrippedTextReply": "", "Tag": "",
        "Headers": [{"Name": "X-Spam-Status", "Value": "No"},
                    {"Name": "Message-ID", "Value": message_id or f"<{new_msg_id()}@mail.example.test>"},
                    *(headers or [])],
        "Attachments": [],
    }


def post(server: PapoteServer, body: Any, password: str | None = SECRET, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(server.base_url + PATH, data=data, method="POST",
                                 headers={"content-type": "application/json"})
    if password is not None:
        req.add_header("authorization", "Basic " + base64.b64encode(f"postmark:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read() or b"null")


async def send(server: PapoteServer, body: Any, password: str | None = SECRET) -> tuple[int, Any]:
    return await asyncio.to_thread(post, server, body, password)


def texts(server: PapoteServer) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in server.sql(
        "SELECT conversation_id, body FROM messages WHERE kind='text' AND author_kind='visitor' ORDER BY created_at")]


async def test_postmark_inbound(hook_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server, (relay, _) = hook_server, sink
    cookie = await asyncio.to_thread(server.login)
    status, _, _ = await asyncio.to_thread(server.http, "PATCH", f"/api/sites/{server.site_key}",
                                           {"settings": {"email_support_address": SUPPORT}}, cookie)
    assert status == 200
    first = payload("The parcel never came.\n\nSent from my iPhone", message_id="<ann-1@mail.example.test>")

    # No credentials, wrong ones, a body that is no Postmark message: refused, nothing stored.
    assert (await send(server, first, None))[0] == 401
    assert (await send(server, first, "wrong-secret"))[0] == 401
    assert texts(server) == []
    status, bad = await asyncio.to_thread(post, server, None, SECRET, b"{not json")
    assert status == 400 and bad["error"]["code"] == "bad_frame"
    assert (await send(server, {"FromFull": {}}))[0] == 400
    # A recipient that is no site's: 403 (Postmark stops retrying).
    status, _ = await send(server, payload("hi", to="nobody@shop.test"))
    assert status == 403

    # The mail: 200 once stored; Postmark's re-deliveries are the same message.
    for _ in range(3):
        status, answer = await send(server, first)
        assert status == 200 and answer["ok"] is True
    [(cid, body)] = texts(server)
    assert body == "Order 1234\n\nThe parcel never came."
    assert server.sql("SELECT address FROM email_threads WHERE conversation_id=?", cid) == [("ann@example.test",)]

    # The agent answers by mail; Ann's answer comes back through the webhook to the reply address.
    a = await agent(server)
    await a.send({"t": "send", "ref": 1, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Checking."})
    await a.expect("ack", ref=1)
    await until_io(lambda: relay.mails, "the reply by mail")
    reply_to = relay.mails[0]["Reply-To"].addresses[0].addr_spec
    assert tokens.parse_reply_address(reply_to, DOMAIN) is not None
    html_only = payload("", to=reply_to, subject="Re: Order 1234", html=(
        "<div>Any news?</div><div class=\"gmail_quote\">On Fri, Ann wrote:<blockquote>Checking.</blockquote></div>"),
        headers=[{"Name": "In-Reply-To", "Value": relay.mails[0]["Message-ID"]}])
    status, _ = await send(server, html_only)
    assert status == 200
    assert [b for c, b in texts(server) if c == cid] == ["Order 1234\n\nThe parcel never came.", "Any news?"]

    # Automatic mail: accepted (200, nothing to retry) and dropped.
    before = texts(server)
    for auto in ([{"Name": "Auto-Submitted", "Value": "auto-replied"}], [{"Name": "Precedence", "Value": "bulk"}],
                 [{"Name": "Return-Path", "Value": "<>"}]):
        status, answer = await send(server, payload("I am away", headers=auto))
        assert status == 200 and "dropped" in answer["outcome"]
    assert texts(server) == before


def mailgun_form(text: str, *, to: str = SUPPORT, sender: str = "bob@example.test", message_id: str = "",
                 headers: list[list[str]] | None = None, html: str = "", subject: str = "Invoice 77",
                 key: str = MAILGUN_KEY, timestamp: int | None = None) -> dict[str, str]:
    """Mailgun's parsed inbound post (its documented fields), signed like Mailgun signs it."""
    message_id = message_id or f"<{new_msg_id()}@mail.example.test>"
    all_headers = [["Received", "from mail.example.test by mxa.mailgun.org"], ["From", f"Bob Martin <{sender}>"],
                   ["To", to], ["Subject", subject], ["Message-Id", message_id],
                   ["Content-Type", "text/html; charset=utf-8" if html and not text else "multipart/alternative"],
                   *(headers or [])]
    at = str(int(time.time()) if timestamp is None else timestamp)
    token = secrets.token_hex(25)  # 50 characters, like Mailgun's
    return {
        "recipient": to, "sender": sender, "from": f"Bob Martin <{sender}>", "subject": subject,
        "body-plain": text or "Any news? > On Fri, Bob wrote: Checking.", "body-html": html,
        "stripped-text": "(not used)", "stripped-signature": "", "Message-Id": message_id,
        "message-headers": json.dumps(all_headers), "attachment-count": "0",
        "timestamp": at, "token": token,
        "signature": hmac.new(key.encode(), (at + token).encode(), hashlib.sha256).hexdigest(),
    }


async def post_mailgun(server: PapoteServer, form: dict[str, str], *, multipart: bool = False) -> tuple[int, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        if multipart:  # as Mailgun posts a mail with attachments
            files = {"attachment-1": ("invoice.pdf", b"%PDF-1.4 fake", "application/pdf")}
            answer = await http.post(MAILGUN_PATH, data={**form, "attachment-count": "1"}, files=files)
        else:
            answer = await http.post(MAILGUN_PATH, data=form)
    return answer.status_code, answer.json()


async def test_mailgun_inbound(hook_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server, (relay, _) = hook_server, sink
    cookie = await asyncio.to_thread(server.login)
    status, _, _ = await asyncio.to_thread(server.http, "PATCH", f"/api/sites/{server.site_key}",
                                           {"settings": {"email_support_address": SUPPORT}}, cookie)
    assert status == 200
    first = mailgun_form("The invoice is wrong.\n\n-- \nBob", message_id="<bob-1@mail.example.test>")

    # Unsigned, signed with another key, stale, or from the future: 401, nothing stored.
    unsigned = {k: v for k, v in first.items() if k != "signature"}
    assert (await post_mailgun(server, unsigned))[0] == 401
    assert (await post_mailgun(server, mailgun_form("x", key="key-someone-else")))[0] == 401
    for when in (int(time.time()) - 16 * 60, int(time.time()) + 5 * 60):
        status, body = await post_mailgun(server, mailgun_form("x", timestamp=when))
        assert (status, body["error"]["code"]) == (401, "unauthorized")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        bad = await http.post(MAILGUN_PATH, content=b"{}", headers={"content-type": "application/json"})
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_frame")
    assert texts(server) == []

    # The mail, as a multipart post with an attachment (kept as the message's file): 200 once stored.
    status, answer = await post_mailgun(server, first, multipart=True)
    assert status == 200 and answer == {"ok": True, "outcome": "stored"}
    [(cid, body)] = texts(server)
    assert body == "Invoice 77\n\nThe invoice is wrong."
    assert server.sql("SELECT name FROM attachments WHERE conversation_id=?", cid) == [("invoice.pdf",)]
    # The same signed post again (a replay): 406, Mailgun's "do not retry"; nothing more stored.
    status, answer = await post_mailgun(server, first)
    assert (status, answer["error"]["code"]) == (406, "conflict")
    # The same mail signed afresh (Mailgun's retry of a post whose answer was lost): one message.
    again = mailgun_form("The invoice is wrong.\n\n-- \nBob", message_id="<bob-1@mail.example.test>")
    status, answer = await post_mailgun(server, again)
    assert status == 200 and answer["ok"] is True
    assert texts(server) == [(cid, body)]
    # A recipient that is none of ours: 406 (Mailgun stops), nothing stored.
    status, answer = await post_mailgun(server, mailgun_form("hi", to="nobody@shop.test"))
    assert (status, answer["error"]["code"]) == (406, "forbidden")

    # The agent answers by mail; Bob's HTML-only answer comes back to the reply address, threaded.
    a = await agent(server)
    await a.send({"t": "send", "ref": 1, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Checking."})
    await a.expect("ack", ref=1)
    await until_io(lambda: relay.mails, "the reply by mail")
    reply_to = relay.mails[0]["Reply-To"].addresses[0].addr_spec
    html_only = mailgun_form("", to=reply_to, subject="Re: Invoice 77", html=(
        "<div>Any news?</div><div class=\"gmail_quote\">On Fri, Bob wrote:<blockquote>Checking.</blockquote></div>"),
        headers=[["In-Reply-To", relay.mails[0]["Message-ID"]]])
    status, answer = await post_mailgun(server, html_only)
    assert status == 200, answer
    assert [b for c, b in texts(server) if c == cid] == ["Invoice 77\n\nThe invoice is wrong.", "Any news?"]

    # Automatic mail and a null envelope sender: accepted (200, nothing to retry) and dropped.
    before = texts(server)
    for form in (mailgun_form("I am away", headers=[["Auto-Submitted", "auto-replied"]]),
                 {**mailgun_form("Delivery report"), "sender": ""}):
        status, answer = await post_mailgun(server, form)
        assert status == 200 and "dropped" in answer["outcome"], answer
    assert texts(server) == before

    # A route whose URL ends in `mime` posts the mail as received: a field larger than a form's usual
    # 1 MB part is read whole (with an attachment, as Mailgun posts it).
    raw = (f"From: Carl <carl@example.test>\r\nTo: {SUPPORT}\r\nSubject: Big one\r\n"
           f"Message-ID: <carl-1@mail.example.test>\r\nContent-Type: text/plain\r\n\r\n"
           "Please see below.\r\n" + "x" * 1_200_000 + "\r\n")
    signed = mailgun_form("unused")
    mime = {k: signed[k] for k in ("timestamp", "token", "signature")}
    status, answer = await post_mailgun(server, {**mime, "recipient": SUPPORT, "sender": "carl@example.test",
                                                 "body-mime": raw}, multipart=True)
    assert status == 200 and answer["outcome"] == "stored", answer
    assert any(b.startswith("Big one\n\nPlease see below.") for _, b in texts(server))

"""Email as a channel of its own, end to end: mail to a site's support address (real SMTP into the
server's listener) starts a conversation, the agent's reply goes back through a real SMTP sink threaded
under the customer's mail, and the customer's answer continues the same conversation."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from papote.channels.email import tokens
from tests.harness import PapoteServer, agent, new_msg_id, serve, until_io
from tests.integration.test_email import DOMAIN, Sink, mail_env, sink, text_of

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]
__all__ = ["sink"]

SUPPORT = "help@shop.test"
ANN = "ann@example.test"


@pytest.fixture
def mail_server(tmp_path: Path, server_backend: str, sink: tuple[Sink, int],
                request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, backend=server_backend,
                          env_extra=mail_env(sink[1], "papote@shop.test", smtp_timeout_secs=5))
    yield from serve(server, request)


def listen_port(server: PapoteServer) -> int:
    return int(server.env_extra["PAPOTE_SMTP_LISTEN"].rsplit(":", 1)[1])


def mail(body: str, *, sender: str = f"Ann Smith <{ANN}>", to: str = SUPPORT, subject: str = "Broken zip",
         message_id: str = "", headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or f"<{new_msg_id()}@example.test>"
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    return msg


async def deliver(server: PapoteServer, msg: EmailMessage, to: str = SUPPORT, sender: str = ANN) -> None:
    await aiosmtplib.send(msg, sender=sender, recipients=[to], hostname="127.0.0.1", port=listen_port(server),
                          timeout=30)


def conversations_of(server: PapoteServer, address: str) -> list[str]:
    return [r[0] for r in server.sql("SELECT conversation_id FROM email_threads WHERE address=? ORDER BY created_at",
                                     address)]


def bodies(server: PapoteServer, cid: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in server.sql(
        "SELECT author_kind, body FROM messages WHERE conversation_id=? AND kind='text' ORDER BY seq", cid)]


async def patch_settings(server: PapoteServer, key: str, settings: dict[str, Any]) -> tuple[int, Any]:
    cookie = await asyncio.to_thread(server.login)
    status, body, _ = await asyncio.to_thread(server.http, "PATCH", f"/api/sites/{key}", {"settings": settings},
                                              cookie)
    return status, body


async def test_mail_to_the_support_address_is_a_conversation(mail_server: PapoteServer,
                                                            sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    # Off until the site names its address: the listener refuses the address at RCPT.
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await deliver(server, mail("Hello?"))
    status, body = await patch_settings(server, server.site_key, {"email_support_address": "Help@Shop.test"})
    assert status == 200 and body["settings"]["email_support_address"] == SUPPORT
    cookie = await asyncio.to_thread(server.login)
    status, other, _ = await asyncio.to_thread(server.http, "POST", "/api/sites", {"name": "B"}, cookie)
    assert status == 201
    status, clash = await patch_settings(server, other["key"], {"email_support_address": SUPPORT})
    assert status == 409 and clash["error"]["code"] == "conflict"
    status, bad = await patch_settings(server, server.site_key, {"email_support_address": "not an address"})
    assert status == 400 and bad["error"]["code"] == "bad_field"
    a = await agent(server)

    # A new mail: a new conversation, the subject its first line, the signature stripped. Three times: one.
    first = mail("My zip broke on the first day.\n\n-- \nAnn Smith\n+33 6 00 00 00 00",
                 message_id="<ann-1@example.test>")
    for _ in range(3):
        await deliver(server, first)
    [cid] = await until_io(lambda: conversations_of(server, ANN), "the conversation")
    assert bodies(server, cid) == [("visitor", "Broken zip\n\nMy zip broke on the first day.")]
    contact = server.sql("SELECT v.email, v.name, v.verified FROM conversations c JOIN visitors v "
                         "ON v.id=c.visitor_id WHERE c.id=?", cid)
    assert contact == [(ANN, "Ann Smith", 0)]
    live = await a.expect("message", conversation=cid, timeout=30)
    assert live["data"]["email"]["channel"] == "support"

    # The agent answers: one mail, at once, threaded under Ann's, with a signed Reply-To.
    await a.send({"t": "send", "ref": 1, "conversation": cid, "client_msg_id": new_msg_id(),
                  "body": "Sorry! A new one is on its way."})
    await a.expect("ack", ref=1)
    await until_io(lambda: relay.mails, "the agent's reply by mail")
    reply = relay.mails[0]
    assert reply["To"] == ANN and reply["Subject"] == "Re: Broken zip"
    assert reply["In-Reply-To"] == "<ann-1@example.test>" and "<ann-1@example.test>" in reply["References"]
    assert "Sorry! A new one is on its way." in text_of(reply)
    reply_to = reply["Reply-To"].addresses[0].addr_spec
    assert tokens.parse_reply_address(reply_to, DOMAIN) is not None

    # Ann answers to the support address (her client kept it): the same conversation, quotes stripped.
    quoted = f"Thanks!\n\nOn Mon, 7 Dec 2026, Test shop <{SUPPORT}> wrote:\n> Sorry! A new one is on its way.\n"
    await deliver(server, mail(quoted, subject="Re: Broken zip", headers={
        "In-Reply-To": reply["Message-ID"], "References": f"<ann-1@example.test> {reply['Message-ID']}"}))
    # And to the Reply-To: the same conversation again.
    await deliver(server, mail("One more thing: blue, please.", subject="Re: Broken zip",
                               headers={"In-Reply-To": reply["Message-ID"]}), to=reply_to)
    await until_io(lambda: len(bodies(server, cid)) == 4, "both answers in the conversation")
    assert bodies(server, cid)[2:] == [("visitor", "Thanks!"), ("visitor", "One more thing: blue, please.")]
    assert conversations_of(server, ANN) == [cid]

    # Another sender naming Ann's thread starts a conversation of their own; it never joins hers.
    await deliver(server, mail("Let me in", sender="mallory@example.test", headers={
        "References": reply["Message-ID"]}), sender="mallory@example.test")
    [mallory] = await until_io(lambda: conversations_of(server, "mallory@example.test"), "mallory's conversation")
    assert mallory != cid and len(bodies(server, cid)) == 4

    # An out-of-office and a bounce to the support address store nothing.
    # (Texts only: routing may add an `assigned` event to Mallory's conversation meanwhile.)
    before = server.sql("SELECT count(*) FROM messages WHERE kind='text'")
    await deliver(server, mail("I am away.", headers={"Auto-Submitted": "auto-replied"}))
    await deliver(server, mail("Away", headers={"X-Autoreply": "yes"}))
    dsn = (f"From: MAILER-DAEMON@example.test\r\nTo: {SUPPORT}\r\nMessage-ID: <dsn-9@example.test>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
           "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--B\r\n"
           "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; example.test\r\n\r\n"
           "Final-Recipient: rfc822; gone@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n")

    def null_sender_mail() -> None:  # a bounce comes from the null return path, MAIL FROM:<>
        with smtplib.SMTP("127.0.0.1", listen_port(server), timeout=30) as client:
            client.sendmail("", [SUPPORT], dsn.encode())

    await asyncio.to_thread(null_sender_mail)
    assert server.sql("SELECT count(*) FROM messages WHERE kind='text'") == before
    assert server.sql("SELECT state FROM email_addresses WHERE email='gone@example.test'") == [("bouncing",)]
    await until_io(lambda: server.sql("SELECT count(*) FROM deliveries WHERE kind='reply' AND status='sent'") == [(1,)],
                "the reply recorded as sent")

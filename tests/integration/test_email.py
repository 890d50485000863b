"""Email continuation end to end: a real server, a real SMTP sink for what it sends (aiosmtpd in the
test's loop), real SMTP into its listener for replies, real WebSocket clients; SQLite and PostgreSQL.

Waits are on conditions (a mail in the sink, a row in the store), never fixed sleeps."""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import AsyncIterator, Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP

from papote.channels.email import tokens
from papote.identity import sign_jwt
from tests.harness import Client, PapoteServer, agent, free_port, new_msg_id, serve, until_io, visitor

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]

DOMAIN = "reply.shop.test"
ANN = "ann@example.test"


class Sink:
    """The relay: records every mail it accepts. `stall_next` makes it hold the next DATA unanswered."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        #: time.monotonic() of each accepted mail.
        self.arrived: list[float] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.stall_next = False
        self.stalled = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stall_next:
            self.stall_next = False
            self.stalled.set()
            await self.release.wait()
            return "451 4.3.0 not this time"
        msg = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(msg, EmailMessage)
        self.mails.append(msg)
        self.arrived.append(time.monotonic())
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[tuple[Sink, int]]:
    handler = Sink()
    loop = asyncio.get_running_loop()
    # aiosmtpd's Controller cannot take port 0; a server in this loop can.
    server = await loop.create_server(lambda: SMTP(handler, hostname="sink.test"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield handler, port
    handler.release.set()
    server.close()


def mail_env(sink_port: int, sender: str = "support@shop.test", smtp_timeout_secs: int | None = 2) -> dict[str, str]:
    """A mail-sending server's settings: the sink as relay, a listener of its own, quick checks."""
    env = {
        "PAPOTE_SMTP_URL": f"smtp://127.0.0.1:{sink_port}",
        "PAPOTE_EMAIL_FROM": sender,
        "PAPOTE_EMAIL_DOMAIN": DOMAIN,
        "PAPOTE_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
        "PAPOTE_EMAIL_CHECK_SECS": "1",
    }
    if smtp_timeout_secs is not None:
        env["PAPOTE_SMTP_TIMEOUT_SECS"] = str(smtp_timeout_secs)
    return env


@pytest.fixture
def mail_server(tmp_path: Path, server_backend: str, sink: tuple[Sink, int],
                request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, backend=server_backend, env_extra=mail_env(sink[1]))
    yield from serve(server, request)


def listen_port(server: PapoteServer) -> int:
    return int(server.env_extra["PAPOTE_SMTP_LISTEN"].rsplit(":", 1)[1])


def set_delay(server: PapoteServer, seconds: int, **more: Any) -> None:
    cookie = server.login()
    status, body, _ = server.http("PATCH", f"/api/sites/{server.site_key}",
                                  {"settings": {"email_delay": seconds, **more}}, cookie=cookie)
    assert status == 200, body


async def ann_writes(server: PapoteServer, body: str = "Where is my order?") -> tuple[Client, str]:
    v = await visitor(server)
    claims = {"sub": "ann", "exp": int(time.time()) + 600, "email": ANN, "name": "Ann"}
    await v.send({"t": "identify", "ref": 9, "user_id": "ann", "jwt": sign_jwt(server.site_secret, claims)})
    await v.expect("identified", ref=9)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": body})
    return v, (await v.expect("ack", ref=1))["conversation"]


async def agent_says(a: Client, cid: str, body: str, ref: int) -> int:
    await a.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(), "body": body})
    return int((await a.expect("ack", ref=ref))["seq"])


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def deliveries(server: PapoteServer, cid: str) -> list[tuple[Any, ...]]:
    return server.sql("SELECT kind, status, attempts FROM deliveries WHERE conversation_id=? ORDER BY created_at",
                      cid)


async def send_reply(server: PapoteServer, to: str, body: str, *, sender: str = ANN, message_id: str = "",
                     headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
    if raw is None:
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = to
        msg["Subject"] = "Re: Your conversation with Test shop"
        msg["Message-ID"] = message_id or f"<{new_msg_id()}@example.test>"
        for k, v in (headers or {}).items():
            msg[k] = v
        msg.set_content(body)
        raw = msg.as_bytes()
    await aiosmtplib.send(raw, sender=sender, recipients=[to], hostname="127.0.0.1", port=listen_port(server),
                          timeout=30)


def emailed_seq(server: PapoteServer, cid: str) -> int:
    rows = server.sql("SELECT emailed_seq FROM email_cursors WHERE conversation_id=?", cid)
    return int(rows[0][0]) if rows else 0


def stored_bodies(server: PapoteServer, cid: str) -> list[str]:
    return [r[0] for r in server.sql(
        "SELECT body FROM messages WHERE conversation_id=? AND author_kind='visitor' AND kind='text' ORDER BY seq",
        cid)]


async def test_round_trip(mail_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    set_delay(server, 1)
    a = await agent(server)
    v, cid = await ann_writes(server)
    await v.close()  # Ann leaves before anyone answers
    await a.send({"t": "send", "ref": 1, "conversation": cid, "client_msg_id": new_msg_id(),
                  "body": "Internal: check the warehouse first", "note": True})
    await a.expect("ack", ref=1)
    replied = time.monotonic()
    await agent_says(a, cid, "It ships tomorrow.", 2)

    await until_io(lambda: relay.mails, "the digest")
    assert relay.arrived[0] - replied >= 1.0, "not before the site's email_delay"
    first = relay.mails[0]
    assert first["To"] == ANN and first["From"].addresses[0].addr_spec == "support@shop.test"
    assert first["Auto-Submitted"] == "auto-generated"
    reply_to = first["Reply-To"].addresses[0].addr_spec
    token = tokens.parse_reply_address(reply_to, DOMAIN)
    assert token is not None and token.conversation_id == cid
    assert "It ships tomorrow." in text_of(first) and "Where is my order?" not in text_of(first)
    assert "warehouse" not in first.as_string()  # an internal note never leaves
    assert first.get_body(("html",)) is not None
    unsubscribe = first["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(server.base_url + "/email/unsubscribe?t=")
    assert relay.envelopes[0][0] == reply_to  # bounces come back to the conversation's own address
    await until_io(lambda: deliveries(server, cid) == [("digest", "sent", 1)], "the delivery recorded as sent")

    # A second reply: a second digest, threaded under the first.
    await agent_says(a, cid, "Tracking number: 42.", 3)
    await until_io(lambda: len(relay.mails) == 2, "the second digest")
    second = relay.mails[1]
    assert "Tracking number: 42." in text_of(second) and "It ships tomorrow." not in text_of(second)
    assert second["In-Reply-To"] == first["Message-ID"] and first["Message-ID"] in second["References"]
    assert second["Subject"] == first["Subject"]

    # Ann answers from her mail client, quoting as Gmail does: the agent sees her words live.
    quoted = f"Great, thanks!\n\nOn Mon, 7 Dec 2026 at 10:02, Test shop <{reply_to}> wrote:\n> Tracking number: 42.\n"
    mid = "<ann-reply-1@example.test>"
    await send_reply(server, reply_to, quoted, message_id=mid, headers={"In-Reply-To": second["Message-ID"]})
    live = await a.expect("message", conversation=cid, body="Great, thanks!", timeout=30)
    assert live["author"]["kind"] == "visitor"
    # The same mail delivered three times is one message.
    await send_reply(server, reply_to, quoted, message_id=mid)
    await send_reply(server, reply_to, quoted, message_id=mid)
    assert stored_bodies(server, cid) == ["Where is my order?", "Great, thanks!"]

    # A forged token is refused at RCPT; nothing is taken in.
    forged = f"reply+{tokens.conversation_code(cid)}.{'a' * 16}@{DOMAIN}"
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send_reply(server, forged, "let me in")
    assert refused.value.recipients[0].code == 550

    # An out-of-office reply and a bounce store nothing; the bounce stops continuation.
    await send_reply(server, reply_to, "I am away until Monday.", headers={"Auto-Submitted": "auto-replied"})
    dsn = (f"From: MAILER-DAEMON@example.test\r\nTo: {reply_to}\r\nMessage-ID: <dsn-1@example.test>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
           "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--B\r\n"
           "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; example.test\r\n\r\n"
           f"Final-Recipient: rfc822; {ANN}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n").encode()

    def null_sender_mail() -> None:  # a bounce comes from the null return path, MAIL FROM:<>
        with smtplib.SMTP("127.0.0.1", listen_port(server), timeout=30) as client:
            client.sendmail("", [reply_to], dsn)

    await asyncio.to_thread(null_sender_mail)
    assert stored_bodies(server, cid) == ["Where is my order?", "Great, thanks!"]
    assert server.sql("SELECT state FROM email_addresses WHERE email=?", ANN) == [("bouncing",)]
    seq = await agent_says(a, cid, "Anything else?", 4)
    await until_io(lambda: emailed_seq(server, cid) >= seq, "the decision past the last reply")
    assert len(relay.mails) == 2 and len(deliveries(server, cid)) == 2


async def test_no_mail_when_the_visitor_reads_first(mail_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    set_delay(server, 5)
    a = await agent(server)
    v, cid = await ann_writes(server)
    seq = await agent_says(a, cid, "Hello Ann!", 2)
    await v.expect("message", body="Hello Ann!")
    await v.send({"t": "read", "conversation": cid, "seq": seq})
    # The agent hears the read once it is stored: only then may the visitor leave (a `read` has no answer
    # of its own, and on a loaded machine the close could otherwise race it past the 5 s delay).
    await a.expect("read", timeout=30)
    await v.close()
    await until_io(lambda: emailed_seq(server, cid) >= seq, "the decision not to mail", timeout=90)
    assert relay.mails == [] and deliveries(server, cid) == []


async def test_a_typed_address_is_confirmed_before_any_content(mail_server: PapoteServer,
                                                              sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    set_delay(server, 1)
    a = await agent(server)
    v = await visitor(server)  # anonymous: the address is only typed
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Hi"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    await v.send({"t": "contact", "ref": 2, "conversation": cid, "email": "Bob@Example.test"})
    await v.expect("ok", ref=2)
    await v.close()
    await agent_says(a, cid, "Secret order details", 3)

    await until_io(lambda: relay.mails, "the confirmation request")
    ask = relay.mails[0]
    assert ask["To"] == "bob@example.test" and "Secret order details" not in ask.as_string()
    assert ask["Reply-To"] is None
    link = next(w for w in text_of(ask).split() if "/email/confirm?t=" in w)
    # The page behind the link asks; only its button (a POST) confirms. A forged token gets a 404.
    path = link.removeprefix(server.base_url)
    status, page, _ = await asyncio.to_thread(server.http, "GET", path)
    assert status == 200 and "<form" in page and relay.mails[1:] == []
    status, _, _ = await asyncio.to_thread(server.http, "POST", path[:-3] + "AAA")
    assert status == 404
    status, done, _ = await asyncio.to_thread(server.http, "POST", path)
    assert status == 200 and "bob@example.test" in done
    await until_io(lambda: len(relay.mails) == 2, "the digest after confirmation")
    assert "Secret order details" in text_of(relay.mails[1])

    # Unsubscribing (RFC 8058 one-click) stops continuation for this address on this site.
    unsubscribe = relay.mails[1]["List-Unsubscribe"].strip("<>").removeprefix(server.base_url)
    status, _, _ = await asyncio.to_thread(server.http, "POST", unsubscribe)
    assert status == 200
    assert server.sql("SELECT state FROM email_addresses WHERE email=?", "bob@example.test") == [("unsubscribed",)]
    seq = await agent_says(a, cid, "Still there?", 4)
    await until_io(lambda: emailed_seq(server, cid) >= seq, "the decision past the last reply")
    assert len(relay.mails) == 2


async def test_a_kill_between_claim_and_send_loses_nothing(mail_server: PapoteServer,
                                                           sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    set_delay(server, 1)
    a = await agent(server)
    v, cid = await ann_writes(server)
    await v.close()
    relay.stall_next = True  # the relay takes the mail's bytes and holds its answer
    await agent_says(a, cid, "Your refund is on its way.", 2)
    await asyncio.wait_for(relay.stalled.wait(), 60)
    assert deliveries(server, cid) == [("digest", "sending", 1)]  # claimed, not sent
    await asyncio.to_thread(server.kill)  # kill -9 mid-send
    relay.release.set()
    await asyncio.to_thread(server.start)
    await until_io(lambda: relay.mails, "the digest, sent after the restart")
    await until_io(lambda: deliveries(server, cid) == [("digest", "sent", 2)], "the second attempt recorded")
    assert len(relay.mails) == 1 and "Your refund is on its way." in text_of(relay.mails[0])


async def test_a_reply_from_another_address_is_flagged_or_refused(mail_server: PapoteServer,
                                                                 sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    set_delay(server, 1)
    a = await agent(server)
    v, cid = await ann_writes(server)
    await v.close()
    await agent_says(a, cid, "Which size?", 2)
    await until_io(lambda: relay.mails, "the digest")
    reply_to = relay.mails[0]["Reply-To"].addresses[0].addr_spec

    await send_reply(server, reply_to, "Size M please (from my work address)", sender="ann@work.test")
    flagged = await a.expect("message", conversation=cid, body="Size M please (from my work address)", timeout=30)
    assert flagged["data"]["email"] == {"message_id": flagged["data"]["email"]["message_id"],
                                        "from": "ann@work.test", "unverified_sender": True}
    # Ann's own address is not flagged: her reply's data says only where it came from.
    await send_reply(server, reply_to, "And in blue.")
    own_reply = await a.expect("message", conversation=cid, body="And in blue.", timeout=30)
    assert "unverified_sender" not in own_reply["data"]["email"] and own_reply["data"]["email"]["from"] == ANN

    set_delay(server, 1, email_foreign_sender="refuse")
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send_reply(server, reply_to, "Let me in", sender="mallory@example.test")
    assert refused.value.code == 550
    assert "Let me in" not in stored_bodies(server, cid)


async def test_two_nodes_send_each_digest_once(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    """Two nodes on one PostgreSQL database both scan and both send: each due digest goes out once (the
    scan's leader lock, the cursor's compare-and-set, the claim's SKIP LOCKED)."""
    relay, port = sink
    env = {"PAPOTE_SMTP_URL": f"smtp://127.0.0.1:{port}", "PAPOTE_EMAIL_FROM": "support@shop.test",
           "PAPOTE_EMAIL_DOMAIN": DOMAIN, "PAPOTE_EMAIL_CHECK_SECS": "1", "PAPOTE_SMTP_TIMEOUT_SECS": "5"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    node_a = PapoteServer(tmp_path / "a", backend="postgres", env_extra=dict(env))
    node_b = PapoteServer(tmp_path / "b", backend="postgres", env_extra=dict(env))
    try:
        node_a.init()
        node_b.database_url = node_a.database
        node_b.site_key, node_b.site_secret = node_a.site_key, node_a.site_secret
        await asyncio.to_thread(node_a.start)
        await asyncio.to_thread(node_b.start)
        set_delay(node_a, 1)
        a = await agent(node_a)
        cids = []
        for i in range(8):
            # The shop's page is node A's origin, whichever node the visitor reaches.
            v = await visitor(node_a if i % 2 else node_b, origin=node_a.base_url)
            claims = {"sub": f"u{i}", "exp": int(time.time()) + 600, "email": f"u{i}@example.test"}
            await v.send({"t": "identify", "ref": 9, "user_id": f"u{i}", "jwt": sign_jwt(node_a.site_secret, claims)})
            await v.expect("identified", ref=9)
            await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hi"})
            cids.append((await v.expect("ack", ref=1))["conversation"])
            await v.close()
        for i, cid in enumerate(cids):
            await agent_says(a, cid, f"Answer {i}", 10 + i)
        await until_io(lambda: len(relay.mails) >= 8, "eight digests", timeout=90)
        await until_io(lambda: node_a.sql("SELECT count(*) FROM deliveries WHERE status='sent'") == [(8,)],
                       "eight deliveries recorded as sent")
        assert sorted(m["To"] for m in relay.mails) == sorted(f"u{i}@example.test" for i in range(8))
        assert node_a.sql("SELECT count(*), max(attempts) FROM deliveries") == [(8, 1)]
        # Both nodes kept deciding meanwhile: one more round each finds nothing more to send.
        seq = await agent_says(a, cids[0], "One more thing", 30)
        await until_io(lambda: emailed_seq(node_a, cids[0]) >= seq and len(relay.mails) == 9, "the ninth digest")
        assert len(relay.mails) == 9
    finally:
        node_b.stop()
        node_a.close()

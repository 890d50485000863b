"""Transcripts by mail, end to end: a visitor asks from the widget (the `transcript` frame) and a site
sends one at close; only to an address the visitor is known to hold; a real SMTP sink receives them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from papote.identity import sign_jwt
from tests.harness import Client, PapoteServer, agent, new_msg_id, serve, until_io, visitor
from tests.integration.test_email import Sink, mail_env, sink, text_of

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]
__all__ = ["sink"]

ANN = "ann@example.test"


@pytest.fixture
def mail_server(tmp_path: Path, server_backend: str, sink: tuple[Sink, int],
                request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, backend=server_backend,
                          env_extra=mail_env(sink[1], "papote@shop.test", smtp_timeout_secs=None))
    yield from serve(server, request)


async def settings(server: PapoteServer, **values: object) -> None:
    cookie = await asyncio.to_thread(server.login)
    status, body, _ = await asyncio.to_thread(server.http, "PATCH", f"/api/sites/{server.site_key}",
                                              {"settings": values}, cookie)
    assert status == 200, body


async def ask(v: Client, cid: str, ref: int) -> dict[str, object]:
    await v.send({"t": "transcript", "ref": ref, "conversation": cid})
    while True:
        frame = await v.recv(10)
        if frame.get("ref") == ref and frame["t"] in ("ok", "error"):
            return frame


async def test_transcripts(mail_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    await settings(server, email_continuation=False)
    a = await agent(server)
    ann = await visitor(server)
    claims = {"sub": "ann", "exp": int(time.time()) + 600, "email": ANN, "name": "Ann"}
    await ann.send({"t": "identify", "ref": 9, "user_id": "ann", "jwt": sign_jwt(server.site_secret, claims)})
    await ann.expect("identified", ref=9)
    await ann.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(),
                    "body": "Do you ship to Belgium?"})
    cid = (await ann.expect("ack", ref=1))["conversation"]
    await a.send({"t": "send", "ref": 1, "conversation": cid, "client_msg_id": new_msg_id(),
                  "body": "Internal: check the carrier", "note": True})
    await a.expect("ack", ref=1)
    await a.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),
                  "body": "Yes, in 3 days."})
    await a.expect("ack", ref=2)

    # Asked for: to the address the site signed for Ann, with the texts and never the note.
    assert (await ask(ann, cid, 10))["t"] == "ok"
    await until_io(lambda: relay.mails, "the transcript")
    mail = relay.mails[0]
    assert mail["To"] == ANN and "Test shop" in mail["Subject"]
    text = text_of(mail)
    assert "Do you ship to Belgium?" in text and "Yes, in 3 days." in text and "carrier" not in mail.as_string()
    assert text.index("Do you ship") < text.index("Yes, in 3 days")
    # Three an hour: the fourth is refused.
    answers = [await ask(ann, cid, 11 + i) for i in range(3)]
    assert [f["t"] for f in answers[:2]] == ["ok", "ok"]
    assert answers[2]["t"] == "error" and answers[2]["code"] == "rate_limited"

    # An address only typed (never confirmed) gets no transcript.
    bob = await visitor(server)
    await bob.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Hi"})
    bob_cid = (await bob.expect("ack", ref=1))["conversation"]
    await bob.send({"t": "contact", "ref": 2, "conversation": bob_cid, "email": "bob@example.test"})
    await bob.expect("ok", ref=2)
    refused = await ask(bob, bob_cid, 3)
    assert refused["t"] == "error" and refused["code"] == "conflict"
    # Nor may a visitor ask for another's conversation: it does not exist for them.
    foreign = await ask(bob, cid, 4)
    assert foreign["t"] == "error" and foreign["code"] == "not_found"

    # At close, when the site says so.
    await until_io(lambda: len(relay.mails) == 3, "the three transcripts asked for")
    await settings(server, email_transcript_on_close=True)
    await a.send({"t": "close", "ref": 5, "conversation": cid})
    await a.expect("ok", ref=5)
    await until_io(lambda: len(relay.mails) == 4, "the transcript at close")
    assert relay.mails[3]["To"] == ANN and "Yes, in 3 days." in text_of(relay.mails[3])
    await a.send({"t": "close", "ref": 6, "conversation": bob_cid})  # a typed address: nothing at close
    await a.expect("ok", ref=6)
    await until_io(lambda: server.sql("SELECT count(*) FROM deliveries WHERE kind='transcript' AND status='sent'")
                == [(4,)], "four transcripts recorded as sent")
    # The closing's decision is recorded (done), and no mail comes of it.
    await until_io(lambda: server.sql("SELECT status FROM deliveries WHERE conversation_id=? AND channel='transcript'",
                                   bob_cid) == [("sent",)], "the decision taken")
    assert server.sql("SELECT count(*) FROM deliveries WHERE conversation_id=? AND channel='email'", bob_cid) == [(0,)]

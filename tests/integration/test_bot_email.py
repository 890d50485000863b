"""The bot out of hours, with a relay: it asks for an email, and the email continuation takes over (the
agent's later reply goes out by mail to that address). Real server, real SMTP sink, real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import PapoteServer, agent, free_port, new_msg_id, serve, until_io, visitor
from tests.integration.test_bot import BOT, CLOSED, say, tap
from tests.integration.test_email import Sink, sink

pytestmark = [pytest.mark.asyncio]
__all__ = ["sink"]  # the SMTP sink fixture, shared with the email tests


@pytest.fixture
def mail_server(tmp_path: Path, sink: tuple[Sink, int], request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, env_extra={
        "PAPOTE_SMTP_URL": f"smtp://127.0.0.1:{sink[1]}", "PAPOTE_EMAIL_FROM": "support@shop.test",
        "PAPOTE_EMAIL_DOMAIN": "reply.shop.test", "PAPOTE_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
        "PAPOTE_EMAIL_CHECK_SECS": "1", "PAPOTE_SMTP_TIMEOUT_SECS": "2"})
    yield from serve(server, request)


async def test_out_of_hours_the_bot_collects_an_email_and_the_continuation_answers(
        mail_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server = mail_server
    cookie = server.login()
    settings: dict[str, Any] = {"bot": BOT, "hours": CLOSED, "email_delay": 0}
    assert server.http("PATCH", f"/api/sites/{server.site_key}", {"settings": settings}, cookie=cookie)[0] == 200
    v = await visitor(server)
    await v.send({"t": "resume", "epoch": v.welcome["epoch"], "conversations": {}})
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Hello"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    hello = await v.expect("message", body="Hi! What is it about?", timeout=10)
    await tap(v, cid, hello, "Talk to a person", 2)
    ask = await v.expect("message", body="Our team is away right now. Leave your email and we'll answer you there.",
                         timeout=10)
    assert ask["data"]["quick_replies"][-1]["value"] == "person"
    await say(v, cid, "not sure", 3)
    await v.expect("message", body="That doesn't look like an email address. Our team is away right now. "
                                   "Leave your email and we'll answer you there.", timeout=10)
    await say(v, cid, "it's ann@example.test", 4)
    await v.expect("message", body="Thanks! We'll answer you at ann@example.test.", timeout=10)
    contact = await v.expect("message", event="contact", timeout=10)
    assert contact["data"] == {"email": "ann@example.test"}
    await v.expect("message", event="handover", timeout=10)
    assert server.sql("SELECT contact_email FROM conversations WHERE id=?", cid) == [("ann@example.test",)]
    await v.close()
    # Next morning an agent answers; the visitor is gone: the continuation writes to the address the
    # bot collected (first asking it to confirm, as for any address a visitor typed).
    a = await agent(server)
    await a.send({"t": "send", "ref": 1, "conversation": cid, "client_msg_id": new_msg_id(),
                  "body": "Good morning! Here is your answer."})
    await a.expect("ack", ref=1)
    await until_io(lambda: sink[0].envelopes, "a mail to the address the bot collected")
    assert sink[0].envelopes[0][1] == ["ann@example.test"]

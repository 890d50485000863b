"""Mail to agents end to end: a real server handing its mail to a real SMTP sink (aiosmtpd in the test's
loop) — the invitation, the password reset, and "a conversation is waiting"."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.harness import PapoteServer, agent, free_port, new_msg_id, serve, until_io, visitor
from tests.integration.test_email import DOMAIN, Sink, sink, text_of

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]
__all__ = ["sink"]  # the relay fixture, shared with test_email.py

BOB = "bob@papote.test"
BOB_PASSWORD = "bob-battery-staple"


@pytest.fixture
def mail_server(tmp_path: Path, server_backend: str, sink: tuple[Sink, int],
                request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, backend=server_backend, env_extra={
        "PAPOTE_SMTP_URL": f"smtp://127.0.0.1:{sink[1]}",
        "PAPOTE_EMAIL_FROM": "support@shop.test",
        "PAPOTE_EMAIL_DOMAIN": DOMAIN,
        "PAPOTE_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
        "PAPOTE_EMAIL_CHECK_SECS": "1",
        "PAPOTE_SMTP_TIMEOUT_SECS": "5",
        "PAPOTE_WAITING_MAIL_SECS": "1",
    })
    yield from serve(server, request)


async def http(server: PapoteServer, method: str, path: str, body: Any = None,
               cookie: str | None = None) -> tuple[int, Any, dict[str, str]]:
    # In a thread: the relay answering the server's mail runs in this loop, which must not block.
    return await asyncio.to_thread(server.http, method, path, body, cookie)


def link_in(mail: EmailMessage, pattern: str) -> str:
    found = re.search(pattern, text_of(mail))
    assert found, text_of(mail)
    return found.group(0)


def mails_to(relay: Sink, address: str) -> list[EmailMessage]:
    return [m for m in relay.mails if m["To"] == address]


async def test_an_invitation_is_mailed_and_its_link_works(mail_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    owner = await asyncio.to_thread(server.login)
    status, invite, _ = await http(server, "POST", f"/api/sites/{server.site_key}/invites",
                                   {"email": "Carol@Example.test", "role": "agent"}, owner)
    assert status == 201 and invite["emailed"] is True
    await until_io(lambda: mails_to(relay, "carol@example.test"), "the invitation")
    mail = mails_to(relay, "carol@example.test")[0]
    assert "Test shop" in mail["Subject"] and mail["Reply-To"] is None
    assert relay.envelopes[0][0] == "support@shop.test"  # an agent's bounce is not a conversation's
    url = link_in(mail, r"http://\S+/console#invite=\S+")
    assert url == invite["url"]
    token = url.split("#invite=")[1]
    status, signed_in, _ = await http(server, "POST", "/api/invites/accept",
                                      {"token": token, "password": "carol-password-1", "name": "Carol"})
    assert status == 200 and signed_in["sites"][0]["role"] == "agent"


async def test_a_password_reset(mail_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    await asyncio.to_thread(server.cli, "agent", "create", "--site", server.site_key, "--email", BOB,
                            "--password", BOB_PASSWORD, "--role", "agent")
    cookie = await asyncio.to_thread(server.login, BOB, BOB_PASSWORD)
    bob = await agent(server, cookie)

    # The same answer for an account, an unknown address and a malformed one; one mail, to the account.
    answers = [await http(server, "POST", "/api/password/forgot", {"email": e})
               for e in ("nobody@papote.test", BOB.upper(), "not an address")]
    assert [(s, b) for s, b, _ in answers] == [(202, {"ok": True})] * 3
    await until_io(lambda: mails_to(relay, BOB), "the reset mail")
    assert len(relay.mails) == 1
    url = link_in(mails_to(relay, BOB)[0], r"http://\S+/password/reset\?t=\S+")
    path = url.removeprefix(server.base_url)
    token = path.split("?t=")[1]

    # The page only shows a form (a link preview changes nothing); a wrong token changes nothing.
    status, page, headers = await http(server, "GET", path)
    assert status == 200 and 'type="password"' in page and headers["referrer-policy"] == "no-referrer"
    status, body, _ = await http(server, "POST", "/api/password/reset", {"token": token[:-4] + "AAAA",
                                                                         "password": "a-new-password"})
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body, _ = await http(server, "POST", "/api/password/reset", {"token": token, "password": "short"})
    assert status == 400
    assert (await http(server, "GET", "/api/me", cookie=cookie))[0] == 200

    # The page's form sets it: every session ends, the socket closes, the new password signs in.
    form = await asyncio.to_thread(post_form, server, path, {"password": "a-new-password"})
    assert form[0] == 200 and "password is changed" in form[1]
    assert (await http(server, "GET", "/api/me", cookie=cookie))[0] == 401
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await bob.recv(30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4010
    with pytest.raises(RuntimeError):
        await asyncio.to_thread(server.login, BOB, BOB_PASSWORD)
    await asyncio.to_thread(server.login, BOB, "a-new-password")
    # Used once: the same link again is refused, by the page and by the JSON route.
    assert (await asyncio.to_thread(post_form, server, path, {"password": "another-password"}))[0] == 404
    status, _, _ = await http(server, "POST", "/api/password/reset", {"token": token, "password": "another-pass"})
    assert status == 404

    # An expired link is refused too.
    await http(server, "POST", "/api/password/forgot", {"email": BOB})
    await until_io(lambda: len(mails_to(relay, BOB)) == 2, "the second reset mail")
    second = link_in(mails_to(relay, BOB)[1], r"http://\S+/password/reset\?t=\S+").split("?t=")[1]
    await asyncio.to_thread(write_sql, server, "UPDATE password_resets SET expires_at=1")
    status, _, _ = await http(server, "POST", "/api/password/reset", {"token": second, "password": "another-pass"})
    assert status == 404
    await asyncio.to_thread(server.login, BOB, "a-new-password")

    # Rate-limited per client address (10 an hour, both routes together), and at most 3 mails an account.
    statuses = [(await http(server, "POST", "/api/password/forgot", {"email": BOB}))[0] for _ in range(8)]
    assert 429 in statuses and statuses[0] == 202
    await asyncio.sleep(0)
    await until_io(lambda: server.sql("SELECT count(*) FROM deliveries WHERE kind='reset'") == [(3,)],
                "the account's third reset mail")


def write_sql(server: PapoteServer, query: str) -> None:
    """A write straight to the database (server.sql reads: on SQLite it never commits)."""
    if server.backend == "sqlite":
        with contextlib.closing(sqlite3.connect(server.db_path, isolation_level=None)) as db:
            db.execute("PRAGMA busy_timeout=5000")
            db.execute(query)
    else:
        server.sql(query)


def post_form(server: PapoteServer, path: str, fields: dict[str, str]) -> tuple[int, str]:
    import urllib.error
    import urllib.parse
    import urllib.request

    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(server.base_url + path, data=data, method="POST",
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


async def test_a_conversation_is_waiting(mail_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    await asyncio.to_thread(server.cli, "agent", "create", "--site", server.site_key, "--email", BOB,
                            "--password", BOB_PASSWORD, "--role", "agent")
    await asyncio.to_thread(server.cli, "agent", "create", "--site", server.site_key, "--email", "dan@papote.test",
                            "--password", BOB_PASSWORD, "--role", "agent")
    dan = await asyncio.to_thread(server.login, "dan@papote.test", BOB_PASSWORD)
    assert (await http(server, "GET", "/api/me/mail", cookie=dan))[1] == {"waiting": True}
    status, prefs, _ = await http(server, "PATCH", "/api/me/mail", {"waiting": False}, dan)
    assert status == 200 and prefs == {"waiting": False}

    # Nobody online: a visitor's two messages make one mail to each agent who wants it.
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Anyone?"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Hello?"})
    await v.expect("ack", ref=2)
    await until_io(lambda: len(relay.mails) >= 2, "the waiting mails")
    assert sorted(m["To"] for m in relay.mails) == [BOB, server.agent_email]
    mail = mails_to(relay, BOB)[0]
    assert "Anyone?" in text_of(mail) and f"/console#conversation={cid}" in text_of(mail)
    await until_io(lambda: server.sql("SELECT count(*) FROM deliveries WHERE kind='waiting' AND status='sent'")
                == [(2,)], "both sent")
    await v.send({"t": "send", "ref": 3, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Hi?"})
    await v.expect("ack", ref=3)

    # An agent answers a new conversation within the grace period: nobody is mailed about it, even once
    # the agent has left. (Who counts as online: tests/unit/test_waiting_mail.py.)
    a = await agent(server)
    w = await visitor(server)
    await w.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Help"})
    other = (await w.expect("ack", ref=1))["conversation"]
    await a.send({"t": "send", "ref": 1, "conversation": other, "client_msg_id": new_msg_id(), "body": "Hi!"})
    await a.expect("ack", ref=1)
    await a.close()
    # The worker looks at conversations in time order: once a later one is announced, this one was decided.
    x = await visitor(server)
    await x.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Later"})
    third = (await x.expect("ack", ref=1))["conversation"]
    await until_io(lambda: server.sql("SELECT conversation_id FROM waiting_notices WHERE conversation_id=?", third),
                "the third conversation announced", timeout=30)
    assert server.sql("SELECT count(*) FROM waiting_notices WHERE conversation_id=?", other) == [(0,)]
    await until_io(lambda: len(relay.mails) == 4, "two more waiting mails")
    assert sum("Hello?" in text_of(m) or "Hi?" in text_of(m) for m in relay.mails) == 0

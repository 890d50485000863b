"""The inbound paths' budgets end to end (inbound_limits.py), on SQLite and PostgreSQL: one customer
address over `PAPOTE_RATE_INBOUND_PER_ADDRESS` is told to come back later where the sender can (the
inbound API: 429 with Retry-After; SMTP: a temporary 451; Postmark and Mailgun: 429), and a messaging
webhook still answers 200 with the message held for review; nothing under budget is lost, and other
addresses go on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from tests.harness import PapoteServer, new_msg_id, serve, until_io
from tests.integration.test_email import Sink, mail_env, sink
from tests.integration.test_email_webhook import MAILGUN_KEY, SECRET, mailgun_form, payload
from tests.integration.test_messaging import APP_SECRET, VERIFY, post_meta
from tests.integration.test_messaging_media import jpeg, wa_image
from tests.providers import FakeProviders, whatsapp_message

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]
__all__ = ["sink"]

BUDGET = 3
SUPPORT = "help@shop.test"


@pytest.fixture
def providers() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def limited(tmp_path: Path, server_backend: str, sink: tuple[Sink, int], providers: FakeProviders,
            request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, backend=server_backend, env_extra={
        **mail_env(sink[1], "papote@shop.test"), **providers.env(),
        "PAPOTE_POSTMARK_INBOUND_SECRET": SECRET, "PAPOTE_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
        "PAPOTE_RATE_INBOUND_PER_ADDRESS": f"{BUDGET}/minute"})
    yield from serve(server, request)


def visitor_texts(server: PapoteServer) -> list[str]:
    return [r[0] for r in server.sql("SELECT body FROM messages WHERE kind='text' AND author_kind='visitor' "
                                     "ORDER BY created_at, seq")]


async def test_an_address_over_its_budget_comes_back_later_and_nothing_under_it_is_lost(
        limited: PapoteServer, sink: tuple[Sink, int], providers: FakeProviders) -> None:
    server = limited
    cookie = await asyncio.to_thread(server.login)
    status, _, _ = await asyncio.to_thread(server.http, "PATCH", f"/api/sites/{server.site_key}",
                                           {"settings": {"email_support_address": SUPPORT}}, cookie)
    assert status == 200
    _, key, _ = await asyncio.to_thread(server.http, "POST", f"/api/sites/{server.site_key}/keys",
                                        {"name": "integration"}, cookie)
    bearer = {"authorization": f"Bearer {key['key']}"}

    # The inbound API: the contact's fourth message in the minute is 429 with Retry-After, not stored;
    # another contact is not held back.
    async with httpx.AsyncClient(base_url=server.base_url, headers=bearer, timeout=30) as http:
        path = f"/api/sites/{server.site_key}/inbound/messages"

        async def say(who: str, body: str) -> httpx.Response:
            return await http.post(path, json={"contact": {"external_id": who}, "client_msg_id": new_msg_id(),
                                               "body": body})

        for n in range(BUDGET):
            assert (await say("crm-1", f"api {n}")).status_code == 201
        over = await say("crm-1", "api over")
        assert over.status_code == 429 and over.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert (await say("crm-2", "api other")).status_code == 201
    assert "api over" not in visitor_texts(server)

    # SMTP: the sender's fourth mail is refused for now with a 451, which the sending server retries.
    port = int(server.env_extra["PAPOTE_SMTP_LISTEN"].rsplit(":", 1)[1])

    def mail(n: int, sender: str = "flood@example.test") -> EmailMessage:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, SUPPORT, f"mail {n}"
        msg["Message-ID"] = f"<{new_msg_id()}@example.test>"
        msg.set_content(f"smtp {n}")
        return msg

    for n in range(BUDGET):
        await aiosmtplib.send(mail(n), sender="flood@example.test", recipients=[SUPPORT], hostname="127.0.0.1",
                              port=port, timeout=30)
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await aiosmtplib.send(mail(9), sender="flood@example.test", recipients=[SUPPORT], hostname="127.0.0.1",
                              port=port, timeout=30)
    assert refused.value.code == 451 and "try again" in refused.value.message
    # The same budget, whichever way the sender's mail comes: Postmark and Mailgun are told to retry.
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        postmark = await http.post("/api/webhooks/postmark/inbound", auth=("postmark", SECRET),
                                   json=payload("pm over", sender="flood@example.test"))
        assert postmark.status_code == 429 and postmark.json()["error"]["code"] == "rate_limited"
        assert int(postmark.headers["retry-after"]) >= 1
        form = mailgun_form("mg over", sender="flood@example.test")
        mailgun = await http.post("/api/webhooks/mailgun/inbound", data=form)
        assert mailgun.status_code == 429 and "retry-after" in mailgun.headers
        others = await http.post("/api/webhooks/postmark/inbound", auth=("postmark", SECRET),
                                 json=payload("pm other", sender="calm@example.test"))
        assert others.status_code == 200
    texts = visitor_texts(server)
    assert [t for t in texts if "smtp" in t] == [f"mail {n}\n\nsmtp {n}" for n in range(BUDGET)]
    assert not any("over" in t for t in texts) and any("pm other" in t for t in texts)

    # A messaging webhook: always 200 (providers disable webhooks that keep failing); past the budget the
    # messages are held for review, flagged `flood`, and nothing reaches the conversation.
    _, account, _ = await asyncio.to_thread(server.http, "POST", f"/api/sites/{server.site_key}/channels", {
        "kind": "whatsapp", "name": "wa", "settings": {
            "phone_number_id": "100301", "access_token": "EAAG-access-token-xyz",  # the fake serves files for it
            "app_secret": APP_SECRET, "verify_token": VERIFY}}, cookie)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        for n in range(BUDGET + 2):
            doc = whatsapp_message("100301", "33622000001", f"wamid.flood-{n}", f"wa {n}", name="Flo")
            assert (await post_meta(http, account, doc)).status_code == 200
        calm = whatsapp_message("100301", "33622000002", "wamid.calm", "wa calm", name="Cal")
        assert (await post_meta(http, account, calm)).status_code == 200
    texts = visitor_texts(server)
    assert [t for t in texts if t.startswith("wa ")] == [*(f"wa {n}" for n in range(BUDGET)), "wa calm"]
    _, held, _ = await asyncio.to_thread(server.http, "GET", f"/api/sites/{server.site_key}/held", None, cookie)
    flood = [h for h in held["held"] if h["body"].startswith("wa ")]
    assert [(h["body"], h["reasons"]) for h in flood] == [(f"wa {n}", ["flood"]) for n in (BUDGET, BUDGET + 1)]
    # An agent who releases one delivers it as the customer sent it: nothing over budget was lost either.
    status, released, _ = await asyncio.to_thread(
        server.http, "POST", f"/api/sites/{server.site_key}/held/{flood[0]['id']}/release", None, cookie)
    assert status == 200, released
    assert f"wa {BUDGET}" in visitor_texts(server)

    # A file over the budget waits with its message, unfetched, and is fetched once it is released.
    media_id = providers.add_file(jpeg(), "image/jpeg")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        doc = wa_image("100301", "33622000001", "wamid.flood-file", media_id, "wa photo")
        assert (await post_meta(http, account, doc)).status_code == 200
    _, held, _ = await asyncio.to_thread(server.http, "GET", f"/api/sites/{server.site_key}/held", None, cookie)
    [photo] = [h for h in held["held"] if h["body"] == "wa photo"]
    assert photo["reasons"] == ["flood"] and providers.fetched(media_id) == 0
    status, released, _ = await asyncio.to_thread(
        server.http, "POST", f"/api/sites/{server.site_key}/held/{photo['id']}/release", None, cookie)
    assert status == 200, released
    await until_io(lambda: providers.fetched(media_id) == 1 and server.sql(
        "SELECT 1 FROM attachments WHERE conversation_id=? AND seq=?", released["conversation"], released["seq"]),
        "the released photo kept")

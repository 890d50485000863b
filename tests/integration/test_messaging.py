"""Messaging channels end to end: a real server per backend (SQLite, PostgreSQL), fake providers on loopback
(tests/providers.py) that sign like the real ones, real HTTP webhooks and real agent WebSockets.

One server per backend for the whole module (each test connects accounts of its own, so they do not
share customers); waits are on conditions, never fixed sleeps."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.harness import BACKENDS, PapoteServer, agent, new_msg_id, until_io
from tests.providers import (
    FakeProviders,
    meta_body,
    meta_signature,
    serve_on_backend,
    twilio_signature,
    whatsapp_message,
    whatsapp_status,
)

pytestmark = [pytest.mark.asyncio]

APP_SECRET = "app-secret-0123456789"
VERIFY = "verify-token-42"



@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           providers: FakeProviders) -> Iterator[PapoteServer]:
    # A thousand messages of one customer at once measure the dedupe here, not the inbound budget.
    yield from serve_on_backend(request, tmp_path_factory, "messaging",
                                {**providers.env(), "PAPOTE_RATE_INBOUND_PER_ADDRESS": "100000/minute"})


def connect(server: PapoteServer, kind: str, settings: dict[str, str], cookie: str | None = None) -> dict[str, Any]:
    status, body, _ = server.http("POST", f"/api/sites/{server.site_key}/channels",
                                  {"kind": kind, "name": f"{kind} support", "settings": settings},
                                  cookie=cookie or server.login())
    assert status == 201, body
    return body  # type: ignore[no-any-return]


def whatsapp(server: PapoteServer, number: str, **more: str) -> dict[str, Any]:
    return connect(server, "whatsapp", {"phone_number_id": number, "access_token": "EAAG-access-token-xyz",
                                        "app_secret": APP_SECRET, "verify_token": VERIFY, **more})


def hook_path(account: dict[str, Any]) -> str:
    return urllib.parse.urlsplit(account["webhook_url"]).path


async def post_meta(http: httpx.AsyncClient, account: dict[str, Any], doc: dict[str, Any],
                    secret: str = APP_SECRET) -> httpx.Response:
    body = meta_body(doc)
    return await http.post(hook_path(account), content=body, headers={
        "content-type": "application/json", "x-hub-signature-256": meta_signature(secret, body)})


def conversations_of(server: PapoteServer, cookie: str) -> list[dict[str, Any]]:
    status, body, _ = server.http("GET", f"/api/conversations?site={server.site_key}&limit=200", cookie=cookie)
    assert status == 200
    return body["conversations"]  # type: ignore[no-any-return]


def conversation_of(server: PapoteServer, cookie: str, name: str) -> dict[str, Any] | None:
    for conv in conversations_of(server, cookie):
        if conv["visitor"] and conv["visitor"]["name"] == name:
            return conv
    return None


def messages(server: PapoteServer, cookie: str, cid: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        status, body, _ = server.http("GET", f"/api/conversations/{cid}/messages?after_seq={after}&limit=200",
                                      cookie=cookie)
        assert status == 200
        out.extend(body["messages"])
        if len(body["messages"]) < 200:
            return out
        after = out[-1]["seq"]


def channel_of(server: PapoteServer, cookie: str, cid: str) -> dict[str, Any]:
    status, body, _ = server.http("GET", f"/api/conversations/{cid}/channel", cookie=cookie)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def test_an_account_is_connected_and_its_secrets_never_come_back(server: PapoteServer) -> None:
    cookie = server.login()
    account = whatsapp(server, "100001")
    assert account["config"] == {"phone_number_id": "100001"}
    assert account["secrets"] == {"access_token": "…-xyz", "app_secret": "…6789", "verify_token": "…n-42"}
    assert account["webhook_url"].endswith(f"/channels/whatsapp/{account['id']}")
    _, listed, _ = server.http("GET", f"/api/sites/{server.site_key}/channels", cookie=cookie)
    assert APP_SECRET not in json.dumps(listed) and "EAAG-access-token-xyz" not in json.dumps(listed)
    assert {p["kind"] for p in listed["providers"]} == {"whatsapp", "telegram", "twilio", "messenger", "instagram"}
    for settings in ({"phone_number_id": "100001"}, {"phone_number_id": "x", "access_token": "EAAG-access-token",
                                                     "app_secret": APP_SECRET, "verify_token": VERIFY},
                     {"phone_number_id": "100001", "access_token": "EAAG-access-token", "app_secret": APP_SECRET,
                      "verify_token": VERIFY, "colour": "red"}):
        status, body, _ = server.http("POST", f"/api/sites/{server.site_key}/channels",
                                      {"kind": "whatsapp", "name": "x", "settings": settings}, cookie=cookie)
        assert (status, body["error"]["code"]) == (400, "bad_field"), settings
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        ok = await http.get(hook_path(account), params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                                        "hub.challenge": "1158201444"})
        assert (ok.status_code, ok.text) == (200, "1158201444")
        bad = await http.get(hook_path(account), params={"hub.mode": "subscribe", "hub.verify_token": "nope",
                                                         "hub.challenge": "1"})
        assert bad.status_code == 403
    # An agent of the site (not an admin) may neither read nor change its channels.
    email = f"agent-{server.backend}@papote.test"
    server.cli("agent", "create", "--site", server.site_key, "--email", email, "--password", "agent-password-1",
               "--role", "agent")
    agent_cookie = server.login(email, "agent-password-1")
    assert server.http("GET", f"/api/sites/{server.site_key}/channels", cookie=agent_cookie)[0] == 403
    assert server.http("DELETE", f"/api/sites/{server.site_key}/channels/{account['id']}",
                       cookie=agent_cookie)[0] == 403
    assert server.http("DELETE", f"/api/sites/{server.site_key}/channels/{account['id']}", cookie=cookie)[0] == 200
    _, listed, _ = server.http("GET", f"/api/sites/{server.site_key}/channels", cookie=cookie)
    assert account["id"] not in {c["id"] for c in listed["channels"]}


async def test_a_bad_or_missing_signature_stores_nothing(server: PapoteServer) -> None:
    cookie = server.login()
    account = whatsapp(server, "100002")
    doc = whatsapp_message("100002", "33600000002", "wamid.forged", "forged", name="Mallory")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        missing = await http.post(hook_path(account), content=meta_body(doc),
                                  headers={"content-type": "application/json"})
        forged = await post_meta(http, account, doc, secret="not-the-app-secret")
        tampered_body = meta_body(doc)
        tampered = await http.post(hook_path(account), content=tampered_body.replace(b"forged", b"FORGED"),
                                   headers={"x-hub-signature-256": meta_signature(APP_SECRET, tampered_body)})
        unknown = await post_meta(http, {"webhook_url": "/channels/whatsapp/ch_doesnotexist"}, doc)
    assert (missing.status_code, forged.status_code, tampered.status_code) == (401, 403, 403)
    assert unknown.status_code == 404
    assert conversation_of(server, cookie, "Mallory") is None


async def test_a_thousand_messages_redelivered_and_shuffled_are_stored_once_in_order(server: PapoteServer) -> None:
    cookie = server.login()
    account = whatsapp(server, "100003")
    events = [whatsapp_message("100003", "33600000003", f"wamid.bulk{n}", f"message {n} — é", name="Bulk")
              for n in range(1000)]
    deliveries = events + random.sample(events, 200)  # 20 % delivered twice
    random.shuffle(deliveries)
    limit = asyncio.Semaphore(16)

    async def deliver(http: httpx.AsyncClient, doc: dict[str, Any]) -> int:
        async with limit:
            return (await post_meta(http, account, doc)).status_code

    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        answers = await asyncio.gather(*(deliver(http, d) for d in deliveries))
    assert set(answers) == {200}
    conv = conversation_of(server, cookie, "Bulk")
    assert conv is not None and conv["visitor"]["channel"] == "whatsapp"
    stored = messages(server, cookie, conv["id"])
    texts = [m for m in stored if m["kind"] == "text" and m["author"]["kind"] == "visitor"]
    assert len(texts) == 1000
    assert sorted(m["body"] for m in texts) == sorted(f"message {n} — é" for n in range(1000))
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
    # Only one conversation for the customer, whatever the concurrency of the first deliveries.
    assert len([c for c in conversations_of(server, cookie) if c["visitor"] and c["visitor"]["name"] == "Bulk"]) == 1


async def test_a_reply_goes_out_and_its_state_follows_the_furthest_receipt(server: PapoteServer,
                                                                           providers: FakeProviders) -> None:
    cookie = server.login()
    account = whatsapp(server, "100004")
    customer = "33600000004"
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await post_meta(http, account, whatsapp_message("100004", customer, "wamid.in4", "Hi!",
                                                                name="Zoé"))).status_code == 200
        conv = await until_io(lambda: conversation_of(server, cookie, "Zoé"), "the conversation")
        cid = conv["id"]
        view = channel_of(server, cookie, cid)
        assert (view["channel"], view["can_send"], view["address"]) == ("whatsapp", True, customer)
        console = await agent(server, cookie)
        await console.send({"t": "subscribe", "ref": 1, "conversations": [cid]})
        before = len(providers.sends("meta"))
        status, ack, _ = server.http("POST", f"/api/conversations/{cid}/messages",
                                     {"body": "Hello Zoé", "client_msg_id": new_msg_id()}, cookie=cookie)
        assert status == 201
        sent = await until_io(lambda: providers.sends("meta")[before:], "the send to WhatsApp")
        assert sent[0].path == "/meta/100004/messages"
        assert sent[0].body["to"] == customer and sent[0].body["text"]["body"] == "Hello Zoé"
        assert sent[0].headers["authorization"] == "Bearer EAAG-access-token-xyz"
        frame = await console.expect("delivery", timeout=20)
        assert (frame["conversation"], frame["seq"], frame["state"]) == (cid, ack["seq"], "sent")
        wamid = sent[0].provider_id
        assert wamid.startswith("wamid.fake")
        for state in ("read", "delivered", "sent"):  # out of order: the furthest stays
            receipt = whatsapp_status("100004", wamid, state, customer)
            assert (await post_meta(http, account, receipt)).status_code == 200
        await until_io(lambda: channel_of(server, cookie, cid)["deliveries"][str(ack["seq"])]["state"] == "read",
                       "the read receipt")
        frame = await console.expect("delivery", timeout=20)
        assert frame["state"] == "read"


async def start_thread(server: PapoteServer, http: httpx.AsyncClient, account: dict[str, Any], number: str,
                       customer: str, name: str, at: int | None = None) -> str:
    answer = await post_meta(http, account, whatsapp_message(number, customer, f"wamid.first-{customer}", "Hello",
                                                             name=name, at=at))
    assert answer.status_code == 200
    cookie = server.login()
    conv = await until_io(lambda: conversation_of(server, cookie, name), "the conversation")
    return str(conv["id"])


def reply(server: PapoteServer, cookie: str, cid: str, body: str) -> tuple[int, Any]:
    status, answer, _ = server.http("POST", f"/api/conversations/{cid}/messages",
                                    {"body": body, "client_msg_id": new_msg_id()}, cookie=cookie)
    return status, answer


async def test_a_429_is_retried_after_its_retry_after_and_a_5xx_or_timeout_with_backoff(
        server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    account = whatsapp(server, "100005")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        cid = await start_thread(server, http, account, "100005", "33600000005", "Rate")
    providers.retry_after = 2
    providers.script("meta", "429", "timeout")
    before = len(providers.sends("meta"))
    status, ack = reply(server, cookie, cid, "after the limits")
    assert status == 201
    sends = await until_io(lambda: [s for s in providers.sends("meta")[before:] if s.provider_id], "the send",
                           timeout=60)
    tries = [s for s in providers.sends("meta")[before:] if s.body.get("to") == "33600000005"]
    assert len(tries) == 3 and sends[0] is tries[-1]
    # No second attempt before the Retry-After the 429 gave.
    assert tries[1].at - tries[0].at >= providers.retry_after - 0.1
    await until_io(lambda: channel_of(server, cookie, cid)["deliveries"][str(ack["seq"])]["state"] == "sent", "sent")


async def test_outside_the_window_a_reply_is_refused_first_or_goes_as_the_template(
        server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    old = int(time.time()) - 25 * 3600
    plain = whatsapp(server, "100006")
    templated = whatsapp(server, "100007", template="follow_up", template_language="fr")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        shut = await start_thread(server, http, plain, "100006", "33600000006", "Late", at=old)
        templ = await start_thread(server, http, templated, "100007", "33600000007", "Later", at=old)
    view = channel_of(server, cookie, shut)
    assert view["can_send"] is False and "24 hours" in view["reason"] and view["window"]["open"] is False
    last_seq = messages(server, cookie, shut)[-1]["seq"]
    status, answer = reply(server, cookie, shut, "too late")
    assert (status, answer["error"]["code"]) == (409, "window_closed")
    assert messages(server, cookie, shut)[-1]["seq"] == last_seq  # nothing stored
    view = channel_of(server, cookie, templ)
    assert view["can_send"] is True and view["window"]["fallback"] == "template"
    before = len(providers.sends("meta"))
    assert reply(server, cookie, templ, "Your order shipped")[0] == 201
    [sent] = await until_io(lambda: [s for s in providers.sends("meta")[before:] if s.provider_id], "the template")
    assert sent.body["type"] == "template" and sent.body["template"]["name"] == "follow_up"
    assert sent.body["template"]["language"] == {"code": "fr"}
    assert sent.body["template"]["components"][0]["parameters"][0]["text"] == "Your order shipped"


async def test_the_provider_refusing_for_a_closed_window_fails_the_reply_for_good(
        server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    account = whatsapp(server, "100008")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        cid = await start_thread(server, http, account, "100008", "33600000008", "Shut")
    providers.script("meta", "window")
    status, ack = reply(server, cookie, cid, "refused")
    assert status == 201
    state = await until_io(lambda: channel_of(server, cookie, cid)["deliveries"].get(str(ack["seq"])), "failed",
                           timeout=30)
    await until_io(lambda: channel_of(server, cookie, cid)["deliveries"][str(ack["seq"])]["state"] == "failed",
                   "failed")
    assert state is not None
    assert "131047" in channel_of(server, cookie, cid)["deliveries"][str(ack["seq"])]["error"]


async def test_telegram_secret_token_inbound_and_replies(server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    account = connect(server, "telegram", {"bot_token": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
                                           "secret_token": "tg-secret_1"})
    update = {"update_id": 9001, "message": {"message_id": 77, "date": int(time.time()),
                                             "from": {"id": 4242, "is_bot": False, "first_name": "Tess"},
                                             "chat": {"id": 4242, "type": "private"}, "text": "Bonjour"}}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        path = hook_path(account)
        assert (await http.post(path, json=update)).status_code == 401
        wrong = await http.post(path, json=update, headers={"x-telegram-bot-api-secret-token": "wrong"})
        assert wrong.status_code == 403
        assert conversation_of(server, cookie, "Tess") is None
        for _ in range(3):  # re-delivered: one message
            answer = await http.post(path, json=update, headers={"x-telegram-bot-api-secret-token": "tg-secret_1"})
            assert answer.status_code == 200
    conv = await until_io(lambda: conversation_of(server, cookie, "Tess"), "the conversation")
    assert conv["visitor"]["channel"] == "telegram"
    assert [m["body"] for m in messages(server, cookie, conv["id"]) if m["kind"] == "text"] == ["Bonjour"]
    providers.retry_after = 1
    providers.script("telegram", "500", "429")
    before = len(providers.sends("telegram"))
    assert reply(server, cookie, conv["id"], "Salut Tess")[0] == 201
    sent = await until_io(lambda: [s for s in providers.sends("telegram")[before:] if s.provider_id], "the send")
    tries = providers.sends("telegram")[before:]
    assert sent[0].path == "/telegram/bot123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11/sendMessage"
    assert sent[0].body == {"chat_id": "4242", "text": "Salut Tess"}
    assert len(tries) == 3 and tries[1].at - tries[0].at >= 1.5  # a 5xx: backoff from 2 s (±20 %)
    assert tries[2].at - tries[1].at >= 0.9  # the 429's retry_after, from the body


async def test_twilio_signed_form_inbound_status_callbacks_and_replies(server: PapoteServer,
                                                                       providers: FakeProviders) -> None:
    cookie = server.login()
    sid = "AC" + "0123456789abcdef" * 2
    token = "twilio0auth0token0123"
    account = connect(server, "twilio", {"account_sid": sid, "from_number": "+15550001111", "auth_token": token})
    url = account["webhook_url"]
    form = {"MessageSid": "SM" + "a" * 32, "AccountSid": sid, "From": "+33600000009", "To": "+15550001111",
            "Body": "Where is my parcel?", "NumMedia": "0", "SmsStatus": "received"}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        path = hook_path(account)
        assert (await http.post(path, data=form)).status_code == 401
        forged = twilio_signature("wrong-token", url, form)
        assert (await http.post(path, data=form, headers={"x-twilio-signature": forged})).status_code == 403
        good = await http.post(path, data=form, headers={"x-twilio-signature": twilio_signature(token, url, form)})
        assert good.status_code == 200 and good.text == "<Response></Response>"
        conv = await until_io(lambda: conversation_of(server, cookie, "+33600000009"), "the conversation")
        before = len(providers.sends("twilio"))
        status, ack = reply(server, cookie, conv["id"], "Tomorrow")
        assert status == 201
        [sent] = await until_io(lambda: [s for s in providers.sends("twilio")[before:] if s.provider_id], "the send")
        assert sent.body["To"] == "+33600000009" and sent.body["From"] == "+15550001111"
        assert sent.body["StatusCallback"] == url and sent.headers["authorization"].startswith("Basic ")
        for status_word in ("delivered", "sent"):
            callback = {"MessageSid": sent.provider_id, "AccountSid": sid, "MessageStatus": status_word,
                        "From": "+15550001111", "To": "+33600000009"}
            answer = await http.post(path, data=callback,
                                     headers={"x-twilio-signature": twilio_signature(token, url, callback)})
            assert answer.status_code == 200
    await until_io(
        lambda: channel_of(server, cookie, conv["id"])["deliveries"][str(ack["seq"])]["state"] == "delivered",
        "delivered")


async def test_messenger_inbound_and_the_human_agent_tag(server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    account = connect(server, "messenger", {"page_id": "200001", "human_agent": "yes",
                                            "access_token": "EAAG-page-token-1", "app_secret": APP_SECRET,
                                            "verify_token": VERIFY})
    old = (int(time.time()) - 3 * 86400) * 1000
    doc = {"object": "page", "entry": [{"id": "200001", "time": old, "messaging": [
        {"sender": {"id": "PSID77"}, "recipient": {"id": "200001"}, "timestamp": old,
         "message": {"mid": "m_in77", "text": "Any news?"}}]}]}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await post_meta(http, account, doc, secret="nope")).status_code == 403
        assert (await post_meta(http, account, doc)).status_code == 200
    conv = await until_io(lambda: conversation_of(server, cookie, "PSID77"), "the conversation")
    assert channel_of(server, cookie, conv["id"])["window"]["fallback"] == "human_agent"
    before = len(providers.sends("meta"))
    assert reply(server, cookie, conv["id"], "Yes: it left today")[0] == 201
    [sent] = await until_io(lambda: [s for s in providers.sends("meta")[before:] if s.provider_id], "the send")
    assert sent.path == "/meta/200001/messages"
    assert sent.body["messaging_type"] == "MESSAGE_TAG" and sent.body["tag"] == "HUMAN_AGENT"
    assert sent.body["recipient"] == {"id": "PSID77"}
    # Messenger says "read" with a watermark, naming no message: every reply sent before it is read.
    ack_seq = max(int(seq) for seq in await until_io(lambda: channel_of(server, cookie, conv["id"])["deliveries"],
                                                     "the reply's state"))
    await until_io(
        lambda: channel_of(server, cookie, conv["id"])["deliveries"][str(ack_seq)]["state"] == "sent", "sent")
    read = {"object": "page", "entry": [{"id": "200001", "time": 1, "messaging": [
        {"sender": {"id": "PSID77"}, "recipient": {"id": "200001"}, "timestamp": 1,
         "read": {"watermark": int(time.time() * 1000) + 5000}}]}]}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await post_meta(http, account, read)).status_code == 200
    await until_io(
        lambda: channel_of(server, cookie, conv["id"])["deliveries"][str(ack_seq)]["state"] == "read", "read")


async def test_kill_9_after_the_provider_took_a_reply_sends_it_again_at_most_once(
        server: PapoteServer, providers: FakeProviders) -> None:
    """Last in the module: it kills the shared server (and starts it again)."""
    cookie = server.login()
    account = whatsapp(server, "100009")
    customer = "33600000010"
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        cid = await start_thread(server, http, account, "100009", customer, "Crash")
    providers.hung.clear()
    providers.script("meta", "hang")
    before = len(providers.sends("meta"))
    status, ack = reply(server, cookie, cid, "survive the crash")
    assert status == 201
    await until_io(providers.hung.is_set, "the provider taking the reply")
    server.kill()  # SIGKILL while the provider holds the reply and Papote has not recorded it
    server.start()
    await until_io(lambda: [s for s in providers.sends("meta")[before:] if s.provider_id], "the send after restart",
                   timeout=60)
    tries = [s for s in providers.sends("meta")[before:] if s.body.get("to") == customer]
    assert len(tries) == 2  # never none; one duplicate at most (no provider takes an idempotency key)
    cookie = server.login()
    await until_io(lambda: channel_of(server, cookie, cid)["deliveries"][str(ack["seq"])]["state"] == "sent", "sent")


async def test_a_site_bot_speaks_on_whatsapp_with_numbered_options(server: PapoteServer,
                                                                   providers: FakeProviders) -> None:
    """The bot's messages go out on the customer's app like an agent's, its buttons as numbered lines when
    they fit none of WhatsApp's own (a label over 24 characters); a number typed back is a tap, the last
    line's words hand over."""
    from tests.integration.test_bot import BOT

    cookie = server.login()
    hello = {**BOT["nodes"][0], "options": [{"label": "Shipping, parcels and returns", "next": "ship"},
                                            {"label": "All good", "next": "bye"}]}
    long_labels = {**BOT, "nodes": [hello, *BOT["nodes"][1:]]}
    status, body, _ = server.http("PATCH", f"/api/sites/{server.site_key}",
                                  {"settings": {"bot": long_labels, "hours": None}}, cookie=cookie)
    assert status == 200, body
    customer = "33600000099"
    before = len(providers.sends("meta"))  # the fake provider is the module's: the other backend sent too

    def texts() -> list[str]:  # the later messages offer "Talk to a person" alone: WhatsApp's own button
        return [s.body["text"]["body"] if s.body["type"] == "text" else s.body["interactive"]["body"]["text"]
                for s in providers.sends("meta")[before:]
                if s.path == "/meta/100099/messages" and s.body.get("to") == customer]

    try:
        account = whatsapp(server, "100099")
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            cid = await start_thread(server, http, account, "100099", customer, "Bettina")
            first = (await until_io(texts, "the bot's first message on WhatsApp"))[0]
            assert first.splitlines()[0] == "Hi! What is it about?"
            assert first.splitlines()[2:4] == ["1. Shipping, parcels and returns", "2. All good"]
            assert first.splitlines()[-1].startswith("– ")  # "Talk to a person", written out
            answer = whatsapp_message("100099", customer, "wamid.bot-2", "1", name="Bettina")
            assert (await post_meta(http, account, answer)).status_code == 200
            await until_io(lambda: any(t.startswith("Parcels leave within a day.") for t in texts()),
                           "the bot's answer to the number typed back")
            person = whatsapp_message("100099", customer, "wamid.bot-3", first.splitlines()[-1][2:], name="Bettina")
            assert (await post_meta(http, account, person)).status_code == 200
            await until_io(lambda: [m for m in messages(server, cookie, cid) if m.get("event") == "handover"],
                           "the handover")
        bot_texts = [m["body"] for m in messages(server, cookie, cid) if m["author"]["kind"] == "bot" and m["body"]]
        assert len(texts()) == len(bot_texts), "every bot message went out once"
    finally:
        server.http("PATCH", f"/api/sites/{server.site_key}", {"settings": {"bot": {**BOT, "enabled": False}}},
                    cookie=cookie)

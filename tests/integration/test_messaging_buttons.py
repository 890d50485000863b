"""The bot's buttons as the messaging apps' own, end to end: a real server per backend (SQLite,
PostgreSQL), fake providers on loopback that check the buttons against the real limits and send taps
back in the real shapes (tests/providers.py), real signed webhooks.

A tap is the option exactly as its number typed; a tap on a button the bot no longer offers (an old
message's) or never offered (forged) makes the bot ask again, counts as no miss, and breaks nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.harness import BACKENDS, PapoteServer, until_io
from tests.integration.test_bot import BOT
from tests.integration.test_messaging import (
    APP_SECRET,
    VERIFY,
    connect,
    hook_path,
    messages,
    post_meta,
    start_thread,
    whatsapp,
)
from tests.providers import (
    FakeProviders,
    Sent,
    messenger_tap,
    serve_on_backend,
    telegram_tap,
    whatsapp_message,
    whatsapp_tap,
)

pytestmark = [pytest.mark.asyncio]

TG_TOKEN = "654321:ABC-DEF1234ghIkl-zyx57W2v1u123ew99"
TG_SECRET = "tg-buttons_1"



@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           providers: FakeProviders) -> Iterator[PapoteServer]:
    yield from serve_on_backend(request, tmp_path_factory, "buttons", providers.env())


def use_bot(server: PapoteServer, bot: dict[str, Any]) -> None:
    status, body, _ = server.http("PATCH", f"/api/sites/{server.site_key}", {"settings": {"bot": bot, "hours": None}},
                                  cookie=server.login())
    assert status == 200, body


def bot_texts(server: PapoteServer, cid: str) -> list[str]:
    return [m["body"] for m in messages(server, server.login(), cid) if m["author"]["kind"] == "bot" and m["body"]]


def handed_over(server: PapoteServer, cid: str) -> bool:
    return any(m.get("event") == "handover" for m in messages(server, server.login(), cid))


def wa_sends(providers: FakeProviders, number: str, customer: str) -> list[Sent]:
    return [s for s in providers.sends("meta") if s.path == f"/meta/{number}/messages"
            and s.body.get("to") == customer and s.provider_id]


def wa_text(sent: Sent) -> str:
    body = sent.body
    return str(body["interactive"]["body"]["text"] if body["type"] == "interactive" else body["text"]["body"])


async def test_whatsapp_reply_buttons_a_tap_is_the_option_and_old_or_forged_taps_ask_again(
        server: PapoteServer, providers: FakeProviders) -> None:
    use_bot(server, BOT)
    account = whatsapp(server, "100201")
    customer = f"3361100{server.port}"  # the fake providers are the module's: one customer a backend
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        cid = await start_thread(server, http, account, "100201", customer, "Ines")
        [first] = await until_io(lambda: wa_sends(providers, "100201", customer), "the bot's first message")
        assert first.body["type"] == "interactive"
        interactive = first.body["interactive"]
        assert interactive["type"] == "button" and interactive["body"] == {"text": "Hi! What is it about?"}
        replies = [b["reply"] for b in interactive["action"]["buttons"]]
        assert [r["title"] for r in replies] == ["Shipping", "All good", "Talk to a person"]
        assert [r["id"] for r in replies] == ["qr:1:go:ship", "qr:2:go:bye", "qr:3:person"]

        # A tap on "Shipping": the option, as "1" typed. Delivered twice by WhatsApp: one message.
        tap = whatsapp_tap("100201", first, 0, "wamid.tap-1", name="Ines")
        for _ in range(2):
            assert (await post_meta(http, account, tap)).status_code == 200
        await until_io(lambda: "Anything else about shipping?" in bot_texts(server, cid), "the bot following the tap")
        visitor = [m for m in messages(server, server.login(), cid) if m["author"]["kind"] == "visitor"]
        assert [m["body"] for m in visitor] == ["Hello", "Shipping"]
        assert visitor[1]["data"]["channel"]["tap"] == "qr:1:go:ship"

        # The first message's "All good" again, now that the bot waits elsewhere: it asks again.
        said = len(bot_texts(server, cid))
        old = whatsapp_tap("100201", first, 1, "wamid.tap-old", name="Ines")
        assert (await post_meta(http, account, old)).status_code == 200
        await until_io(lambda: len(bot_texts(server, cid)) > said, "the bot asking again")
        assert bot_texts(server, cid)[-1] == "Sorry, I didn't understand that. Anything else about shipping?"
        # Forged ids (an option of no message here, and no id of ours): asked again, no miss counted.
        for n, forged in enumerate(("qr:2:go:bye", "qr:1:go:nowhere", "not-ours", "qr:99:go:ship")):
            said = len(bot_texts(server, cid))
            doc = whatsapp_message("100201", customer, f"wamid.forged-{n}", "x", name="Ines")
            message = doc["entry"][0]["changes"][0]["value"]["messages"][0]
            message.update(type="interactive", interactive={"type": "button_reply",
                                                            "button_reply": {"id": forged, "title": "All good"}})
            message.pop("text")
            assert (await post_meta(http, account, doc)).status_code == 200
            await until_io(lambda before=said: len(bot_texts(server, cid)) > before,
                        f"the bot asking again after {forged}")
        assert not handed_over(server, cid), "stale and forged taps are no misses"

        # "Talk to a person", from the latest message: the handover.
        latest = wa_sends(providers, "100201", customer)[-1]
        assert latest.body["interactive"]["action"]["buttons"][-1]["reply"]["id"] == "qr:1:person"
        person = whatsapp_tap("100201", latest, 0, "wamid.tap-person")
        assert (await post_meta(http, account, person)).status_code == 200
        await until_io(lambda: handed_over(server, cid), "the handover")
    sends = await until_io(lambda: len(wa_sends(providers, "100201", customer)) == len(bot_texts(server, cid))
                        and wa_sends(providers, "100201", customer), "every bot message sent")
    assert [wa_text(s) for s in sends] == bot_texts(server, cid), "every bot message went out once, in order"


async def test_whatsapp_more_than_three_options_go_as_a_list(server: PapoteServer, providers: FakeProviders) -> None:
    hello = {**BOT["nodes"][0], "options": [
        {"label": "Shipping", "next": "ship"}, {"label": "All good", "next": "bye"},
        {"label": "Returns", "next": "ship"}, {"label": "Where is my order?", "next": "ship"}]}
    use_bot(server, {**BOT, "nodes": [hello, *BOT["nodes"][1:]]})
    account = whatsapp(server, "100202")
    customer = f"3361200{server.port}"
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        cid = await start_thread(server, http, account, "100202", customer, "Lise")
        [first] = await until_io(lambda: wa_sends(providers, "100202", customer), "the bot's first message")
        interactive = first.body["interactive"]
        assert interactive["type"] == "list" and interactive["action"]["button"] == "Options"
        rows = interactive["action"]["sections"][0]["rows"]
        assert [r["title"] for r in rows] == ["Shipping", "All good", "Returns", "Where is my order?",
                                              "Talk to a person"]
        assert (await post_meta(http, account, whatsapp_tap("100202", first, 1, "wamid.list-1"))).status_code == 200
        await until_io(lambda: "Glad I could help!" in bot_texts(server, cid), "the bot following the list's row")
        visitor = [m for m in messages(server, server.login(), cid) if m["author"]["kind"] == "visitor"]
        assert visitor[-1]["body"] == "All good"


async def test_telegram_inline_keyboard_the_tap_is_answered_and_counts_once(
        server: PapoteServer, providers: FakeProviders) -> None:
    use_bot(server, BOT)
    account = connect(server, "telegram", {"bot_token": TG_TOKEN, "secret_token": TG_SECRET})
    chat = 5_000_000 + server.port
    headers = {"x-telegram-bot-api-secret-token": TG_SECRET}

    def sends() -> list[Sent]:
        return [s for s in providers.sends("telegram") if s.body.get("chat_id") == str(chat) and s.provider_id]

    update = {"update_id": 7001, "message": {"message_id": 1, "date": int(time.time()),
                                             "from": {"id": chat, "is_bot": False, "first_name": "Tom"},
                                             "chat": {"id": chat, "type": "private"}, "text": "Hi"}}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await http.post(hook_path(account), json=update, headers=headers)).status_code == 200
        [first] = await until_io(sends, "the bot's first message")
        assert first.body["text"] == "Hi! What is it about?"
        assert first.body["reply_markup"] == {"inline_keyboard": [
            [{"text": "Shipping", "callback_data": "qr:1:go:ship"}],
            [{"text": "All good", "callback_data": "qr:2:go:bye"}],
            [{"text": "Talk to a person", "callback_data": "qr:3:person"}]]}
        tap = telegram_tap(first, 1, 7002, f"44{server.port}1", first_name="Tom")
        unsigned = await http.post(hook_path(account), json=tap)
        assert unsigned.status_code == 401
        for _ in range(2):  # re-delivered by Telegram: one message
            assert (await http.post(hook_path(account), json=tap, headers=headers)).status_code == 200
        answered = await until_io(lambda: [s for s in providers.sends("telegram-answer")
                                        if s.body.get("callback_query_id") == f"44{server.port}1"],
                               "answerCallbackQuery")
        assert answered[0].path == f"/telegram/bot{TG_TOKEN}/answerCallbackQuery"
        conv_id = None
        for conv in server.http("GET", f"/api/conversations?site={server.site_key}&limit=200",
                                cookie=server.login())[1]["conversations"]:
            if conv["visitor"] and conv["visitor"]["name"] == "Tom":
                conv_id = conv["id"]
        assert conv_id is not None
        await until_io(lambda: "Glad I could help!" in bot_texts(server, conv_id), "the bot following the tap")
        visitor = [m for m in messages(server, server.login(), conv_id) if m["author"]["kind"] == "visitor"]
        assert [m["body"] for m in visitor] == ["Hi", "All good"]
        # The first message's "Shipping" after the end: an old tap is taken as writing again after
        # the end (a person comes), never as the option.
        old = telegram_tap(first, 0, 7003, f"44{server.port}2", first_name="Tom")
        assert (await http.post(hook_path(account), json=old, headers=headers)).status_code == 200
        await until_io(lambda: handed_over(server, conv_id), "the handover after the end")
        assert "Parcels leave within a day." not in bot_texts(server, conv_id)


async def test_messenger_quick_replies_come_back_as_the_option(server: PapoteServer,
                                                               providers: FakeProviders) -> None:
    use_bot(server, BOT)
    account = connect(server, "messenger", {"page_id": "200201", "access_token": "EAAG-page-token-2",
                                            "app_secret": APP_SECRET, "verify_token": VERIFY})
    psid = f"PSID-BUTTONS-{server.port}"

    def sends() -> list[Sent]:
        return [s for s in providers.sends("meta") if s.path == "/meta/200201/messages"
                and s.body.get("recipient") == {"id": psid} and s.provider_id]

    now = int(time.time() * 1000)
    doc = {"object": "page", "entry": [{"id": "200201", "time": now, "messaging": [
        {"sender": {"id": psid}, "recipient": {"id": "200201"}, "timestamp": now,
         "message": {"mid": "m_btn_1", "text": "Hello"}}]}]}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await post_meta(http, account, doc)).status_code == 200
        [first] = await until_io(sends, "the bot's first message")
        assert first.body["message"]["text"] == "Hi! What is it about?"
        assert first.body["message"]["quick_replies"] == [
            {"content_type": "text", "title": "Shipping", "payload": "qr:1:go:ship"},
            {"content_type": "text", "title": "All good", "payload": "qr:2:go:bye"},
            {"content_type": "text", "title": "Talk to a person", "payload": "qr:3:person"}]
        assert (await post_meta(http, account, messenger_tap("200201", first, 0, "m_btn_2"))).status_code == 200
        await until_io(lambda: len(sends()) >= 3, "the bot following the tap")
        assert [s.body["message"]["text"] for s in sends()[1:3]] == ["Parcels leave within a day.",
                                                                     "Anything else about shipping?"]
        latest = sends()[-1]
        assert (await post_meta(http, account, messenger_tap("200201", latest, 0, "m_btn_3"))).status_code == 200
        await until_io(lambda: any(s.body["message"]["text"].startswith("I'm getting you a person")
                                for s in sends()), "the handover's words")

"""Customers' files on messaging channels, end to end: a real server per backend (SQLite, PostgreSQL), the
fake providers (tests/providers.py) serving media as the real ones do, signed webhooks posted and
re-posted, the agent's WebSocket seeing the file arrive.

Each provider: an image sent with a caption ends as exactly one attachment of its message, however
often the webhook is re-delivered; a fetch failing twice then succeeding still attaches; a file over the
site's size becomes a private note, not a crash."""

from __future__ import annotations

import contextlib
import io
import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from papote.attachments.links import signature
from tests.harness import BACKENDS, PapoteServer, agent, new_msg_id, until_io
from tests.integration.test_messaging import (
    APP_SECRET,
    VERIFY,
    connect,
    conversation_of,
    hook_path,
    messages,
    post_meta,
    whatsapp,
)
from tests.integration.test_webhooks import Receiver, add_endpoint
from tests.providers import FakeProviders, serve_on_backend, twilio_signature, whatsapp_message

pytestmark = [pytest.mark.asyncio]

TG_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
TG_SECRET = "tg-secret_1"
TW_SID = "AC" + "0123456789abcdef" * 2
TW_TOKEN = "twilio0auth0token0123"



@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           providers: FakeProviders) -> Iterator[PapoteServer]:
    # Webhooks to a receiver on loopback, scanned each second (a file's `message.created` waits for it).
    yield from serve_on_backend(request, tmp_path_factory, "media", {
        **providers.env(), "PAPOTE_WEBHOOK_ALLOW_PRIVATE": "1", "PAPOTE_WEBHOOK_CHECK_SECS": "1"})


def jpeg(side: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (200, 40, 90)).save(out, "JPEG")
    return out.getvalue()


def texts(server: PapoteServer, cookie: str, cid: str) -> list[dict[str, Any]]:
    return [m for m in messages(server, cookie, cid) if m["kind"] == "text"]


def notes(server: PapoteServer, cookie: str, cid: str) -> list[dict[str, Any]]:
    return [m for m in messages(server, cookie, cid) if m["kind"] == "note"]


async def post_n(times: int, post: Any) -> None:
    for _ in range(times):  # the provider re-delivers: each copy is answered 200, one message is kept
        answer = await post()
        assert answer.status_code == 200, answer.text


async def attached(server: PapoteServer, cookie: str, name: str) -> tuple[str, dict[str, Any]]:
    conv = await until_io(lambda: conversation_of(server, cookie, name), "the conversation")
    [message] = await until_io(lambda: [m for m in texts(server, cookie, conv["id"]) if m.get("attachments")],
                            "the attachment")
    return str(conv["id"]), message


def downloaded(server: PapoteServer, cookie: str, attachment_id: str) -> bytes:
    with httpx.Client(base_url=server.base_url) as http:
        answer = http.get(f"/api/attachments/{attachment_id}", headers={"cookie": cookie})
    assert answer.status_code == 200
    return answer.content


def wa_image(number: str, sender: str, wamid: str, media_id: str, caption: str | None,
             kind: str = "image", filename: str = "") -> dict[str, Any]:
    item: dict[str, Any] = {"id": media_id, "mime_type": "image/jpeg", "sha256": "x"}
    if caption is not None:
        item["caption"] = caption
    if filename:
        item["filename"] = filename
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "1555", "phone_number_id": number},
             "contacts": [{"profile": {"name": sender}, "wa_id": sender}],
             "messages": [{"from": sender, "id": wamid, "timestamp": str(int(time.time())), "type": kind,
                           kind: item}]}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}]}


async def test_whatsapp_image_with_caption_attaches_once_and_the_console_sees_it(
        server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    account = whatsapp(server, "300001")
    media_id = providers.add_file(jpeg(), "image/jpeg")
    # A first text opens the conversation, so the console can follow it before the image comes.
    first = wa_image("300001", "33611110001", "wamid.m0", providers.add_file(jpeg(), "image/jpeg"), "first")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(1, lambda: post_meta(http, account, first))
        cid, _ = await attached(server, cookie, "33611110001")
        console = await agent(server, cookie)
        await console.send({"t": "subscribe", "ref": 1, "conversations": [cid]})
        doc = wa_image("300001", "33611110001", "wamid.m1", media_id, "My broken parcel")
        await post_n(3, lambda: post_meta(http, account, doc))
        frame = await console.expect("attachments", timeout=30)
    assert frame["conversation"] == cid and frame["attachments"][0]["kind"] == "image"
    listed = texts(server, cookie, cid)
    assert [m["body"] for m in listed] == ["first", "My broken parcel"]
    [message] = [m for m in listed if m["seq"] == frame["seq"]]
    assert [a["id"] for a in message["attachments"]] == [a["id"] for a in frame["attachments"]]
    assert message["attachments"][0]["content_type"] == "image/jpeg"
    assert Image.open(io.BytesIO(downloaded(server, cookie, message["attachments"][0]["id"]))).size == (64, 64)
    # Re-delivered after the file was kept: still one message, one attachment, one fetch.
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(2, lambda: post_meta(http, account, doc))
    assert len(texts(server, cookie, cid)) == 2 and providers.fetched(media_id) == 1
    assert [len(m["attachments"]) for m in texts(server, cookie, cid)] == [1, 1]


@contextlib.contextmanager
def spam_words(server: PapoteServer, cookie: str, words: list[str]) -> Iterator[None]:
    """The site's spam filter holds messages with these words meanwhile (the module's site is shared)."""
    status, _, _ = server.http("PATCH", f"/api/sites/{server.site_key}", {"settings": {"spam_words": words}},
                               cookie=cookie)
    assert status == 200
    try:
        yield
    finally:
        server.http("PATCH", f"/api/sites/{server.site_key}", {"settings": {"spam_words": []}}, cookie=cookie)


async def test_a_held_messages_file_is_fetched_when_an_agent_releases_it(server: PapoteServer,
                                                                       providers: FakeProviders) -> None:
    """The spam filter holds a customer's image with its caption: nothing is fetched while it waits, and
    its release stores the message and fetches its file as if it had never been held."""
    cookie = server.login()
    with spam_words(server, cookie, ["lottery"]):
        account = whatsapp(server, "300009")
        media_id = providers.add_file(jpeg(), "image/jpeg")
        opener = wa_image("300009", "33611110009", "wamid.h0", providers.add_file(jpeg(), "image/jpeg"), "hello")
        doc = wa_image("300009", "33611110009", "wamid.h1", media_id, "I won the lottery")
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            await post_n(1, lambda: post_meta(http, account, opener))
            cid, _ = await attached(server, cookie, "33611110009")
            await post_n(2, lambda: post_meta(http, account, doc))
        _, listed, _ = server.http("GET", f"/api/sites/{server.site_key}/held", cookie=cookie)
        [held] = [h for h in listed["held"] if h["body"] == "I won the lottery"]
        assert held["reasons"] == ["words"] and providers.fetched(media_id) == 0
        assert [m["body"] for m in texts(server, cookie, cid)] == ["hello"]

        status, released, _ = server.http("POST", f"/api/sites/{server.site_key}/held/{held['id']}/release",
                                          cookie=cookie)
        assert status == 200, released
        assert released["conversation"] == cid
        [message] = await until_io(lambda: [m for m in texts(server, cookie, cid)
                                         if m["body"] == "I won the lottery" and m.get("attachments")],
                                "the released message's file")
    assert message["seq"] == released["seq"] and message["attachments"][0]["kind"] == "image"
    assert "held_jobs" not in (message.get("data") or {})  # what the release stores with it stays private
    assert Image.open(io.BytesIO(downloaded(server, cookie, message["attachments"][0]["id"]))).size == (64, 64)
    assert providers.fetched(media_id) == 1


async def test_a_new_customers_held_first_message_opens_the_thread_their_next_messages_join(
        server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    with spam_words(server, cookie, ["jackpot"]):
        account = whatsapp(server, "300010")
        media_id = providers.add_file(jpeg(), "image/jpeg")
        first = wa_image("300010", "33611110010", "wamid.n1", media_id, "jackpot here")
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            await post_n(1, lambda: post_meta(http, account, first))
            _, listed, _ = server.http("GET", f"/api/sites/{server.site_key}/held", cookie=cookie)
            [held] = [h for h in listed["held"] if h["body"] == "jackpot here"]
            assert held["conversation"] is None
            status, released, _ = server.http("POST", f"/api/sites/{server.site_key}/held/{held['id']}/release",
                                              cookie=cookie)
            assert status == 200, released
            second = whatsapp_message("300010", "33611110010", "wamid.n2", "still there?", name="33611110010")
            await post_n(1, lambda: post_meta(http, account, second))
        cid = released["conversation"]
        await until_io(lambda: [m for m in texts(server, cookie, cid) if m["body"] == "still there?"],
                    "the next message in the released message's conversation")
        await until_io(lambda: [m for m in texts(server, cookie, cid) if m.get("attachments")], "the released file")


async def test_a_webhooks_message_created_waits_for_the_customers_file_and_carries_it(
        server: PapoteServer, providers: FakeProviders) -> None:
    """An integrator's endpoint hears of a customer's photo once it is kept, with the photo in the event:
    a `message.created` without it, and no event for the file after, would leave it never knowing."""
    cookie = server.login()
    receiver = Receiver()
    receiver.start()
    endpoint = add_endpoint(server, cookie, receiver, ["message.created"])
    try:
        account = whatsapp(server, "300011")
        media_id = providers.add_file(jpeg(), "image/jpeg")
        providers.script("media", "500")  # the first fetch fails: the file comes ~2 s after its message
        doc = wa_image("300011", "33611110011", "wamid.w1", media_id, "photo for the hook")
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            await post_n(1, lambda: post_meta(http, account, doc))
            follow = whatsapp_message("300011", "33611110011", "wamid.w2", "and a follow-up", name="33611110011")
            await post_n(1, lambda: post_meta(http, account, follow))

        def events() -> list[dict[str, Any]]:
            return [r["body"]["data"]["message"] for r in receiver.delivered()
                    if r["body"]["data"]["message"]["body"] in ("photo for the hook", "and a follow-up")]

        delivered = await until_io(lambda: len(events()) == 2 and events(), "both messages' events")
    finally:
        server.http("DELETE", f"/api/sites/{server.site_key}/webhooks/{endpoint['id']}", cookie=cookie)
        receiver.stop()
    photo, after = delivered
    assert providers.fetched(media_id) == 2  # the failed try, then the one that kept it
    assert photo["body"] == "photo for the hook" and [a["kind"] for a in photo["attachments"]] == ["image"]
    assert after["body"] == "and a follow-up" and after["seq"] == photo["seq"] + 1  # in order, after it


async def test_a_fetch_failing_twice_then_succeeding_still_attaches(server: PapoteServer,
                                                                    providers: FakeProviders) -> None:
    cookie = server.login()
    account = whatsapp(server, "300002")
    media_id = providers.add_file(b"%PDF-1.4\n% a small pdf\n%%EOF\n", "application/pdf")
    providers.script("media", "500", "500")
    doc = wa_image("300002", "33611110002", "wamid.m2", media_id, None, kind="document", filename="invoice.pdf")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(1, lambda: post_meta(http, account, doc))
    _, message = await attached(server, cookie, "33611110002")
    assert message["body"] == "" and message["attachments"][0]["name"] == "invoice.pdf"
    assert message["attachments"][0]["content_type"] == "application/pdf"
    assert providers.fetched(media_id) == 3


async def test_a_file_over_the_sites_size_becomes_a_note(server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    account = whatsapp(server, "300003")
    media_id = providers.add_file(b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024 + 10), "application/pdf")
    doc = wa_image("300003", "33611110003", "wamid.m3", media_id, "the manual", kind="document",
                   filename="manual.pdf")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(2, lambda: post_meta(http, account, doc))
    conv = await until_io(lambda: conversation_of(server, cookie, "33611110003"), "the conversation")
    [note] = await until_io(lambda: notes(server, cookie, conv["id"]), "the note")
    assert "was not kept: the file is over 10 MB" in note["body"]
    assert [(m["body"], m.get("attachments", [])) for m in texts(server, cookie, conv["id"])] == [("the manual", [])]
    assert providers.fetched(media_id) == 0  # refused from the size the provider announced


async def test_files_refused_by_type_size_or_the_provider_become_notes(server: PapoteServer,
                                                                       providers: FakeProviders) -> None:
    """Each refusal is a note on the conversation, said once, and no retry that cannot help: a page of
    markup (never accepted), a file whose size is only known from the download, a file the provider
    no longer has."""
    cookie = server.login()
    account = connect(server, "twilio", {"account_sid": TW_SID, "from_number": "+15550001111",
                                         "auth_token": TW_TOKEN})
    markup = providers.add_file(b"<html><script>alert(1)</script></html>", "text/html")
    big = providers.add_file(b"%PDF-1.4\n" + b"1" * (10 * 1024 * 1024), "application/pdf")
    form = {"MessageSid": "MM" + "d" * 32, "AccountSid": TW_SID, "From": "+33600000099", "To": "+15550001111",
            "Body": "two files", "NumMedia": "2", "MediaUrl0": providers.file_url("twilio", markup),
            "MediaContentType0": "image/jpeg", "MediaUrl1": providers.file_url("twilio", big),
            "MediaContentType1": "application/pdf", "SmsStatus": "received"}
    signature = twilio_signature(TW_TOKEN, account["webhook_url"], form)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(2, lambda: http.post(hook_path(account), data=form, headers={"x-twilio-signature": signature}))
    conv = await until_io(lambda: conversation_of(server, cookie, "+33600000099"), "the conversation")
    found = await until_io(lambda: notes(server, cookie, conv["id"]) if len(notes(server, cookie, conv["id"])) >= 2
                        else None, "two notes")
    assert len(found) == 2
    assert {("text/html is not accepted" in n["body"], "over 10 MB" in n["body"]) for n in found} == {
        (True, False), (False, True)}
    assert providers.fetched(markup) == 1 and providers.fetched(big) <= 1
    # WhatsApp: the provider answers 404 for the file: for good, a note, no further attempt.
    wa = whatsapp(server, "300004")
    gone = providers.add_file(jpeg(), "image/jpeg")
    providers.script("media", "404")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(1, lambda: post_meta(http, wa, wa_image("300004", "33611110004", "wamid.m4", gone, None)))
    wconv = await until_io(lambda: conversation_of(server, cookie, "33611110004"), "the conversation")
    [note] = await until_io(lambda: notes(server, cookie, wconv["id"]), "the note")
    assert "image" in note["body"] and "did not give it" in note["body"]
    assert providers.fetched(gone) == 1


async def test_telegram_photo_attaches_once(server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    account = connect(server, "telegram", {"bot_token": TG_TOKEN, "secret_token": TG_SECRET})
    big = providers.add_file(jpeg(96), "image/jpeg")
    update = {"update_id": 9101, "message": {
        "message_id": 12, "date": int(time.time()), "from": {"id": 5151, "first_name": "Tina"},
        "chat": {"id": 5151, "type": "private"}, "caption": "this one",
        "photo": [{"file_id": "small-unused", "file_unique_id": "s", "width": 90, "height": 90},
                  {"file_id": big, "file_unique_id": "b", "width": 96, "height": 96}]}}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(3, lambda: http.post(hook_path(account), json=update,
                                          headers={"x-telegram-bot-api-secret-token": TG_SECRET}))
    cid, message = await attached(server, cookie, "Tina")
    assert message["body"] == "this one" and message["attachments"][0]["width"] == 96
    assert len(texts(server, cookie, cid)) == 1 and providers.fetched(big) == 1


async def test_twilio_mms_attaches_once_with_the_accounts_credentials(server: PapoteServer,
                                                                      providers: FakeProviders) -> None:
    cookie = server.login()
    account = connect(server, "twilio", {"account_sid": TW_SID, "from_number": "+15550001111",
                                         "auth_token": TW_TOKEN})
    key = providers.add_file(jpeg(), "image/jpeg")
    form = {"MessageSid": "MM" + "b" * 32, "AccountSid": TW_SID, "From": "+33600000077", "To": "+15550001111",
            "Body": "", "NumMedia": "1", "MediaUrl0": providers.file_url("twilio", key),
            "MediaContentType0": "image/jpeg", "SmsStatus": "received"}
    signature = twilio_signature(TW_TOKEN, account["webhook_url"], form)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(3, lambda: http.post(hook_path(account), data=form, headers={"x-twilio-signature": signature}))
    cid, message = await attached(server, cookie, "+33600000077")
    assert message["attachments"][0]["kind"] == "image"
    # The media URL answered only because the account's credentials came with the request.
    assert len(texts(server, cookie, cid)) == 1 and providers.fetched(key) == 1


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
async def test_messenger_and_instagram_attachments_attach_once(server: PapoteServer, providers: FakeProviders,
                                                               kind: str) -> None:
    cookie = server.login()
    page = "400001" if kind == "messenger" else "400002"
    account = connect(server, kind, {"page_id": page, "access_token": "EAAG-page-token-1", "app_secret": APP_SECRET,
                                     "verify_token": VERIFY})
    key = providers.add_file(jpeg(), "image/jpeg")
    sender = f"PSID-{kind}"
    now = int(time.time() * 1000)
    doc = {"object": "page" if kind == "messenger" else "instagram", "entry": [{"id": page, "time": now, "messaging": [
        {"sender": {"id": sender}, "recipient": {"id": page}, "timestamp": now,
         "message": {"mid": f"m_{kind}_1", "attachments": [
             {"type": "image", "payload": {"url": providers.file_url(kind, key)}}]}}]}]}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(3, lambda: post_meta(http, account, doc))
    cid, message = await attached(server, cookie, sender)
    assert message["body"] == "" and message["attachments"][0]["content_type"] == "image/jpeg"
    assert len(texts(server, cookie, cid)) == 1 and providers.fetched(key) == 1


# -- agents' files out ---------------------------------------------------------------------------------

def upload(server: PapoteServer, cookie: str, name: str, data: bytes, content_type: str) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url) as http:
        answer = http.post(f"/api/sites/{server.site_key}/attachments", params={"name": name}, content=data,
                           headers={"cookie": cookie, "x-papote-request": "1", "content-type": content_type})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def reply_with(server: PapoteServer, cookie: str, cid: str, body: str, files: list[str]) -> tuple[int, Any]:
    message: dict[str, Any] = {"client_msg_id": new_msg_id(), "attachments": files}
    if body:
        message["body"] = body
    status, answer, _ = server.http("POST", f"/api/conversations/{cid}/messages", message, cookie=cookie)
    return status, answer


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


async def test_an_agents_files_reach_each_providers_upload(server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    photo = upload(server, cookie, "label.jpg", jpeg(), "image/jpeg")
    doc = upload(server, cookie, "terms.pdf", PDF, "application/pdf")
    # WhatsApp: each file uploaded to /{number}/media, then sent by its media id; the text goes first.
    account = whatsapp(server, "300010")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(1, lambda: post_meta(http, account, wa_image(
            "300010", "33611110010", "wamid.o1", providers.add_file(jpeg(), "image/jpeg"), "hello")))
    cid, _ = await attached(server, cookie, "33611110010")
    before, uploads_before = len(providers.sends("meta")), len(providers.sends("meta-upload"))
    status, ack = reply_with(server, cookie, cid, "Here you are", [photo["id"], doc["id"]])
    assert status == 201, ack
    sends = await until_io(lambda: [s for s in providers.sends("meta")[before:] if s.provider_id][:3] if len(
        [s for s in providers.sends("meta")[before:] if s.provider_id]) >= 3 else None, "three sends")
    uploads = providers.sends("meta-upload")[uploads_before:]
    assert [u.body["file"]["filename"] for u in uploads] == ["label.jpg", "terms.pdf"]
    assert uploads[1].body["file"]["data"] == PDF and uploads[0].path == "/meta/300010/media"
    assert [s.body["type"] for s in sends] == ["text", "image", "document"]
    assert sends[1].body["image"] == {"id": uploads[0].provider_id}
    assert sends[2].body["document"] == {"id": uploads[1].provider_id, "filename": "terms.pdf"}
    # Telegram: sendPhoto and sendDocument, multipart.
    tg = connect(server, "telegram", {"bot_token": TG_TOKEN, "secret_token": TG_SECRET})
    update = {"update_id": 9201, "message": {"message_id": 1, "date": int(time.time()), "text": "hi",
                                             "from": {"id": 6161, "first_name": "Tom"},
                                             "chat": {"id": 6161, "type": "private"}}}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(1, lambda: http.post(hook_path(tg), json=update,
                                          headers={"x-telegram-bot-api-secret-token": TG_SECRET}))
    tconv = await until_io(lambda: conversation_of(server, cookie, "Tom"), "the conversation")
    before = len(providers.sends("telegram"))
    photo, doc = (upload(server, cookie, "label.jpg", jpeg(), "image/jpeg"),  # a file goes with one message
                  upload(server, cookie, "terms.pdf", PDF, "application/pdf"))
    status, answer = reply_with(server, cookie, tconv["id"], "", [photo["id"], doc["id"]])
    assert status == 201, answer
    tsends = await until_io(lambda: providers.sends("telegram")[before:] if len(
        providers.sends("telegram")[before:]) >= 2 else None, "two sends")
    assert [s.path.rsplit("/", 1)[1] for s in tsends] == ["sendPhoto", "sendDocument"]
    assert tsends[0].body["chat_id"] == "6161" and tsends[1].body["document"]["data"] == PDF
    # Messenger: the Send API's multipart upload.
    fb = connect(server, "messenger", {"page_id": "400010", "access_token": "EAAG-page-token-1",
                                       "app_secret": APP_SECRET, "verify_token": VERIFY})
    now = int(time.time() * 1000)
    first = {"object": "page", "entry": [{"id": "400010", "time": now, "messaging": [
        {"sender": {"id": "PSID-out"}, "recipient": {"id": "400010"}, "timestamp": now,
         "message": {"mid": "m_out_1", "text": "hi"}}]}]}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(1, lambda: post_meta(http, fb, first))
    fconv = await until_io(lambda: conversation_of(server, cookie, "PSID-out"), "the conversation")
    before = len(providers.sends("meta"))
    doc = upload(server, cookie, "terms.pdf", PDF, "application/pdf")
    assert reply_with(server, cookie, fconv["id"], "", [doc["id"]])[0] == 201
    [fsend] = await until_io(lambda: [s for s in providers.sends("meta")[before:] if s.provider_id], "the upload")
    assert fsend.path == "/meta/400010/messages" and fsend.body["filedata"]["data"] == PDF
    assert json.loads(fsend.body["message"])["attachment"]["type"] == "file"
    assert json.loads(fsend.body["recipient"]) == {"id": "PSID-out"}


async def test_twilio_gets_a_signed_link_it_can_fetch_and_a_forged_one_is_refused(
        server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    account = connect(server, "twilio", {"account_sid": TW_SID, "from_number": "+15550001111",
                                         "auth_token": TW_TOKEN})
    form = {"MessageSid": "SM" + "c" * 32, "AccountSid": TW_SID, "From": "+33600000088", "To": "+15550001111",
            "Body": "hi", "NumMedia": "0", "SmsStatus": "received"}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(1, lambda: http.post(hook_path(account), data=form, headers={
            "x-twilio-signature": twilio_signature(TW_TOKEN, account["webhook_url"], form)}))
    conv = await until_io(lambda: conversation_of(server, cookie, "+33600000088"), "the conversation")
    doc = upload(server, cookie, "terms.pdf", PDF, "application/pdf")
    before = len(providers.sends("twilio"))
    assert reply_with(server, cookie, conv["id"], "", [doc["id"]])[0] == 201
    [sent] = await until_io(lambda: [s for s in providers.sends("twilio")[before:] if s.provider_id], "the MMS")
    link = sent.body["MediaUrl"]
    assert link.startswith(f"{server.base_url}/files/{doc['id']}?")
    async with httpx.AsyncClient() as http:
        fetched = await http.get(link)  # as Twilio does: no cookie, no credentials
        assert fetched.status_code == 200 and fetched.content == PDF
        assert fetched.headers["content-disposition"].startswith("attachment")
        parts = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
        base = f"{server.base_url}/files/{doc['id']}"
        forged = {"a wrong signature": {**parts, "s": "A" * 22},
                  "a later expiry under the old signature": {**parts, "e": str(int(parts["e"]) + 1)},
                  "an expired link": {"e": "1000", "s": signature("x", doc["id"], 1000)},
                  "no signature": {"e": parts["e"]}}
        for why, query in forged.items():
            answer = await http.get(base, params=query)
            assert answer.status_code == 404, why
        other = upload(server, cookie, "other.pdf", PDF, "application/pdf")  # never sent: no link opens it
        assert (await http.get(f"{server.base_url}/files/{other['id']}", params=parts)).status_code == 404


async def test_files_outside_the_window_are_refused_first_and_stay_sendable(server: PapoteServer,
                                                                            providers: FakeProviders) -> None:
    """WhatsApp's template carries text only: a reply with a file after 24 hours is refused before it is
    stored (`window_closed`), and its file is free to go with another message once the customer writes
    again."""
    cookie = server.login()
    account = whatsapp(server, "300020", template="follow_up")
    old = int(time.time()) - 25 * 3600
    doc = {**wa_image("300020", "33611110020", "wamid.late", providers.add_file(jpeg(), "image/jpeg"), "late")}
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(old)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(1, lambda: post_meta(http, account, doc))
    cid, _ = await attached(server, cookie, "33611110020")
    file = upload(server, cookie, "terms.pdf", PDF, "application/pdf")
    before = len(texts(server, cookie, cid))
    status, answer = reply_with(server, cookie, cid, "Here", [file["id"]])
    assert (status, answer["error"]["code"]) == (409, "window_closed")
    assert len(texts(server, cookie, cid)) == before  # nothing stored
    # The customer writes again: the window opens, and the same file goes.
    fresh = wa_image("300020", "33611110020", "wamid.again", providers.add_file(jpeg(), "image/jpeg"), "again")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await post_n(1, lambda: post_meta(http, account, fresh))
    uploads_before = len(providers.sends("meta-upload"))
    status, answer = reply_with(server, cookie, cid, "", [file["id"]])
    assert status == 201, answer
    await until_io(lambda: providers.sends("meta-upload")[uploads_before:], "the upload")

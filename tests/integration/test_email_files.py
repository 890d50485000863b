"""Files of inbound mail, end to end on both backends: a real SMTP client into the server's listener,
Postmark-shaped webhook posts and Mailgun-shaped multipart forms. A PDF becomes the message's attachment
(the same bytes come back), a signature's small inline logo is left out, a type the site does not take
is named in a private note, and the sending server's retry keeps nothing twice."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.harness import PapoteServer, new_msg_id, serve, until_io
from tests.integration.test_email import Sink, mail_env, sink, text_of
from tests.integration.test_email_channel import ANN, SUPPORT, deliver, mail, patch_settings
from tests.integration.test_email_webhook import MAILGUN_KEY, MAILGUN_PATH, SECRET, mailgun_form, payload, send

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]
__all__ = ["sink"]

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def mail_server(tmp_path: Path, server_backend: str, sink: tuple[Sink, int],
                request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    env = {**mail_env(sink[1], "papote@shop.test", smtp_timeout_secs=5), "PAPOTE_POSTMARK_INBOUND_SECRET": SECRET,
           "PAPOTE_MAILGUN_SIGNING_KEY": MAILGUN_KEY}
    server = PapoteServer(tmp_path, backend=server_backend, env_extra=env)
    yield from serve(server, request)


def png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def messages_of(server: PapoteServer, cookie: str) -> tuple[str, list[dict[str, Any]]]:
    [cid] = [r[0] for r in server.sql("SELECT conversation_id FROM email_threads WHERE address=?", ANN)]
    status, body, _ = server.http("GET", f"/api/conversations/{cid}/messages?after_seq=0&limit=200", cookie=cookie)
    assert status == 200
    return cid, body["messages"]


def download(server: PapoteServer, cookie: str, attachment_id: str) -> bytes:
    with httpx.Client(base_url=server.base_url) as http:
        answer = http.get(f"/api/attachments/{attachment_id}", headers={"cookie": cookie})
    assert answer.status_code == 200
    return answer.content


async def test_a_mail_with_a_pdf_by_smtp_becomes_an_attachment_once(mail_server: PapoteServer) -> None:
    server = mail_server
    assert (await patch_settings(server, server.site_key, {"email_support_address": SUPPORT}))[0] == 200
    msg = mail("Here is the invoice.\n\n-- \nAnn", message_id="<ann-files@example.test>")
    msg.add_alternative('<p>Here is the invoice.</p><p><img src="cid:logo@ann"></p>', subtype="html")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="invoice.pdf")
    msg.add_attachment(b"MZ\x90\x00\x03binary", maintype="application", subtype="octet-stream", filename="tool.exe")
    msg.add_attachment(png(8), maintype="image", subtype="png", filename="logo.png", disposition="inline",
                       cid="<logo@ann>")
    for _ in range(2):  # the sending server's retry: nothing kept twice
        await deliver(server, msg)
    cookie = await asyncio.to_thread(server.login)
    await until_io(lambda: [m for m in messages_of(server, cookie)[1] if m["kind"] == "note"], "the note")
    cid, listed = messages_of(server, cookie)
    [text] = [m for m in listed if m["kind"] == "text"]
    [note] = [m for m in listed if m["kind"] == "note"]
    assert text["body"] == "Broken zip\n\nHere is the invoice."
    assert [(a["name"], a["content_type"]) for a in text["attachments"]] == [("invoice.pdf", "application/pdf")]
    assert download(server, cookie, text["attachments"][0]["id"]) == PDF
    assert "tool.exe" in note["body"] and "logo.png" not in note["body"]
    assert server.sql("SELECT count(*) FROM attachments WHERE conversation_id=?", cid) == [(1,)]


async def test_postmark_attachments_become_the_messages_files(mail_server: PapoteServer) -> None:
    server = mail_server
    assert (await patch_settings(server, server.site_key, {"email_support_address": SUPPORT}))[0] == 200
    photo = png(200)
    body = payload("A photo of the damage", sender=ANN, message_id="<ann-pm-files@mail.example.test>",
                   html='<p>A photo of the damage</p><img src="cid:sig1">')
    body["Attachments"] = [
        {"Name": "damage.png", "Content": base64.b64encode(photo).decode(), "ContentType": "image/png",
         "ContentLength": len(photo)},
        {"Name": "sig.png", "Content": base64.b64encode(png(4)).decode(), "ContentType": "image/png",
         "ContentLength": 60, "ContentID": "sig1"},
    ]
    for _ in range(2):
        assert (await send(server, body))[0] == 200
    cookie = await asyncio.to_thread(server.login)
    _, listed = messages_of(server, cookie)
    [text] = [m for m in listed if m["kind"] == "text"]
    assert [(a["name"], a["kind"], a["width"]) for a in text["attachments"]] == [("damage.png", "image", 200)]
    assert not [m for m in listed if m["kind"] == "note"]


async def test_mailgun_attachments_become_the_messages_files(mail_server: PapoteServer) -> None:
    """Mailgun's `attachment-N` files ride the same path: kept as the message's, a signature's small
    inline logo (named in `content-id-map`) left out, and Mailgun's retry (signed afresh) keeps none twice."""
    server = mail_server
    assert (await patch_settings(server, server.site_key, {"email_support_address": SUPPORT}))[0] == 200
    photo = png(200)
    files = {"attachment-1": ("damage.png", photo, "image/png"), "attachment-2": ("sig.png", png(4), "image/png")}
    for _ in range(2):  # the second post is Mailgun's retry of a post whose answer was lost
        form = {**mailgun_form("A photo of the damage", sender=ANN, message_id="<ann-mg-files@mail.example.test>",
                               html='<p>A photo of the damage</p><img src="cid:sig1@mail">'),
                "attachment-count": "2", "content-id-map": json.dumps({"<sig1@mail>": "attachment-2"})}
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            answer = await http.post(MAILGUN_PATH, data=form, files=files)
        assert answer.status_code == 200, answer.text
    cookie = await asyncio.to_thread(server.login)
    cid, listed = messages_of(server, cookie)
    [text] = [m for m in listed if m["kind"] == "text"]
    assert text["body"] == "Invoice 77\n\nA photo of the damage"
    assert [(a["name"], a["kind"], a["width"]) for a in text["attachments"]] == [("damage.png", "image", 200)]
    assert not [m for m in listed if m["kind"] == "note"]
    assert server.sql("SELECT count(*) FROM attachments WHERE conversation_id=?", cid) == [(1,)]


async def test_an_agents_reply_by_mail_carries_its_file(mail_server: PapoteServer, sink: tuple[Sink, int]) -> None:
    server, (relay, _) = mail_server, sink
    assert (await patch_settings(server, server.site_key, {"email_support_address": SUPPORT}))[0] == 200
    await deliver(server, mail("Do you have the terms?", message_id="<ann-terms@example.test>"))
    cookie = await asyncio.to_thread(server.login)
    cid, _ = await until_io(lambda: messages_of(server, cookie) if server.sql(
        "SELECT 1 FROM email_threads WHERE address=?", ANN) else None, "the conversation")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        uploaded = await http.post(f"/api/sites/{server.site_key}/attachments", params={"name": "terms.pdf"},
                                   content=PDF, headers={"cookie": cookie, "x-papote-request": "1",
                                                         "content-type": "application/pdf"})
    assert uploaded.status_code == 201
    status, ack, _ = server.http("POST", f"/api/conversations/{cid}/messages",
                                 {"body": "Here they are.", "client_msg_id": new_msg_id(),
                                  "attachments": [uploaded.json()["id"]]}, cookie=cookie)
    assert status == 201, ack
    [sent] = await until_io(lambda: relay.mails, "the reply by mail")
    files = [(p.get_filename(), p.get_content_type(), p.get_content()) for p in sent.iter_attachments()]
    assert files == [("terms.pdf", "application/pdf", PDF)]
    assert "Here they are." in text_of(sent) and "terms.pdf" in text_of(sent)

"""Attachments in Chromium, both ways: the visitor's photo reaches the console (a thumbnail, then the
larger view), the agent's PDF reaches the widget (a card with name, type and size, downloaded as
itself), and an upload that fails shows a retry that then sends the message once — on a phone's
viewport too. Driven by accessible names ("Attach a file", "View image …", "Download …", "Retry").
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from tests.harness import PapoteServer

from .agent import Agent
from .conftest import open_page
from .test_console import console_build as console_build  # the console's build, a fixture
from .test_console import queue, row, sign_in
from .test_widget import demo_url, open_chat

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


@pytest_asyncio.fixture(loop_scope="module")
async def visitor_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800}, accept_downloads=True)
    yield ctx
    await ctx.close()


@pytest_asyncio.fixture(loop_scope="module")
async def phone_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True)
    yield ctx
    await ctx.close()


async def attach(page: Page, name: str, data: bytes, mime: str, button: Any) -> None:
    async with page.expect_file_chooser() as chooser:
        await button.click()
    await (await chooser.value).set_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


@pytest.mark.usefixtures("console_build")
async def test_a_photo_to_the_agent_and_a_pdf_back(papote_server: PapoteServer, context: BrowserContext,
                                                   visitor_context: BrowserContext) -> None:
    server = papote_server
    console = await open_page(context)
    await sign_in(console, server)
    shop = await open_page(visitor_context)
    await shop.goto(demo_url(server))
    await open_chat(shop)

    # The visitor picks a photo, and pastes another: both upload, then go with one message.
    await attach(shop, "photo.png", png((220, 40, 40)), "image/png", shop.get_by_role("button", name="Attach a file"))
    await shop.get_by_role("textbox", name="Message").evaluate(
        """(box, bytes) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], "pasted.png", {type: "image/png"}));
            box.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
        }""", list(png((40, 40, 220))))
    await expect(shop.locator("papote-widget .upload[data-state=ready]")).to_have_count(2)
    await shop.get_by_role("textbox", name="Message").fill("Here is the damage")
    await shop.get_by_role("button", name="Send", exact=True).click()
    mine = shop.locator("papote-widget .msg.mine", has_text="Here is the damage")
    await expect(mine).to_have_attribute("data-state", re.compile("^(sent|read)$"))
    await expect(mine.get_by_role("button", name="View image photo.png")).to_be_visible()
    [[conversation]] = server.sql("SELECT id FROM conversations")

    # The agent sees the thumbnails in the console and opens the larger view.
    await queue(console, "mine")
    await row(console, conversation).click()
    chat = console.locator(f".chat[data-conversation='{conversation}']")
    thumb = chat.get_by_role("button", name="View image photo.png")
    await expect(thumb).to_be_visible()
    await expect(chat.get_by_role("button", name="View image pasted.png")).to_be_visible()
    assert await thumb.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    await thumb.click()
    viewer = console.get_by_role("dialog", name="photo.png")
    await expect(viewer).to_be_visible()
    assert await viewer.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") == 64
    await viewer.get_by_role("button", name="Close").click()
    await expect(viewer).to_have_count(0)

    # The agent sends a PDF; the visitor sees its card and downloads it.
    await attach(console, "invoice.pdf", PDF, "application/pdf", chat.get_by_role("button", name="Attach a file"))
    await expect(chat.locator(".upload-tray .upload[data-state=ready]")).to_have_count(1)
    await chat.get_by_role("button", name="Send").click()
    card = shop.locator("papote-widget .msg:not(.mine) .card", has_text="invoice.pdf")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("PDF")
    await expect(card).to_contain_text(f"{len(PDF)} B")
    # A message of files only previews in the inbox as their names, after a drawn paperclip.
    preview = row(console, conversation).locator(".conv-preview")
    await expect(preview).to_have_text("invoice.pdf")
    await expect(preview.locator("svg.clip")).to_have_count(1)
    async with shop.expect_download() as download:
        await card.get_by_role("button", name="Download invoice.pdf").click()
    got = await download.value
    assert got.suggested_filename == "invoice.pdf"
    assert Path(await got.path()).read_bytes() == PDF
    # One message each way, each with its files, stored once.
    assert server.sql("SELECT count(*) FROM attachments WHERE conversation_id IS NOT NULL")[0][0] == 3


async def test_a_failed_upload_is_retried_and_sent_once_on_a_phone(papote_server: PapoteServer,
                                                                   phone_context: BrowserContext,
                                                                   agent: Agent) -> None:
    server = papote_server
    page = await open_page(phone_context)
    failures = []

    async def fail_once(route: Route) -> None:
        if not failures and route.request.method == "POST":
            failures.append(route.request.url)
            await route.fulfill(status=503, content_type="application/json",
                                body='{"error": {"code": "busy", "message": "try again"}}')
        else:
            await route.continue_()

    await page.route(re.compile(r".*/api/widget/[^/]+/attachments\?.*"), fail_once)
    await page.goto(demo_url(server))
    await open_chat(page)
    # A file the server refuses for what it is: its reason, and no Retry (it would be refused again).
    failures.append("not this one")
    await attach(page, "setup.exe", b"MZ" + bytes(200), "application/x-msdownload",
                 page.get_by_role("button", name="Attach a file"))
    refused = page.locator("papote-widget .upload[data-state=failed]", has_text="setup.exe")
    await expect(refused).to_contain_text("This type of file cannot be sent here")
    await expect(refused.get_by_role("button", name="Retry")).to_have_count(0)
    await refused.get_by_role("button", name="Remove setup.exe").click()
    failures.clear()
    await attach(page, "receipt.png", png((10, 160, 10)), "image/png", page.get_by_role("button", name="Attach a file"))
    failed = page.locator("papote-widget .upload[data-state=failed]")
    await expect(failed).to_contain_text("receipt.png")
    assert len(failures) == 1
    # Sending waits for the file: nothing leaves while it is not uploaded, and the panel says why.
    await page.get_by_role("button", name="Send", exact=True).click()
    hint = page.locator("papote-widget .tray [role=status]")
    await expect(hint).to_have_text("A file could not be sent: retry it or remove it, then send.")
    await page.get_by_role("button", name="Retry").click()
    await expect(page.locator("papote-widget .upload[data-state=ready]")).to_have_count(1)
    await expect(hint).to_have_count(0)
    await page.get_by_role("button", name="Send", exact=True).click()
    sent = page.locator("papote-widget .msg.mine")
    await expect(sent.get_by_role("button", name="View image receipt.png")).to_be_visible()
    message = await agent.next("message", lambda f: bool(f.get("attachments")))
    assert [a["name"] for a in message["attachments"]] == ["receipt.png"]
    assert server.sql("SELECT count(*) FROM attachments")[0][0] == 1
    assert server.sql("SELECT count(*) FROM messages WHERE kind='text'")[0][0] == 1

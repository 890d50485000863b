"""Messaging apps in the console (Chromium): a site owner connects WhatsApp from the Channels section (the
secrets are not shown again), a customer writes from WhatsApp (a signed webhook), the agent answers from the
composer and sees the reply's delivery state follow the provider's receipts; for a customer outside the
24-hour window, the composer says why it cannot send before the agent writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.harness import PapoteServer, serve
from tests.providers import FakeProviders, meta_body, meta_signature, whatsapp_message, whatsapp_status

from .conftest import open_page
from .test_console import console_build, queue, row, sign_in

__all__ = ["console_build"]  # a fixture, used by name

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

APP_SECRET = "app-secret-browser-1"


@pytest.fixture
def providers() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def papote_server(tmp_path: Path, server_backend: str, providers: FakeProviders,
                  request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, backend=server_backend, env_extra=providers.env())
    yield from serve(server, request)


async def webhook(server: PapoteServer, channel_id: str, doc: dict[str, Any]) -> None:
    body = meta_body(doc)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        answer = await http.post(f"/channels/whatsapp/{channel_id}", content=body, headers={
            "content-type": "application/json", "x-hub-signature-256": meta_signature(APP_SECRET, body)})
    assert answer.status_code == 200


def conversation_of(server: PapoteServer, name: str) -> str:
    _, body, _ = server.http("GET", f"/api/conversations?site={server.site_key}", cookie=server.login())
    [conv] = [c for c in body["conversations"] if c["visitor"] and c["visitor"]["name"] == name]
    return str(conv["id"])


async def test_an_agent_answers_on_whatsapp_and_sees_the_delivery_state(
        papote_server: PapoteServer, providers: FakeProviders, console_build: str, browser: Browser) -> None:
    server = papote_server
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = await open_page(context)
    await sign_in(page, server)
    # The owner connects WhatsApp from the Channels section.
    await page.get_by_role("button", name="Site settings").click()
    channels = page.get_by_role("region", name="Channels")
    await channels.get_by_label("Provider").select_option("whatsapp")
    await channels.get_by_label("Name").fill("Support line")
    await channels.get_by_label("Phone number ID").fill("555000111")
    await channels.get_by_label("Access token").fill("EAAG-browser-token-9876")
    await channels.get_by_label("App secret").fill(APP_SECRET)
    await channels.get_by_label("Verify token (you choose it)").fill("verify-browser-1")
    await channels.get_by_role("button", name="Connect").click()
    listed = channels.locator(".channel-list li")
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text("access_token: …9876")
    await expect(listed).not_to_contain_text("EAAG-browser-token-9876")
    channel_id = await listed.get_attribute("data-channel")
    assert channel_id

    # A customer writes on WhatsApp; another wrote two days ago (their window is shut).
    await webhook(server, channel_id, whatsapp_message("555000111", "33611112222", "wamid.b1", "Is my order late?",
                                                       name="Inès"))
    await webhook(server, channel_id, whatsapp_message("555000111", "33633334444", "wamid.b2", "Thanks!",
                                                       name="Old Tom", at=int(time.time()) - 2 * 86400))
    ines, tom = conversation_of(server, "Inès"), conversation_of(server, "Old Tom")
    await page.get_by_role("button", name="Inbox").click()
    await queue(page, "open")
    await expect(row(page, ines).locator(".channel-badge")).to_have_text("WhatsApp")
    await row(page, ines).click()
    chat = page.locator(f".chat[data-conversation='{ines}']")
    await expect(chat.locator(".chat-header .channel-badge")).to_have_text("WhatsApp")
    await chat.get_by_role("textbox", name="Reply").fill("It leaves today, Inès.")
    await chat.get_by_role("textbox", name="Reply").press("Enter")
    reply = chat.locator(".msg.agent", has_text="It leaves today")
    await expect(reply.locator(".delivery")).to_have_attribute("data-delivery", "sent", timeout=20_000)
    [sent] = [s for s in providers.sends("meta") if s.provider_id]
    assert sent.body["text"]["body"] == "It leaves today, Inès."
    # The provider's receipts, out of order: read first, then delivered. The furthest stands.
    await webhook(server, channel_id, whatsapp_status("555000111", sent.provider_id, "read", "33611112222"))
    await webhook(server, channel_id, whatsapp_status("555000111", sent.provider_id, "delivered", "33611112222"))
    await expect(reply.locator(".delivery")).to_have_attribute("data-delivery", "read")
    await expect(reply.locator(".delivery")).to_have_text("· Read")

    # Outside the window: the composer says why before anything is written.
    await queue(page, "open")
    await row(page, tom).click()
    chat = page.locator(f".chat[data-conversation='{tom}']")
    notice = chat.locator(".channel-notice")
    await expect(notice).to_contain_text("You cannot reply on WhatsApp now")
    await expect(notice).to_contain_text("more than 24 hours ago")
    await expect(chat.get_by_role("textbox", name="Reply")).to_be_disabled()
    await expect(chat.get_by_role("button", name="Send")).to_be_disabled()
    await context.close()

"""One customer across channels in the console (Chromium): the context panel shows the contact's
channels and conversations on every channel; the agent finds the same person's WhatsApp contact by
phone number, compares both side by side, merges, and the panel then lists both conversations with
their channels, one click opening the WhatsApp one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.harness import PapoteServer, serve
from tests.providers import FakeProviders, meta_body, meta_signature, whatsapp_message

from .conftest import open_page
from .test_console import console_build, queue, row, sign_in, visitor_says

__all__ = ["console_build"]  # a fixture, used by name

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

APP_SECRET = "app-secret-contacts-1"


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


async def test_the_timeline_and_a_merge_in_the_context_panel(
        papote_server: PapoteServer, providers: FakeProviders, console_build: str, browser: Browser) -> None:
    server = papote_server
    cookie = server.login()
    status, account, _ = server.http("POST", f"/api/sites/{server.site_key}/channels", {
        "kind": "whatsapp", "name": "Support line", "settings": {
            "phone_number_id": "777000111", "access_token": "EAAG-contacts-token", "app_secret": APP_SECRET,
            "verify_token": "verify-contacts"}}, cookie=cookie)
    assert status == 201
    body = meta_body(whatsapp_message("777000111", "33655556666", "wamid.c1", "Where is order 77?",
                                      name="Inès on WhatsApp"))
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        answer = await http.post(f"/channels/whatsapp/{account['id']}", content=body, headers={
            "content-type": "application/json", "x-hub-signature-256": meta_signature(APP_SECRET, body)})
    assert answer.status_code == 200
    _, listed, _ = server.http("GET", f"/api/conversations?site={server.site_key}", cookie=cookie)
    [wa] = [c for c in listed["conversations"] if c["visitor"]["name"] == "Inès on WhatsApp"]
    web_client, web_cid = await visitor_says(server, "Hello from the website", name="Inès")

    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = await open_page(context)
    await sign_in(page, server)
    await queue(page, "open")
    await row(page, web_cid).click()
    panel = page.locator(".context")
    timeline = panel.get_by_role("list", name="Conversations on every channel")
    await expect(timeline.locator("li")).to_have_count(1)
    await expect(timeline.locator(f"[data-conversation='{web_cid}']")).to_have_attribute("data-channel", "web")

    # Find the WhatsApp contact by phone number, see both side by side, confirm.
    await panel.get_by_role("button", name="Merge with another contact…").click()
    dialog = page.get_by_role("dialog", name="Merge contacts")
    await dialog.get_by_role("searchbox", name="Find a contact").fill("3365555")
    await dialog.locator(f"[data-visitor='{wa['visitor']['id']}']").click()
    sides = dialog.locator(".merge-side")
    await expect(sides).to_have_count(2)
    await expect(sides.nth(0)).to_contain_text("Inès")
    await expect(sides.nth(1)).to_contain_text("Inès on WhatsApp")
    await expect(sides.nth(1)).to_contain_text("33655556666")
    await expect(dialog).to_contain_text("This cannot be undone.")
    await dialog.get_by_role("button", name="Merge", exact=True).click()
    await expect(dialog).to_be_hidden()

    # The panel now lists both conversations, each with its channel, and the contact's two channels.
    await expect(timeline.locator("li")).to_have_count(2)
    await expect(timeline.locator(f"[data-conversation='{wa['id']}']")).to_have_attribute("data-channel", "whatsapp")
    await expect(timeline.locator(f"[data-conversation='{wa['id']}']")).to_contain_text("Where is order 77?")
    channels = panel.get_by_role("list", name="Channels")
    await expect(channels.locator("[data-channel='whatsapp']")).to_contain_text("33655556666")
    await expect(channels.locator("[data-channel='web']")).to_have_count(1)
    # The inbox row of the WhatsApp conversation, now the web visitor's, still says WhatsApp.
    await expect(row(page, wa["id"]).locator(".conv-name")).to_have_text("Inès")
    await expect(row(page, wa["id"]).locator(".channel-badge")).to_have_text("WhatsApp")
    # One click opens the WhatsApp conversation, which says it is on WhatsApp.
    await timeline.locator(f"[data-conversation='{wa['id']}']").click()
    chat = page.locator(f".chat[data-conversation='{wa['id']}']")
    await expect(chat.locator(".chat-header .channel-badge")).to_have_text("WhatsApp")
    # And the server agrees: one contact, both conversations, the merge in the audit log.
    _, audit, _ = server.http("GET", f"/api/sites/{server.site_key}/audit", cookie=cookie)
    assert any(e["action"] == "visitor.merged" for e in audit["entries"])
    await web_client.close()
    await context.close()

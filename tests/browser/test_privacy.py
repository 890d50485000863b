"""Consent mode in Chromium (docs/privacy.md): a site that requires consent gets nothing stored in the
visitor's browser — localStorage, sessionStorage, cookies, IndexedDB — and no WebSocket opened before the
visitor accepts the widget's prompt or the page calls `Papote('consent')`; both after."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from .agent import Agent
from .test_widget import demo_url, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]

#: Everything the page's origin holds: our keys in localStorage and sessionStorage, cookies, IndexedDB.
STORED = """async () => {
  const mine = (area) => Object.keys(area).filter((k) => k.startsWith('papote'));
  const idb = indexedDB.databases ? (await indexedDB.databases()).map((d) => 'idb:' + d.name) : [];
  return [...mine(localStorage), ...mine(sessionStorage), ...idb,
          ...(document.cookie ? document.cookie.split('; ') : [])];
}"""


def watch_sockets(page: Page) -> list[str]:
    opened: list[str] = []
    page.on("websocket", lambda ws: opened.append(ws.url))
    return opened


async def test_nothing_is_stored_and_no_socket_opens_before_the_visitor_consents(
    papote_server: Any, page: Page, agent: Agent
) -> None:
    await agent.update_site(papote_server.site_key, {"consent_required": True})
    sockets = watch_sockets(page)
    await page.goto(demo_url(papote_server))
    # The page reports an event (which would connect): it waits for consent.
    await page.get_by_role("button", name="Add to cart").click()
    # The visitor asks for the chat: the prompt, and still nothing.
    await page.get_by_role("button", name="Open chat").click()
    prompt = page.get_by_role("dialog", name="Open chat")
    await expect(prompt).to_contain_text("keeps an identifier in your browser")
    await page.get_by_role("button", name="Not now").click()
    await expect(prompt).to_have_count(0)
    await page.wait_for_timeout(1000)  # what would have connected or written has had its chance
    assert sockets == []
    assert await page.evaluate(STORED) == []

    await page.get_by_role("button", name="Open chat").click()
    await page.get_by_role("button", name="Accept and chat").click()
    await write(page, "Hello, I agreed")
    await agent.visitor_message("Hello, I agreed")
    assert [url for url in sockets if url.endswith("/ws/visitor")]
    key = f"papote:{papote_server.site_key}:"
    stored = await page.evaluate(STORED)
    assert key + "consent" in stored and key + "token" in stored

    # The next page view: consent was given, the returning visitor connects at once.
    sockets.clear()
    await page.reload()
    await page.wait_for_function("document.querySelector('papote-widget').shadowRoot.querySelector('.panel')")
    await expect(page.get_by_role("dialog", name="Open chat")).to_have_count(0)
    assert sockets


async def test_the_page_gives_consent_with_the_api(papote_server: Any, page: Page, agent: Agent) -> None:
    await agent.update_site(papote_server.site_key, {"consent_required": True})
    sockets = watch_sockets(page)
    await page.goto(demo_url(papote_server))
    await page.evaluate("Papote('set', {plan: 'pro'})")
    await page.wait_for_timeout(1000)
    assert sockets == [] and await page.evaluate(STORED) == []
    # The host page's own consent banner said yes: what waited goes, and storage is allowed.
    await page.evaluate("Papote('consent')")
    key = f"papote:{papote_server.site_key}:"
    for _ in range(200):  # up to 20 s: the panel loads and connects
        if await page.evaluate(f"localStorage.getItem({key + 'token'!r})"):
            break
        await page.wait_for_timeout(100)
    assert [url for url in sockets if url.endswith("/ws/visitor")]
    stored = await page.evaluate(STORED)
    assert key + "consent" in stored and key + "token" in stored

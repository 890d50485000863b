"""Consent mode in Chromium (docs/privacy.md): a site that requires consent gets nothing stored in the
visitor's browser — localStorage, sessionStorage, cookies, IndexedDB — and no WebSocket opened before the
visitor accepts the widget's prompt or the page calls `Papote('consent')`; both after."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect
from websockets.exceptions import ConnectionClosed

from .agent import Agent
from .conftest import open_page
from .test_console import console_build, sign_in, visitor_says  # noqa: F401 (a fixture)
from .test_widget import demo_url, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

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
    # A locator, not a string predicate: polling one is an eval, which the demo page's CSP refuses.
    await page.locator("papote-widget .panel").wait_for(state="attached")
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


@pytest.mark.usefixtures("console_build")
async def test_the_console_exports_and_erases_a_visitor_and_shows_the_audit_log(
    papote_server: Any, context: BrowserContext
) -> None:
    server = papote_server
    page = await open_page(context)
    await sign_in(page, server)
    v, cid = await visitor_says(server, "Please forget me", name="Rosa")
    await page.locator(f".conv-list [data-conversation='{cid}']").click()
    panel = page.locator("section.privacy")
    async with page.expect_download() as waiting:
        await panel.get_by_role("button", name="Export data").click()
    download = await waiting.value
    exported = json.loads(Path(await download.path()).read_text())
    assert [m["body"] for m in exported["tables"]["messages"] if m["kind"] == "text"] == ["Please forget me"]
    assert exported["tables"]["visitors"][0]["name"] == "Rosa"

    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await panel.get_by_role("button", name="Erase visitor").click()
    await expect(panel.get_by_role("status")).to_have_text("The visitor was erased.")
    with pytest.raises(ConnectionClosed):
        for _ in range(100):  # the frames before the close, then the close
            await v.recv(10)
    assert v.ws.close_code == 4013

    # The owner's audit log, in the settings, names both acts.
    await page.get_by_role("button", name="Site settings").click()
    audit = page.locator("section.audit")
    await expect(audit).to_contain_text("visitor.erased")
    await expect(audit).to_contain_text("visitor.exported")


async def test_an_erased_visitors_widget_forgets_them(papote_server: Any, page: Page, agent: Agent) -> None:
    server = papote_server
    await page.goto(demo_url(server))
    await page.get_by_role("button", name="Open chat").click()
    await write(page, "Erase me please")
    message = await agent.visitor_message("Erase me please")
    vid = message["author"]["id"]
    key = f"papote:{server.site_key}:token"
    assert await page.evaluate(f"localStorage.getItem({key!r})")
    status, _, _ = server.http("DELETE", f"/api/sites/{server.site_key}/visitors/{vid}", cookie=server.login())
    assert status == 200
    for _ in range(100):  # up to 10 s: the socket closes with 4013 and the widget forgets
        if await page.evaluate(f"localStorage.getItem({key!r})") is None:
            break
        await page.wait_for_timeout(100)
    assert await page.evaluate(f"localStorage.getItem({key!r})") is None
    await expect(page.locator("papote-widget").get_by_text("Erase me please")).to_have_count(0)
    # The socket is closed for good: the panel says so, not "Connecting…" for ever.
    await expect(page.locator("papote-widget .banner")).to_have_text(
        "The chat is unavailable. Reload the page to try again.")

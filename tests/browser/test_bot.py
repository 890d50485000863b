"""The bot in Chromium, through what a visitor sees: its buttons are quick replies that follow the tree,
a word or two answers it did not understand hand over to a person, and out of hours it collects an email
(with a relay, so the email continuation can answer). One server for the four flows, one browser context
(one visitor) per flow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.harness import PapoteServer, free_port, serve
from tests.integration.test_bot import BOT, CLOSED
from tests.integration.test_email import Sink, sink

from .conftest import open_page
from .test_widget import demo_url, open_chat, said, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["sink"]

PERSON = "Connecting you to a person"


@pytest.fixture
def bot_server(tmp_path: Path, sink: tuple[Sink, int], request: pytest.FixtureRequest) -> Any:
    server = PapoteServer(tmp_path, env_extra={
        "PAPOTE_DEMO": "1", "PAPOTE_SMTP_URL": f"smtp://127.0.0.1:{sink[1]}", "PAPOTE_EMAIL_FROM": "support@shop.test",
        "PAPOTE_EMAIL_DOMAIN": "reply.shop.test", "PAPOTE_SMTP_LISTEN": f"127.0.0.1:{free_port()}"})
    yield from serve(server, request)


def configure(server: PapoteServer, **settings: Any) -> None:
    status, body, _ = server.http("PATCH", f"/api/sites/{server.site_key}",
                                  {"settings": {"bot": BOT, "hours": None, **settings}}, cookie=server.login())
    assert status == 200, body


@pytest_asyncio.fixture(loop_scope="module")
async def visitors(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for ctx in made:
        await ctx.close()


async def new_visitor(browser: Browser, made: list[BrowserContext], server: PapoteServer) -> Page:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    made.append(ctx)
    page = await open_page(ctx)
    await page.goto(demo_url(server))
    await open_chat(page)
    await write(page, "Hello")
    await expect(said(page, "Hi! What is it about?")).to_be_visible()
    return page


def buttons(page: Page) -> Any:
    return page.locator("papote-widget").get_by_role("group", name="Suggested answers")


async def test_bot_flows_in_the_widget(bot_server: PapoteServer, browser: Browser,
                                       visitors: list[BrowserContext]) -> None:
    server = bot_server
    configure(server)

    # Buttons: quick replies under the bot's message, "talk to a person" always last; a tap follows the tree.
    page = await new_visitor(browser, visitors, server)
    offer = buttons(page).last
    await expect(offer.get_by_role("button")).to_have_text(["Shipping", "All good", "Talk to a person"])
    await offer.get_by_role("button", name="Shipping").click()
    await expect(said(page, "Parcels leave within a day.")).to_be_visible()
    await expect(said(page, "Anything else about shipping?")).to_be_visible()
    await write(page, "Do you ship abroad?")
    await expect(said(page, "Yes, to all of Europe.")).to_be_visible()
    await expect(page.locator("papote-widget .msg", has_text="Papote bot").first).to_be_visible()

    # A word hands over at once.
    page = await new_visitor(browser, visitors, server)
    await write(page, "I want a human please")
    await expect(page.locator("papote-widget .event", has_text=PERSON)).to_be_visible()

    # Two answers the bot did not understand hand over.
    page = await new_visitor(browser, visitors, server)
    await write(page, "blorp")
    await expect(said(page, "Sorry, I didn't understand that.")).to_be_visible()
    await write(page, "zzz")
    await expect(page.locator("papote-widget .event", has_text=PERSON)).to_be_visible()

    # Out of hours the bot collects an email, for the email continuation.
    configure(server, hours=CLOSED)
    page = await new_visitor(browser, visitors, server)
    await buttons(page).last.get_by_role("button", name="Talk to a person").click()
    await expect(said(page, "Leave your email and we'll answer you there.")).to_be_visible()
    await write(page, "ann@example.test")
    await expect(said(page, "Thanks! We'll answer you at ann@example.test.")).to_be_visible()
    await expect(page.locator("papote-widget .event", has_text=PERSON)).to_be_visible()
    rows = server.sql("SELECT contact_email FROM conversations WHERE contact_email<>''")
    assert rows == [("ann@example.test",)]

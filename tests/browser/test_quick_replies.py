"""Quick replies in Chromium, through accessible names: the agent offers three from the console's
composer, the visitor taps one in the widget, the console shows the choice, and the widget still shows
the offer as answered after a reload (read from the history, not from the tab). A bad option list is
refused with a coded error."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.harness import PapoteServer, new_msg_id

from .agent import Agent
from .conftest import open_page
from .test_console import console_build, row, sign_in  # noqa: F401 (console_build is a fixture)
from .test_widget import DELIVERED, demo_url, open_chat, own, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

OPTIONS = ["Track my order", "Return an item", "Something else"]


def offer(page: Page) -> Locator:
    return page.locator("papote-widget").get_by_role("group", name="Suggested answers")


async def test_the_agent_offers_three_the_visitor_taps_one_and_it_stays_answered(
    papote_server: PapoteServer, browser: Browser, console_build: str, agent: Agent  # noqa: F811
) -> None:
    server = papote_server
    widget_ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    console_ctx = await browser.new_context(locale="en-US", viewport={"width": 1366, "height": 800})
    try:
        shop = await open_page(widget_ctx)
        await shop.goto(demo_url(server))
        await open_chat(shop)
        await write(shop, "Hello, I need help with an order")
        first = await agent.visitor_message("Hello, I need help with an order")
        conversation = first["conversation"]

        console = await open_page(console_ctx)
        await sign_in(console, server)
        await console.locator("[data-queue=open]").click()
        await row(console, conversation).click()
        await console.get_by_role("button", name="Quick replies").click()
        option = console.get_by_role("textbox", name="Suggested answer")
        for label in OPTIONS:
            await option.fill(label)
            await option.press("Enter")
        chips = console.get_by_role("list", name="Options offered with the next reply")
        await expect(chips.get_by_role("listitem")).to_have_count(3)
        await console.get_by_role("textbox", name="Reply").fill("What can I do for you?")
        await console.get_by_role("button", name="Send", exact=True).click()
        waiting = console.get_by_role("list", name="Quick replies, not answered yet")
        await expect(waiting.get_by_role("listitem")).to_have_count(3)

        # The visitor sees three buttons under the agent's message and taps the second.
        buttons = offer(shop)
        await expect(buttons.get_by_role("button")).to_have_count(3)
        await buttons.get_by_role("button", name="Return an item").click()
        await expect(own(shop, "Return an item")).to_have_attribute("data-state", DELIVERED)
        await expect(buttons.get_by_role("button", name="Return an item")).to_have_attribute("aria-pressed", "true")

        # The console shows which one the visitor picked, on the offer and on the visitor's message.
        answered = console.get_by_role("list", name="Quick replies, answered")
        await expect(answered.get_by_role("listitem").filter(has_text="Return an item (picked)")).to_be_visible()
        await expect(console.get_by_text("Tapped the quick reply “Return an item”")).to_be_visible()

        # The visitor's other tab (same browser, same visitor) shows it answered too.
        other_tab = await open_page(widget_ctx)
        await other_tab.goto(demo_url(server))
        await expect(offer(other_tab).get_by_role("button", name="Return an item")).to_have_attribute(
            "aria-pressed", "true")
        await other_tab.close()

        # After a reload the offer is still answered: drawn from the history.
        await shop.reload()
        await expect(own(shop, "Return an item")).to_be_visible()
        picked = offer(shop).get_by_role("button", name="Return an item")
        await expect(picked).to_have_attribute("aria-pressed", "true")
        await expect(picked).to_be_disabled()
        other = offer(shop).get_by_role("button", name="Track my order")
        await expect(other).to_have_attribute("aria-pressed", "false")
        # The stored message says which option it chose, with the agent's label.
        texts = [m for m in agent.seen if m.get("t") == "message" and m.get("body") == "Return an item"]
        assert texts and texts[-1]["data"]["quick_reply"]["label"] == "Return an item"

        # A bad option list is refused with a coded error, and nothing is shown.
        refused = await agent.request({"t": "send", "conversation": conversation, "client_msg_id": new_msg_id(),
                                       "body": "Pick one", "quick_replies": [{"label": "Yes"}, {"label": "  "}]})
        assert refused["t"] == "error" and refused["code"] == "bad_field"
        refused = await agent.request({"t": "send", "conversation": conversation, "client_msg_id": new_msg_id(),
                                       "body": "Pick one", "quick_replies": [{"label": str(n)} for n in range(11)]})
        assert refused["t"] == "error" and refused["code"] == "too_large"
    finally:
        await widget_ctx.close()
        await console_ctx.close()

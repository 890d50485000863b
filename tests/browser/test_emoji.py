"""The emoji picker in Chromium, through accessible names, in the widget and in the console: it opens
from the keyboard, its search finds emoji by English and French names, the arrow keys move through its
grid, the chosen emoji lands at the caret, and its chunk is fetched only when the picker first opens."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.harness import PapoteServer

from .conftest import open_page
from .test_console import console_build, row, sign_in, visitor_says  # noqa: F401 (console_build is a fixture)
from .test_widget import demo_url, open_chat

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def chunk_requests(page: Page) -> list[str]:
    """Every request for the emoji chunk this page makes, from now on."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url) if "/emoji.js" in request.url else None)
    return seen


async def caret(box: Locator) -> list[int]:
    return await box.evaluate("el => [el.selectionStart, el.selectionEnd]")  # type: ignore[no-any-return]


async def pick_by_search(scope: Any, page: Page, query: str, name: str) -> None:
    """Types `query` in the open picker's search, moves into the grid with ↓ and chooses with Enter,
    checking the first result is the emoji called `name`."""
    picker = scope.get_by_role("dialog", name="Emoji picker")
    search = picker.get_by_role("searchbox", name="Search emoji")
    await expect(search).to_be_focused()
    await search.fill(query)
    grid = picker.get_by_role("grid", name="Search results")
    await expect(grid.get_by_role("gridcell").first).to_have_accessible_name(name)
    await page.keyboard.press("ArrowDown")
    await expect(grid.get_by_role("gridcell", name=name, exact=True).first).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(picker).to_be_hidden()


async def test_the_widgets_picker(papote_server: PapoteServer, browser: Browser) -> None:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    try:
        page = await open_page(ctx)
        fetched = chunk_requests(page)
        await page.goto(demo_url(papote_server))
        await open_chat(page)
        widget = page.locator("papote-widget")
        message = page.get_by_role("textbox", name="Message")
        await message.fill("Hello world")
        await message.press("Home")
        for _ in range(5):
            await message.press("ArrowRight")
        assert fetched == [], "the emoji chunk is not part of opening the chat"

        # From the keyboard: Tab reaches the button, Enter opens the picker (and fetches its chunk).
        await message.press("Tab")
        button = widget.get_by_role("button", name="Emoji")
        await expect(button).to_be_focused()
        await expect(button).to_have_attribute("aria-expanded", "false")
        await page.keyboard.press("Enter")
        await expect(widget.get_by_role("dialog", name="Emoji picker")).to_be_visible()
        await expect(button).to_have_attribute("aria-expanded", "true")
        assert len(fetched) == 1 and "/widget/emoji.js?v=" in fetched[0]

        # English: "thumbs" finds 👍, which lands where the caret was.
        await pick_by_search(widget, page, "thumbs", "thumbs up")
        await expect(message).to_have_value("Hello👍 world")
        await expect(message).to_be_focused()
        assert await caret(message) == [7, 7]  # after "Hello" and the emoji's two UTF-16 units

        # French: "cœur" (and "coeur") find the red heart; inserted at the caret again.
        await message.press("Tab")
        await page.keyboard.press("Enter")
        await pick_by_search(widget, page, "cœur rouge", "red heart")
        await expect(message).to_have_value("Hello👍❤️ world")

        # Arrow keys move through the grid; Escape closes and gives focus back to the button.
        await message.press("Tab")
        await page.keyboard.press("Enter")
        picker = widget.get_by_role("dialog", name="Emoji picker")
        # The recent emoji come first, the latest in front.
        await expect(picker.get_by_role("button", name="Recent")).to_have_attribute("aria-pressed", "true")
        recent = picker.get_by_role("grid", name="Recent")
        await expect(recent.get_by_role("gridcell")).to_have_count(2)
        await expect(recent.get_by_role("gridcell").first).to_have_accessible_name("red heart")
        await picker.get_by_role("button", name="Smileys").click()
        grid = picker.get_by_role("grid", name="Smileys")
        await grid.get_by_role("gridcell").first.focus()
        await page.keyboard.press("ArrowRight")
        await expect(grid.get_by_role("gridcell").nth(1)).to_be_focused()
        await page.keyboard.press("ArrowDown")
        await expect(grid.get_by_role("gridcell").nth(9)).to_be_focused()
        await page.keyboard.press("End")
        await expect(grid.get_by_role("gridcell").nth(15)).to_be_focused()
        await page.keyboard.press("Escape")
        await expect(picker).to_be_hidden()
        await expect(button).to_be_focused()
        # The panel stayed open: Escape closed only the picker.
        await expect(message).to_be_visible()
        assert len(fetched) == 1, "the chunk is fetched once"
        # Recent emoji are remembered by this browser (the visitor interacted, so storage is allowed).
        stored = await page.evaluate(
            "Object.entries(localStorage).filter(([k]) => k.endsWith(':emoji')).map(([, v]) => v)")
        assert stored == ['["❤️","👍"]']
    finally:
        await ctx.close()


async def test_the_consoles_picker(papote_server: PapoteServer, browser: Browser, console_build: str) -> None:  # noqa: F811
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1366, "height": 800})
    client, conversation = await visitor_says(papote_server, "Is the lamp dimmable?")
    try:
        page = await open_page(ctx)
        fetched = chunk_requests(page)
        await sign_in(page, papote_server)
        await page.locator("[data-queue=open]").click()
        await row(page, conversation).click()
        reply = page.get_by_role("textbox", name="Reply")
        await reply.fill("Yes it is")
        await reply.press("End")
        for _ in range(6):
            await reply.press("ArrowLeft")
        assert fetched == []

        button = page.get_by_role("button", name="Emoji")
        await button.focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("dialog", name="Emoji picker")).to_be_visible()
        assert len(fetched) == 1 and "/console/emoji.js?v=" in fetched[0]
        await pick_by_search(page, page, "pouce", "thumbs up")
        await expect(reply).to_have_value("Yes👍 it is")
        assert await caret(reply) == [5, 5]

        await button.focus()
        await page.keyboard.press("Enter")
        await pick_by_search(page, page, "heart", "red heart")
        await expect(reply).to_have_value("Yes👍❤️ it is")
        await button.focus()
        await page.keyboard.press("Enter")
        await page.keyboard.press("Escape")
        await expect(page.get_by_role("dialog", name="Emoji picker")).to_be_hidden()
        await expect(button).to_be_focused()
        await expect(reply).to_be_visible()  # still in the conversation
        assert len(fetched) == 1
    finally:
        await client.close()
        await ctx.close()

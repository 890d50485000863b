"""The agent console on a phone (375×667, touch), in Chromium against a real server: one screen at a time
(the list, a conversation, the visitor's context) with back buttons and the browser's history, every
action of the desktop within reach, touch targets of 44 px, and nothing wider than the screen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.harness import PapoteServer

from .conftest import open_page
from .test_console import BOB_EMAIL, BOB_PASSWORD, add_bob, console_build, row, visitor_says

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["console_build"]  # a fixture, used by name

PHONE = {"width": 375, "height": 667}
#: WCAG 2.5.5's target size, and what Apple's and Google's guidelines ask (44 pt, 48 dp).
TOUCH = 44


@pytest_asyncio.fixture(loop_scope="module")
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True)
    yield ctx
    await ctx.close()


async def sign_in_on_phone(page: Page, server: PapoteServer, email: str | None = None,
                           password: str | None = None) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(server.base_url + "/console")
    await page.get_by_label("Email").fill(email or server.agent_email)
    await page.get_by_label("Password").fill(password or server.agent_password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("[data-queue=mine] .count")).to_be_visible()
    assert not errors, errors


async def fits_the_screen(page: Page, where: str) -> None:
    """Nothing scrolls sideways, and the document is no taller than the screen: a page scrolls inside
    itself, under the header and above the bottom bar, never the whole console off the screen."""
    height = await page.evaluate("document.documentElement.scrollHeight")
    if height > PHONE["height"]:
        culprits = await page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => getComputedStyle(e).position === 'absolute')
            .filter(e => e.getBoundingClientRect().bottom > innerHeight + 1)
            .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().bottom)}`).slice(0, 8)""")
        raise AssertionError(f"{where}: the document is {height} px tall, past the screen: {culprits}")
    widths = await page.evaluate("""() => {
        const out = {document: document.documentElement.scrollWidth};
        for (const el of document.querySelectorAll('.page, .sidebar, .chats, .context, .messages, .conv-list'))
            if (el.getClientRects().length) out[el.className] = el.scrollWidth - el.clientWidth;
        return out;
    }""")
    assert widths["document"] <= PHONE["width"], f"{where}: the page is {widths['document']} px wide"
    wider = {k: v for k, v in widths.items() if k != "document" and v > 0}
    if wider:
        culprits = await page.evaluate("""() => [...document.querySelectorAll('.page *')]
            .filter(e => e.getBoundingClientRect().right > innerWidth + 1 || e.scrollWidth > e.clientWidth + 1)
            .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`).slice(0, 8)""")
        raise AssertionError(f"{where}: these scroll sideways: {wider}, past the edge: {culprits}")


async def touch_size(target: Locator, what: str) -> None:
    await expect(target).to_be_visible()
    box = await target.bounding_box()
    assert box is not None, what
    assert box["height"] >= TOUCH and box["width"] >= TOUCH, f"{what} is {box['width']}×{box['height']} px"


def screen_of(page: Page) -> Any:
    return page.locator(".inbox")


async def test_a_conversation_on_a_phone(papote_server: PapoteServer, console_build: str,
                                         phone: BrowserContext) -> None:
    server = papote_server
    bob_id = add_bob(server)
    cookie = server.login()
    assert server.http("POST", f"/api/sites/{server.site_key}/canned",
                       {"shortcut": "thanks", "body": "Thank you {name}!"}, cookie=cookie)[0] == 201
    page = await open_page(phone)
    await sign_in_on_phone(page, server)
    client, conv = await visitor_says(server, "Is the blue lamp in stock?", name="Ada")
    try:
        # The list: a screen of its own, as tall as the phone allows (not a sliver).
        await page.locator("[data-queue=open]").click()
        await expect(row(page, conv)).to_be_visible()
        list_box = await page.locator(".conv-list").bounding_box()
        assert list_box is not None and list_box["height"] > 250, list_box
        await expect(page.get_by_role("button", name="Back to conversations")).to_be_hidden()
        nav = page.get_by_role("navigation", name="Main")
        for name, target in [("queue Open", page.locator("[data-queue=open]")),
                             ("conversation row", row(page, conv)),
                             ("search", page.get_by_role("searchbox", name="Search")),
                             ("site filter", page.get_by_label("Site", exact=True)),
                             ("status", page.get_by_label("Status", exact=True)),
                             *[(f"bottom bar {n}", nav.get_by_role("button", name=n))
                               for n in ("Inbox", "Reports", "Site settings", "Account")]]:
            await touch_size(target, name)
        await fits_the_screen(page, "list")

        # The conversation: the list is gone, a way back is there; reply.
        await row(page, conv).click()
        await expect(screen_of(page)).to_have_attribute("data-screen", "chat")
        await expect(page.locator(".conv-list")).to_be_hidden()
        chat = page.locator(f".chat[data-conversation='{conv}']")
        await expect(chat.locator(".msg.visitor")).to_contain_text("Is the blue lamp in stock?")
        reply = page.get_by_role("textbox", name="Reply")
        await reply.fill("Yes, three left.")
        await page.get_by_role("button", name="Send", exact=True).click()
        said = await client.expect("message", conversation=conv, kind="text")
        assert said["body"] == "Yes, three left."
        # A canned reply by its shortcut, then a private note.
        await reply.press_sequentially("/than")
        await page.locator(".canned-list").get_by_role("option", name="/thanks").click()
        await expect(reply).to_have_value("Thank you Ada!")
        await page.get_by_role("button", name="Send", exact=True).click()
        assert (await client.expect("message", conversation=conv, kind="text"))["body"] == "Thank you Ada!"
        await page.get_by_label("Private note").check()
        await reply.fill("Wants the blue one")
        await page.get_by_role("button", name="Add note").click()
        await expect(chat.locator(".msg.note")).to_contain_text("Wants the blue one")
        await page.get_by_label("Private note").uncheck()
        # A label.
        await page.get_by_role("textbox", name="Add label").fill("lamps")
        await page.get_by_role("textbox", name="Add label").press("Enter")
        await expect(chat.locator(".chip")).to_contain_text("lamps")
        for name, target in [("back", page.get_by_role("button", name="Back to conversations")),
                             ("visitor details", page.get_by_role("button", name="Visitor details")),
                             ("transfer", chat.get_by_role("button", name="Transfer")),
                             ("close", chat.get_by_role("button", name="Close", exact=True)),
                             ("send", page.get_by_role("button", name="Send", exact=True)),
                             ("reply box", reply),
                             ("label box", page.get_by_role("textbox", name="Add label")),
                             ("remove label", chat.get_by_role("button", name="Remove label lamps"))]:
            await touch_size(target, name)
        await fits_the_screen(page, "conversation")

        # The visitor's context, then back with the browser's own back button.
        await page.get_by_role("button", name="Visitor details").click()
        await expect(screen_of(page)).to_have_attribute("data-screen", "context")
        await expect(page.locator(".context .visitor-name")).to_have_text("Ada")
        await expect(page.locator(".context")).to_contain_text("Your cart")
        await expect(chat).to_be_hidden()
        await touch_size(page.get_by_role("button", name="Back to the conversation"), "back to the conversation")
        await fits_the_screen(page, "visitor context")
        await page.go_back()
        await expect(screen_of(page)).to_have_attribute("data-screen", "chat")
        await expect(chat).to_be_visible()
        # Forward and back again through the drawn buttons.
        await page.go_forward()
        await expect(screen_of(page)).to_have_attribute("data-screen", "context")
        await page.get_by_role("button", name="Back to the conversation").click()
        await expect(screen_of(page)).to_have_attribute("data-screen", "chat")

        # Transfer to Bob with a note, then close and reopen.
        await chat.get_by_role("button", name="Transfer").click()
        await page.get_by_label("Choose an agent").select_option(value=bob_id)
        await page.get_by_label("Note for the next agent").fill("Ada wants the blue lamp")
        await touch_size(page.get_by_role("button", name="Confirm"), "confirm transfer")
        await page.get_by_role("button", name="Confirm").click()
        await expect(chat.locator(".event[data-event=transferred]")).to_be_visible()
        await chat.get_by_role("button", name="Close", exact=True).click()
        await expect(chat.get_by_role("button", name="Reopen")).to_be_visible()
        await chat.get_by_role("button", name="Reopen").click()
        await expect(chat.get_by_role("button", name="Close", exact=True)).to_be_visible()

        # Back to the list with the drawn button; the browser's back returns to the conversation.
        await page.get_by_role("button", name="Back to conversations").click()
        await expect(screen_of(page)).to_have_attribute("data-screen", "list")
        await expect(row(page, conv)).to_be_visible()

        # The other pages, from the bottom bar: site settings (with the team), reports, account.
        await nav.get_by_role("button", name="Site settings").click()
        await expect(page.get_by_role("heading", name="Site settings", level=1)).to_be_visible()
        await expect(page.get_by_role("heading", name="Agents")).to_be_visible()
        await expect(page.get_by_role("cell", name=BOB_EMAIL)).to_be_visible()
        await fits_the_screen(page, "site settings")
        await nav.get_by_role("button", name="Reports").click()
        await expect(page.get_by_role("heading", name="By agent")).to_be_visible()
        await fits_the_screen(page, "reports")
        await nav.get_by_role("button", name="Account").click()
        await expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
        await expect(page.get_by_label("A visitor replies in a conversation assigned to me")).to_be_checked()
        await fits_the_screen(page, "account")
        # The browser's back goes to the previous page.
        await page.go_back()
        await expect(page.get_by_role("heading", name="By agent")).to_be_visible()
        await nav.get_by_role("button", name="Account").click()

        # Status from the header; capacity and sign-out on the account page.
        await page.get_by_label("Status", exact=True).select_option("away")
        await expect(page.get_by_label("Status", exact=True)).to_have_value("away")
        sign_out = page.get_by_role("button", name="Sign out")
        await touch_size(sign_out, "sign out")
        await sign_out.click()
        await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    finally:
        await client.close()


async def test_bob_gets_the_transfer_on_his_phone_and_the_link_opens_it(
        papote_server: PapoteServer, console_build: str, phone: BrowserContext) -> None:
    """A conversation link (what an alert opens: /console#conversation=<id>) lands on that conversation."""
    server = papote_server
    bob_id = add_bob(server)
    client, conv = await visitor_says(server, "Do you ship to Lyon?", name="Léa")
    try:
        assert server.http("POST", f"/api/conversations/{conv}/assign", {"agent": bob_id},
                           cookie=server.login())[0] == 200
        page = await open_page(phone)
        await sign_in_on_phone(page, server, BOB_EMAIL, BOB_PASSWORD)
        await page.goto(f"{server.base_url}/console#conversation={conv}")
        await expect(screen_of(page)).to_have_attribute("data-screen", "chat")
        await expect(page.locator(f".chat[data-conversation='{conv}'] .msg.visitor")).to_contain_text("Lyon")
        # The link is used once: the address is the console's again, and back goes to the list.
        assert page.url.endswith("/console")
        await page.get_by_role("button", name="Back to conversations").click()
        await expect(screen_of(page)).to_have_attribute("data-screen", "list")
    finally:
        await client.close()


async def test_the_tablet_and_desktop_keep_every_pane(papote_server: PapoteServer, console_build: str,
                                                     browser: Browser) -> None:
    """The phone's screens are a phone's only: wider, the list, the conversation and the context show
    together and no phone-only control does."""
    client, conv = await visitor_says(papote_server, "Hello from a big screen")
    try:
        for viewport in ({"width": 820, "height": 1180}, {"width": 1280, "height": 800}):
            ctx = await browser.new_context(locale="en-US", viewport=viewport)
            try:
                page = await open_page(ctx)
                await sign_in_on_phone(page, papote_server)
                await page.locator("[data-queue=open]").click()
                await row(page, conv).click()
                await expect(page.get_by_role("textbox", name="Reply")).to_be_visible()
                await expect(page.locator(".conv-list")).to_be_visible()
                await expect(page.locator(".context")).to_be_visible()
                await expect(page.get_by_role("button", name="Back to conversations")).to_be_hidden()
                await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
                assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
                # The longest page scrolls inside itself: its screen-reader-only labels made the
                # document thousands of pixels taller, and the console could be scrolled off the screen.
                await page.get_by_role("button", name="Site settings").click()
                await expect(page.get_by_role("heading", name="Agents")).to_be_visible()
                assert await page.evaluate("document.documentElement.scrollHeight") <= viewport["height"]
            finally:
                await ctx.close()
    finally:
        await client.close()

"""The visitor's side in Chromium: a returning visitor's conversations (list, new conversation, back to an
old one) and the agent's view of them, the site's texts in the visitor's language, a once-per-visitor
proactive rule across an identified person's devices, and continuing on another device by typing the
code, by the QR code, and by a link opened in a tab that already shows the page."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.harness import until

from .agent import Agent
from .conftest import open_page
from .test_console import console_build, sign_in  # noqa: F401  (console_build is a fixture)
from .test_widget import DELIVERED, demo_url, open_chat, own, said, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

#: Every wait on the server's side is bounded by this: the machine is shared and slow at times.
WAIT_SECS = 20


def widget(page: Page) -> Any:
    return page.locator("papote-widget")


async def test_a_returning_visitor_picks_a_thread_or_starts_a_new_one(
    papote_server: Any, console_build: str, page: Page, browser: Browser, agent: Agent  # noqa: F811
) -> None:
    server = papote_server
    await page.goto(demo_url(server))
    await open_chat(page)
    await write(page, "My lamp arrived broken")
    first = await agent.visitor_message("My lamp arrived broken")
    old = first["conversation"]
    await agent.reply(old, "Sorry! A new one is on its way.")
    await expect(said(page, "Sorry! A new one is on its way.")).to_be_visible()
    await agent.close_conversation(old)
    # Closed under the visitor's eyes: the thread stays, with its rating box.
    await expect(widget(page).get_by_role("group", name="How was this conversation?")).to_be_visible()

    # Back another day: the old thread waits in the list instead of taking the whole panel.
    await page.reload()  # the panel was open: it opens again by itself
    await expect(widget(page).get_by_role("heading", name="Your conversations")).to_be_visible()
    thread = widget(page).get_by_role("button", name=re.compile(r"Sorry! A new one is on its way\. Closed"))
    await expect(thread).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_be_hidden()
    await widget(page).get_by_role("button", name="New conversation").click()
    await expect(said(page, "My lamp arrived broken")).to_have_count(0)
    await write(page, "Do you sell bulbs?")
    await expect(own(page, "Do you sell bulbs?")).to_have_attribute("data-state", DELIVERED)
    second = await agent.visitor_message("Do you sell bulbs?")
    assert second["conversation"] != old
    await agent.reply(second["conversation"], "Yes, E27 and E14.")
    await expect(said(page, "Yes, E27 and E14.")).to_be_visible()

    # The old thread is still reachable, with its history; and back again.
    await widget(page).get_by_role("button", name="Back to your conversations").click()
    # Most recent first, and the keyboard lands on it.
    await expect(widget(page).get_by_role("button", name=re.compile(r"Yes, E27 and E14\. Open"))).to_be_focused()
    await thread.click()
    await expect(own(page, "My lamp arrived broken")).to_be_visible()
    await expect(said(page, "Do you sell bulbs?")).to_have_count(0)
    await widget(page).get_by_role("button", name="Back to your conversations").click()
    await widget(page).get_by_role("button", name=re.compile(r"Yes, E27 and E14\. Open")).click()
    await expect(own(page, "Do you sell bulbs?")).to_be_visible()

    # The agent, in the console, sees the visitor's past conversation next to the new one and opens it.
    console_context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    try:
        console = await open_page(console_context)
        await sign_in(console, server)
        await console.locator(f".conv-list [data-conversation='{second['conversation']}']").click()
        past = console.get_by_role("list", name="Conversations on every channel")
        await expect(past).to_be_visible()
        item = past.get_by_role("button", name=re.compile(r"Closed.*Sorry! A new one is on its way\."))
        await expect(item).to_be_visible()
        await item.click()
        await expect(console.locator(f".chat[data-conversation='{old}']")).to_contain_text("My lamp arrived broken")
    finally:
        await console_context.close()


TEXTS = {
    "greeting": "Welcome to the lamp shop!",
    "away": "Our team is out; leave us a note.",
    "rules": [{"id": "lamps", "trigger": "url", "url": "*", "message": "Looking for a lamp?"}],
    "translations": {"fr": {"greeting": "Bienvenue chez le luminaire !",
                            "away": "L'équipe est absente ; laissez-nous un mot.",
                            "rules": {"lamps": "Vous cherchez une lampe ?"}}},
}


async def test_a_french_visitor_reads_the_sites_french_texts(papote_server: Any, browser: Browser,
                                                             console_build: str) -> None:  # noqa: F811
    server = papote_server
    # The owner writes the French texts in the console's form.
    console_context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    try:
        console = await open_page(console_context)
        await sign_in(console, server)
        await console.get_by_role("button", name="Site settings").click()
        form = console.locator("form.settings")
        await form.get_by_label("Greeting", exact=True).fill(TEXTS["greeting"])
        await form.get_by_label("Away message", exact=True).fill(TEXTS["away"])
        await form.get_by_role("button", name="Add rule").click()
        rule = form.get_by_role("group", name="Rule 1")
        await rule.get_by_label("Rule id").fill("lamps")
        await rule.get_by_label("URL pattern (* is a wildcard)").fill("*")
        await rule.get_by_label("Message", exact=True).fill("Looking for a lamp?")
        await form.get_by_role("button", name="Save").click()
        await expect(form.get_by_role("status")).to_have_text("Saved.")
        # The rule saved, its French message has a field (the form is drawn from the saved site).
        await console.reload()
        await console.get_by_role("button", name="Site settings").click()
        form = console.locator("form.settings")
        await form.get_by_role("button", name="Add a language").click()
        french = form.get_by_role("group", name="Texts in a new language")
        await french.get_by_label("Language code (two letters, such as fr)").fill("fr")
        french = form.get_by_role("group", name="Texts in fr")
        await french.get_by_label("Greeting in this language").fill(TEXTS["translations"]["fr"]["greeting"])
        await french.get_by_label("Away message in this language").fill(TEXTS["translations"]["fr"]["away"])
        await french.get_by_label("Message of rule lamps in this language").fill("Vous cherchez une lampe ?")
        await form.get_by_role("button", name="Save").click()
        await expect(form.get_by_role("status")).to_have_text("Saved.")
        # A language code that is not two letters does not leave the form (the server would refuse it
        # with bad_field too: tests/integration/test_visitor_side.py).
        await form.get_by_role("button", name="Add a language").click()
        await expect(form.get_by_role("group", name="Texts in a new language")).to_be_visible()
        code = form.get_by_label("Language code (two letters, such as fr)").nth(1)  # the group's name follows
        await code.fill("1x")
        await form.get_by_role("button", name="Save").click()
        assert await code.evaluate("el => el.validity.valid") is False
    finally:
        await console_context.close()
    status, site, _ = server.http("GET", f"/api/sites/{server.site_key}", cookie=server.login())
    assert status == 200 and site["settings"]["translations"] == TEXTS["translations"], site["settings"]

    # Nobody is online: the away text shows. A French browser reads French, an English one the default.
    for locale, texts in (("fr-FR", TEXTS["translations"]["fr"]), ("en-US", TEXTS)):
        context = await browser.new_context(locale=locale)
        try:
            page = await open_page(context)
            await page.goto(demo_url(server))
            await open_chat(page, "Ouvrir le chat" if locale == "fr-FR" else "Open chat")
            rule_text = "Vous cherchez une lampe ?" if locale == "fr-FR" else "Looking for a lamp?"
            await expect(said(page, rule_text)).to_be_visible()
            await expect(said(page, str(texts["greeting"]))).to_be_visible()
            await expect(widget(page).locator(".notice")).to_contain_text(str(texts["away"]))
        finally:
            await context.close()


async def identify(page: Page, server: Any, user_id: str) -> None:
    digest = hmac.new(server.site_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    await page.evaluate(f"Papote('identify', {{user_id: '{user_id}', hash: '{digest}'}})")


async def test_a_once_per_visitor_rule_shows_on_one_device_of_an_identified_visitor(
    papote_server: Any, browser: Browser, agent: Agent
) -> None:
    server = papote_server
    await agent.update_site(server.site_key, {"rules": [
        {"id": "sale", "trigger": "url", "url": "*", "message": "Spring sale: 20% off lamps"},
        {"id": "cart", "trigger": "event", "event": "add_to_cart", "message": "Free shipping on this one"},
    ]})
    laptop = await browser.new_context(locale="en-US")
    phone = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 800})
    try:
        page = await open_page(laptop)
        await page.goto(demo_url(server))
        await identify(page, server, "user-42")
        await expect(said(page, "Spring sale: 20% off lamps")).to_be_visible()
        await until(lambda: server.sql("SELECT rule_id FROM visitor_rules") == [("sale",)], "the rule recorded")

        other = await open_page(phone)
        await other.goto(demo_url(server))
        await identify(other, server, "user-42")
        # Another rule shows on the phone: the rules ran there, after the identify said what this person saw.
        await other.get_by_role("button", name="Add to cart").click()
        await expect(said(other, "Free shipping on this one")).to_be_visible()
        await expect(widget(other).get_by_text("Spring sale: 20% off lamps")).to_have_count(0)
        await until(lambda: sorted(server.sql("SELECT rule_id FROM visitor_rules")) == [("cart",), ("sale",)],
                    "both rules recorded for the person")
    finally:
        await laptop.close()
        await phone.close()


async def link_from(page: Page) -> tuple[str, str]:
    """Asks the widget for a link; returns (code, url)."""
    await widget(page).get_by_role("button", name="Continue on another device").click()
    box = widget(page).locator('[data-kind="link"]')
    await expect(box).to_contain_text("#papote=")
    found = re.search(r"(http\S+#papote=([A-Za-z0-9_-]+))", await box.inner_text())
    assert found is not None
    return found.group(2), found.group(1)


async def test_typing_the_code_continues_and_the_qr_code_carries_the_link(
    papote_server: Any, page: Page, browser: Browser, agent: Agent
) -> None:
    server = papote_server
    await page.goto(demo_url(server))
    await open_chat(page)
    await write(page, "Started on my laptop")
    await agent.visitor_message("Started on my laptop")
    code, url = await link_from(page)
    # The QR code is there, named, and a phone's camera reads the very link back.
    qr = widget(page).get_by_role("img", name="QR code of the link")
    await expect(qr).to_be_visible()
    shot = Image.open(io.BytesIO(await qr.screenshot()))
    assert [r.text for r in zxingcpp.read_barcodes(shot)] == [url]
    # The box goes once the visitor is done with it: by its own close button (focus back on the
    # button it came from), or by that button again.
    button = widget(page).get_by_role("button", name="Continue on another device")
    box = widget(page).locator('[data-kind="link"]')
    await expect(button).to_have_attribute("aria-expanded", "true")
    await box.get_by_role("button", name="Close").click()
    await expect(box).to_be_hidden()
    await expect(button).to_have_attribute("aria-expanded", "false")
    await expect(button).to_be_focused()
    await button.click()
    await expect(box).to_contain_text("#papote=")
    await button.click()
    await expect(box).to_be_hidden()

    phone = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 800})
    try:
        other = await open_page(phone)
        await other.goto(demo_url(server))
        await open_chat(other)
        await widget(other).get_by_role("button", name="Continue on another device").click()
        field = widget(other).get_by_role("textbox", name="Code from your other device")
        await field.fill("WRONG23456")
        await widget(other).get_by_role("button", name="Continue", exact=True).click()
        await expect(widget(other).get_by_role("alert")).to_have_text(
            "This code is wrong or has expired. Ask for a new one on your other device.")
        await expect(field).to_have_attribute("aria-invalid", "true")
        await field.fill(code.lower())
        await widget(other).get_by_role("button", name="Continue", exact=True).click()
        await expect(own(other, "Started on my laptop")).to_have_attribute("data-state", DELIVERED)
        await expect(widget(other).get_by_role("alert")).to_have_count(0)
        # "Continued here" is said until the visitor closes it.
        linked = widget(other).locator('[data-kind="link"]')
        await expect(linked.get_by_role("status")).to_be_visible()
        await linked.get_by_role("button", name="Close").click()
        await expect(linked).to_be_hidden()
        await write(other, "Now on my phone")
        await expect(said(page, "Now on my phone")).to_be_visible()
        # The phone keeps being that visitor after a reload.
        await other.reload()  # the panel was open: it opens again by itself
        await expect(own(other, "Now on my phone")).to_be_visible()
    finally:
        await phone.close()


async def test_a_link_opened_in_a_tab_already_on_the_page_continues(
    papote_server: Any, page: Page, browser: Browser, agent: Agent
) -> None:
    server = papote_server
    await page.goto(demo_url(server))
    await open_chat(page)
    await write(page, "Thread to take along")
    await agent.visitor_message("Thread to take along")
    _code, url = await link_from(page)

    tablet = await browser.new_context(locale="en-US")
    try:
        other = await open_page(tablet)
        # The tablet already shows the shop, with the chat open and connected as another visitor.
        await other.goto(demo_url(server))
        await open_chat(other)
        await write(other, "Hello from the tablet")
        await expect(own(other, "Hello from the tablet")).to_have_attribute("data-state", DELIVERED)
        # The link opens in this very tab: same page, only the fragment changes (no reload).
        await other.evaluate("window.__sameDocument = true")
        await other.goto(url)
        assert await other.evaluate("window.__sameDocument === true")
        await expect(own(other, "Thread to take along")).to_have_attribute("data-state", DELIVERED)
        await expect(widget(other).get_by_role("status").filter(
            has_text="You're continuing here the conversation from your other device.")).to_be_visible()
        assert "papote=" not in other.url
        await write(other, "Tablet here")
        await expect(said(page, "Tablet here")).to_be_visible()
        # A wrong code in a link says so too, in the open tab.
        await other.goto(demo_url(server) + "#papote=NOTACODE99")
        await expect(widget(other).get_by_role("alert")).to_contain_text("This code is wrong or has expired")
    finally:
        await tablet.close()


async def test_a_link_opened_in_a_tab_whose_chat_was_never_opened(
    papote_server: Any, page: Page, context: BrowserContext, browser: Browser, agent: Agent
) -> None:
    server = papote_server
    await page.goto(demo_url(server))
    await open_chat(page)
    await write(page, "Before the panel loads")
    await agent.visitor_message("Before the panel loads")
    _code, url = await link_from(page)
    fresh = await browser.new_context(locale="en-US")
    try:
        other = await open_page(fresh)
        await other.goto(demo_url(server))
        await expect(other.get_by_role("button", name="Open chat")).to_be_visible()
        await other.goto(url)
        await expect(own(other, "Before the panel loads")).to_have_attribute("data-state", DELIVERED)
        assert "papote=" not in other.url
    finally:
        await fresh.close()

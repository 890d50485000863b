"""What a newcomer hit on day one (issue 14 §4), each in Chromium through accessible names.

Agents are browsers on `/console`; visitors are protocol clients or the widget on the demo shop.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from playwright.async_api import Error as PlaywrightError

from tests.harness import PapoteServer, new_msg_id, visitor

from .agent import Agent
from .conftest import open_page
from .test_console import console_build, queue, row, sign_in  # noqa: F401 (console_build is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

#: Where an element pokes out of the box that holds it, or overlaps its day's name: (what, how).
LAYOUT_FAULTS = """(box) => {
  const faults = [];
  const outer = box.getBoundingClientRect();
  for (const el of box.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width) continue;
    if (r.right > outer.right + 0.5 || r.left < outer.left - 0.5) faults.push([el.outerHTML.slice(0, 80), 'overflows']);
  }
  for (const day of box.querySelectorAll('.day')) {
    const name = day.querySelector('.day-name, span').getBoundingClientRect();
    for (const input of day.querySelectorAll('input, button')) {
      const r = input.getBoundingClientRect();
      const apart = r.left >= name.right || r.right <= name.left || r.top >= name.bottom || r.bottom <= name.top;
      if (!apart) faults.push([day.textContent, 'overlaps its day name']);
    }
  }
  return faults;
}"""


async def settings_page(page: Page, server: PapoteServer) -> None:
    await sign_in(page, server)
    await page.get_by_role("button", name="Site settings").click()
    await expect(page.get_by_label("Time zone")).to_be_visible()


def site_settings(server: PapoteServer) -> dict[str, Any]:
    status, site, _ = server.http("GET", f"/api/sites/{server.site_key}", cookie=server.login())
    assert status == 200, site
    return site["settings"]  # type: ignore[no-any-return]


async def test_opening_hours_with_a_lunch_break_a_time_zone_and_rules_as_a_form(
    papote_server: PapoteServer, console_build: str, browser: Browser  # noqa: F811
) -> None:
    server = papote_server
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1366, "height": 768})
    try:
        page = await open_page(ctx)
        await settings_page(page, server)
        await page.get_by_label("Always open").uncheck()
        zone = page.get_by_role("combobox", name="Time zone")
        await zone.fill("Europe/Paris")
        # The time-zone box suggests every zone the browser knows, so typing finds one.
        assert await page.locator("#site-tz-list option[value='Europe/Paris']").count() == 1
        # Monday with a lunch break: two spans.
        monday = page.get_by_role("group", name="Mon")
        await monday.get_by_role("button", name="Add opening hours on Mon").click()
        await monday.get_by_role("button", name="Add opening hours on Mon").click()
        await monday.get_by_label("Mon opens").nth(0).fill("09:00")
        await monday.get_by_label("Mon closes").nth(0).fill("12:30")
        await monday.get_by_label("Mon opens").nth(1).fill("14:00")
        await monday.get_by_label("Mon closes").nth(1).fill("18:00")
        tuesday = page.get_by_role("group", name="Tue")
        await tuesday.get_by_role("button", name="Add opening hours on Tue").click()
        await tuesday.get_by_label("Tue opens").fill("10:00")
        await tuesday.get_by_label("Tue closes").fill("16:00")

        # A proactive rule, written in a form rather than JSON.
        await page.get_by_role("button", name="Add rule").click()
        rule = page.get_by_role("group", name="Rule 1")
        await rule.get_by_label("Rule id").fill("big-cart")
        await rule.get_by_label("Shows").select_option(label="When the page tracks an event")
        await rule.get_by_label("Message", exact=True).fill("Any question before you check out?")
        await expect(rule.get_by_label("URL pattern (* is a wildcard)")).to_be_hidden()
        await rule.get_by_label("Event name").fill("add_to_cart")
        await rule.get_by_label("If field").fill("value")
        await rule.get_by_label("is", exact=True).select_option(">")
        await rule.get_by_label("Value", exact=True).fill("40")

        # Nothing pokes out of the hours box or overlaps a day's name, at a laptop and a small screen.
        hours_box = page.locator("fieldset", has=page.get_by_label("Always open"))
        for width in (1366, 1024):
            await page.set_viewport_size({"width": width, "height": 768})
            assert await hours_box.evaluate(LAYOUT_FAULTS) == [], width
            assert await page.evaluate("document.documentElement.scrollWidth") <= width

        form = page.locator("form.settings")
        await form.get_by_role("button", name="Save").click()
        await expect(form.get_by_role("status")).to_have_text("Saved.")
        saved = site_settings(server)
        assert saved["hours"] == {"tz": "Europe/Paris",
                                  "days": {"mon": [["09:00", "12:30"], ["14:00", "18:00"]],
                                           "tue": [["10:00", "16:00"]]}}
        assert saved["rules"] == [{"id": "big-cart", "trigger": "event", "event": "add_to_cart",
                                   "message": "Any question before you check out?",
                                   "condition": {"field": "value", "op": ">", "value": 40}}]

        # Back on the page, both spans and the rule are there to edit; removing one span saves the rest.
        await page.reload()
        await page.get_by_role("button", name="Site settings").click()
        monday = page.get_by_role("group", name="Mon")
        await expect(monday.get_by_label("Mon opens")).to_have_count(2)
        await expect(monday.get_by_label("Mon closes").nth(1)).to_have_value("18:00")
        await expect(page.get_by_role("group", name="Rule 1").get_by_label("Event name")).to_have_value("add_to_cart")
        await monday.get_by_role("button", name="Remove these hours on Mon").nth(0).click()
        form = page.locator("form.settings")
        await form.get_by_role("button", name="Save").click()
        await expect(form.get_by_role("status")).to_have_text("Saved.")
        assert site_settings(server)["hours"]["days"]["mon"] == [["14:00", "18:00"]]

        # Spans that overlap are saved as one: nothing typed is dropped.
        monday = page.get_by_role("group", name="Mon")
        await monday.get_by_role("button", name="Add opening hours on Mon").click()
        await monday.get_by_label("Mon opens").nth(1).fill("17:00")
        await monday.get_by_label("Mon closes").nth(1).fill("19:00")
        await form.get_by_role("button", name="Save").click()
        await expect(form.get_by_role("status")).to_have_text("Saved.")
        assert site_settings(server)["hours"]["days"]["mon"] == [["14:00", "19:00"]]
    finally:
        await ctx.close()


async def test_the_identity_secret_is_hidden_until_revealed(
    papote_server: PapoteServer, console_build: str, context: BrowserContext  # noqa: F811
) -> None:
    server = papote_server
    page = await open_page(context)
    await settings_page(page, server)
    secrets = page.locator("ul.secrets")
    await expect(secrets).to_be_visible()
    assert server.site_secret not in await page.locator("body").inner_text()
    show = page.get_by_role("button", name="Show secret 1")
    await show.click()
    await expect(show).to_have_attribute("aria-pressed", "true")
    await expect(secrets).to_contain_text(server.site_secret)
    await show.click()
    await expect(secrets).not_to_contain_text(server.site_secret)


async def test_search_says_where_its_results_are(
    papote_server: PapoteServer, console_build: str, context: BrowserContext  # noqa: F811
) -> None:
    server = papote_server
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(),
                  "body": "Do you ship to Reykjavik?"})
    conv = str((await v.expect("ack"))["conversation"])
    status, _, _ = server.http("POST", f"/api/conversations/{conv}/close", cookie=server.login())
    assert status == 200
    page = await open_page(context)
    await sign_in(page, server)
    await queue(page, "mine")
    await page.get_by_role("searchbox", name="Search").fill("reykjavik")
    where = page.get_by_role("button", name="Found under Closed: 1")
    await expect(where).to_be_visible()
    await where.click()
    await expect(row(page, conv)).to_be_visible()
    await expect(page.locator("[data-queue=closed]")).to_have_attribute("aria-pressed", "true")
    # A search that matches nothing anywhere says so.
    await page.get_by_role("searchbox", name="Search").fill("zanzibar")
    await expect(page.locator(".conv-list")).to_contain_text("No conversation matches.")
    await v.close()


#: For each line break inside the element's text, the characters on either side of it; null when the
#: element was taken out of the page meanwhile (a redrawn panel), whose characters have no boxes.
LINE_BREAKS = """(el) => {
  const text = el.textContent, out = [];
  const node = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const chars = [];
  for (let n = node.nextNode(); n; n = node.nextNode())
    for (let i = 0; i < n.length; i++) {
      const range = document.createRange();
      range.setStart(n, i); range.setEnd(n, i + 1);
      const rect = range.getClientRects()[0];
      if (!rect) return null;
      chars.push(rect.top);
    }
  for (let i = 1; i < chars.length; i++) if (chars[i] > chars[i - 1] + 2) out.push(text[i - 1] + text[i]);
  return out;
}"""


async def until_measured(measure: Callable[[], Awaitable[list[str] | None]], secs: float = 20) -> list[str]:
    deadline = asyncio.get_running_loop().time() + secs
    while True:
        with contextlib.suppress(PlaywrightError):  # the element went between resolving and measuring
            found = await measure()
            if found is not None:
                return found
        assert asyncio.get_running_loop().time() < deadline, "the panel never held still long enough to measure"
        await asyncio.sleep(0.05)


async def test_a_long_email_wraps_between_its_parts(
    papote_server: PapoteServer, console_build: str, context: BrowserContext  # noqa: F811
) -> None:
    server = papote_server
    email = "jean-baptiste.delacroix-montgomery@entreprise-exemple.example"
    v = await visitor(server)
    await v.send({"t": "set", "ref": 1, "name": "Jean-Baptiste", "email": email})
    await v.expect("ok")
    await v.send({"t": "send", "ref": 2, "conversation": None, "client_msg_id": new_msg_id(),
                  "body": "Bonjour"})
    conv = str((await v.expect("ack"))["conversation"])
    page = await open_page(context)
    await sign_in(page, server)
    await queue(page, "open")
    await row(page, conv).click()
    shown = page.locator(".context .email")
    await expect(shown).to_have_text(email)
    # The panel is drawn again when the contact's timeline arrives, and may be again after (presence,
    # the visitor's page): measure until one drawing holds still for the whole measure.
    await expect(page.locator(".context .timeline")).to_be_visible()
    breaks = await until_measured(lambda: shown.evaluate(LINE_BREAKS))
    assert breaks, "the address is wider than the panel: it must wrap somewhere"
    for pair in breaks:
        assert pair[0] in "@-" or pair[1] == ".", f"{email} breaks inside a word: {breaks}"
    box = await page.locator(".context").bounding_box()
    inner = await shown.bounding_box()
    assert box is not None and inner is not None and inner["x"] + inner["width"] <= box["x"] + box["width"]
    await v.close()


async def test_the_demo_sites_name_is_the_shop_on_its_page(papote_server: PapoteServer, page: Page) -> None:
    await page.goto(papote_server.base_url + "/demo")
    brand = (await page.locator(".brand").inner_text()).strip()
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.get_by_role("dialog", name=f"Chat with {brand}")).to_be_visible()


async def test_the_preview_shows_what_the_visitor_said_not_the_assignment(
    papote_server: PapoteServer, console_build: str, context: BrowserContext  # noqa: F811
) -> None:
    server = papote_server
    page = await open_page(context)
    await sign_in(page, server)
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(),
                  "body": "Is the Solène lamp dimmable?"})
    conv = str((await v.expect("ack"))["conversation"])
    await v.expect("message", conversation=conv, kind="event", event="assigned")
    await queue(page, "mine")
    await expect(row(page, conv).locator(".conv-preview")).to_have_text("Is the Solène lamp dimmable?")
    # After a reload the list comes from the server's summaries: same preview.
    await page.reload()
    await expect(page.locator("[data-queue=mine] .count")).to_have_text("1")
    await queue(page, "mine")
    await expect(row(page, conv).locator(".conv-preview")).to_have_text("Is the Solène lamp dimmable?")
    # And once closed, the Closed list previews the last thing said, not "closed".
    status, _, _ = server.http("POST", f"/api/conversations/{conv}/close", cookie=server.login())
    assert status == 200
    await queue(page, "closed")
    await expect(row(page, conv).locator(".conv-preview")).to_have_text("Is the Solène lamp dimmable?")
    await v.close()


async def test_the_header_and_the_queue_box_give_the_same_wait(papote_server: PapoteServer, page: Page,
                                                               agent: Agent) -> None:
    """Under "Typically replies in 2 min" (the site's setting), the box said "about 1 min"."""
    server = papote_server
    await agent.update_site(server.site_key, {"routing": "manual", "reply_time": 600})
    # One conversation handled and closed: the site has a handling time to estimate from.
    before = await visitor(server)
    await before.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Hi"})
    done = str((await before.expect("ack"))["conversation"])
    await agent.reply(done, "Hello!")
    await before.expect("message", conversation=done, event="assigned")
    await agent.close_conversation(done)
    await page.goto(f"{server.base_url}/demo?site={server.site_key}")
    await page.get_by_role("button", name="Open chat").click()
    header = page.locator("papote-widget .head .status")
    await expect(header).to_contain_text("Typically replies in 10 min")
    await page.get_by_role("textbox", name="Message").fill("Anyone there?")
    await page.get_by_role("button", name="Send", exact=True).click()
    box = page.locator('papote-widget [data-kind="queue"]')
    await expect(box).to_contain_text(re.compile(r"You are number 1 in line, about \d+ min"))
    minutes = re.search(r"about (\d+) min", await box.inner_text())
    assert minutes is not None
    await expect(header).to_contain_text(f"Typically replies in {minutes.group(1)} min")
    await before.close()


async def test_the_rating_is_asked_at_every_close(papote_server: PapoteServer, page: Page, agent: Agent) -> None:
    """One rating per closing, not once per thread: reopened and closed again, the widget asks again."""
    server = papote_server
    await page.goto(f"{server.base_url}/demo?site={server.site_key}")
    await page.get_by_role("button", name="Open chat").click()
    message = page.get_by_role("textbox", name="Message")
    await message.fill("Is the lamp in stock?")
    await page.get_by_role("button", name="Send", exact=True).click()
    conversation = (await agent.visitor_message("Is the lamp in stock?"))["conversation"]
    await agent.reply(conversation, "Yes, two left.")
    await agent.close_conversation(conversation)
    await page.get_by_role("button", name="5 out of 5").click()
    await page.get_by_role("button", name="Send rating").click()
    await expect(page.get_by_text("Thanks for your feedback!")).to_be_visible()
    await agent.next("conversation", lambda f: f["conversation"].get("rating") == 5)

    # The visitor comes back to the same thread: it reopens, is answered and closed again.
    await message.fill("And the shade, in green?")
    await page.get_by_role("button", name="Send", exact=True).click()
    await agent.visitor_message("And the shade, in green?")
    await agent.reply(conversation, "Green is sold out, sorry.")
    await agent.close_conversation(conversation)
    await expect(page.get_by_text("How was this conversation?").first).to_be_visible()
    await page.get_by_role("button", name="2 out of 5").click()
    await page.get_by_role("button", name="Send rating").click()
    await expect(page.get_by_text("Thanks for your feedback!")).to_be_visible()
    await agent.next("conversation", lambda f: f["conversation"].get("rating") == 2)
    stored = [m for m in await agent.messages(conversation) if m.get("event") == "rated"]
    assert [m["data"]["rating"] for m in stored] == [5, 2]


async def test_the_agent_sees_the_proactive_message_the_visitor_answered(
    papote_server: PapoteServer, console_build: str, context: BrowserContext, agent: Agent  # noqa: F811
) -> None:
    server = papote_server
    offer = "Free shipping on orders over 40 €!"
    await agent.update_site(server.site_key, {"rules": [
        {"id": "cart40", "trigger": "event", "event": "add_to_cart",
         "condition": {"field": "value", "op": ">=", "value": 40}, "message": offer}]})
    shop = await open_page(context)
    await shop.goto(f"{server.base_url}/demo?site={server.site_key}")
    await shop.get_by_role("button", name="Add to cart").click()
    await expect(shop.locator("papote-widget .msg", has_text=offer)).to_be_visible()
    await shop.get_by_role("textbox", name="Message").fill("Even to Belgium?")
    await shop.get_by_role("button", name="Send", exact=True).click()
    said = await agent.visitor_message("Even to Belgium?")
    # The message carries what it answers, its text from the site's rule.
    assert said["data"] == {"proactive": {"rule": "cart40", "message": offer}}
    # A second message answers nothing.
    await shop.get_by_role("textbox", name="Message").fill("Thanks")
    await shop.get_by_role("button", name="Send", exact=True).click()
    assert "data" not in await agent.visitor_message("Thanks")

    console = await open_page(context)
    await sign_in(console, server)
    await queue(console, "open")
    await row(console, str(said["conversation"])).click()
    quoted = console.get_by_label("Answering the automatic message")
    await expect(quoted).to_have_count(1)
    await expect(quoted).to_contain_text(offer)
    await expect(console.locator(".msg.visitor", has=quoted)).to_contain_text("Even to Belgium?")

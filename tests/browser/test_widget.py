"""The visitor widget in Chromium against a real server (issue 3, "Done means").

Each test loads the demo shop (`/demo`, the snippet injected by the server), talks through the
widget as a visitor would (by accessible names: "Open chat", "Message", "Send"), and checks the
other side with an agent speaking the protocol.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, Route, WebSocketRoute, expect

from .agent import Agent
from .conftest import ROOT, open_page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

DELIVERED = re.compile(r"^(sent|read)$")


def demo_url(server: Any) -> str:
    return f"{server.base_url}/demo?site={server.site_key}"


async def open_chat(page: Page, name: str = "Open chat") -> None:
    await page.get_by_role("button", name=name).click()
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()


async def write(page: Page, text: str, send: str = "Send") -> None:
    await page.get_by_role("textbox", name="Message").fill(text)
    await page.get_by_role("button", name=send, exact=True).click()


def said(page: Page, text: str) -> Any:
    """A message bubble in the widget with this text (not the screen-reader announcement of it)."""
    return page.locator("papote-widget .msg", has_text=text)


def own(page: Page, text: str) -> Any:
    """The visitor's own message bubble with this text."""
    return page.locator("papote-widget .msg.mine", has_text=text)


async def test_open_send_and_the_agents_reply_arrives(papote_server: Any, page: Page, agent: Agent) -> None:
    await page.goto(demo_url(papote_server))
    await page.evaluate("window.replies = []; Papote('on', 'message', m => window.replies.push(m.body))")
    await open_chat(page)
    await write(page, "Do you ship to Lyon?")
    await expect(own(page, "Do you ship to Lyon?")).to_have_attribute("data-state", DELIVERED)

    message = await agent.visitor_message("Do you ship to Lyon?")
    conversation = message["conversation"]
    await agent.send({"t": "typing", "conversation": conversation, "on": True})
    await expect(page.locator("papote-widget .typing")).to_be_visible()

    # Typing goes the other way too.
    await page.get_by_role("textbox", name="Message").press_sequentially("Grea")
    typing = await agent.next("typing", lambda f: f["conversation"] == conversation)
    assert typing["on"] is True and typing["author"]["kind"] == "visitor"
    await page.get_by_role("textbox", name="Message").fill("")

    await agent.reply(conversation, "Yes, in 2 days. Details: https://example.com/shipping")
    reply = page.locator("papote-widget .msg:not(.mine)", has_text="Yes, in 2 days.")
    await expect(reply).to_be_visible()
    # Links are real anchors that open safely in a new tab; the text stays text.
    link = reply.get_by_role("link", name="https://example.com/shipping")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(page.locator("papote-widget .typing")).to_have_count(0)
    assert await page.evaluate("window.replies") == ["Yes, in 2 days. Details: https://example.com/shipping"]

    # The panel is open and visible, so the widget reports the reply as read...
    read = await agent.next("read", lambda f: f["conversation"] == conversation)
    assert read["reader"]["kind"] == "visitor"
    # ...and shows "Seen" once the agent has read the visitor's message.
    await agent.send({"t": "read", "conversation": conversation, "seq": message["seq"]})
    await expect(own(page, "Do you ship to Lyon?")).to_have_attribute("data-state", "read")

    # Escape closes the panel and gives focus back to the launcher.
    await page.get_by_role("textbox", name="Message").press("Escape")
    await expect(page.get_by_role("textbox", name="Message")).to_be_hidden()
    await expect(page.get_by_role("button", name="Open chat")).to_be_focused()


async def test_a_click_waits_for_a_panel_that_failed_to_load_once(papote_server: Any, page: Page) -> None:
    """The panel's file failing once (a proxy's hiccup) left the visitor's click unanswered: the loader
    now fetches it again by itself while the click waits, and the chat opens from that one click."""
    fetched: list[int] = []

    async def flaky(route: Route) -> None:
        fetched.append(1)
        if len(fetched) == 1:
            await route.fulfill(status=503, body="busy")
        else:
            await route.continue_()

    await page.route(re.compile(r".*/widget/panel\.js.*"), flaky)
    await page.goto(demo_url(papote_server))
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible(timeout=15_000)
    assert len(fetched) == 2


async def test_reload_keeps_the_history(papote_server: Any, page: Page, agent: Agent) -> None:
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Is the lamp dimmable?")
    message = await agent.visitor_message("Is the lamp dimmable?")
    await agent.reply(message["conversation"], "It is, with any standard dimmer.")
    await expect(said(page, "It is, with any standard dimmer.")).to_be_visible()

    await page.reload()
    # The panel was open: it comes back open, with the whole conversation.
    await expect(own(page, "Is the lamp dimmable?")).to_have_attribute("data-state", DELIVERED)
    await expect(said(page, "It is, with any standard dimmer.")).to_be_visible()

    # Closed before the next page: it stays closed, and the history is there on opening.
    await page.get_by_role("button", name="Close", exact=True).click()
    await page.reload()
    await expect(page.get_by_role("textbox", name="Message")).to_be_hidden()
    await open_chat(page)
    await expect(said(page, "It is, with any standard dimmer.")).to_be_visible()


async def test_offline_messages_are_delivered_once_when_the_network_returns(
    papote_server: Any, context: BrowserContext, page: Page, agent: Agent
) -> None:
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Hello from the train")
    conversation = (await agent.visitor_message("Hello from the train"))["conversation"]

    # Not waiting for the first message's ack on purpose: on a busy machine the network may go before
    # it arrives, and the messages written meanwhile must still join this conversation when the
    # resume's history settles the first one (widget/test/client.test.ts pins that order down).
    await context.set_offline(True)
    await write(page, "Written in the tunnel")
    await write(page, "Still in the tunnel")
    await expect(own(page, "Written in the tunnel")).to_have_attribute("data-state", "pending")
    await expect(page.locator("papote-widget .banner")).to_be_visible()
    await page.wait_for_timeout(1500)  # a few reconnect attempts fail meanwhile

    await context.set_offline(False)
    await expect(own(page, "Written in the tunnel")).to_have_attribute("data-state", DELIVERED)
    await expect(own(page, "Still in the tunnel")).to_have_attribute("data-state", DELIVERED)
    await agent.visitor_message("Still in the tunnel")

    stored = [m["body"] for m in await agent.messages(conversation) if m.get("kind") == "text"]
    assert stored == ["Hello from the train", "Written in the tunnel", "Still in the tunnel"]
    # Exactly once on screen too.
    await expect(own(page, "Written in the tunnel")).to_have_count(1)


async def test_a_pending_message_survives_a_reload_and_is_sent_once(
    papote_server: Any, context: BrowserContext, page: Page, agent: Agent
) -> None:
    # The page loads but its chat socket cannot get through (a captive portal, a dead proxy).
    blocked = True

    async def socket_route(ws: WebSocketRoute) -> None:
        if blocked:
            await ws.close(code=1011, reason="blocked by the test")
        else:
            ws.connect_to_server()

    await context.route_web_socket(re.compile(r".*/ws/visitor$"), socket_route)
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Written before the reload")
    await expect(own(page, "Written before the reload")).to_have_attribute("data-state", "pending")

    await page.reload()
    # Still there after the reload, still waiting: it lives in the outbox in storage.
    await expect(own(page, "Written before the reload")).to_have_attribute("data-state", "pending")

    blocked = False
    await expect(own(page, "Written before the reload")).to_have_attribute(
        "data-state",
        DELIVERED,
        timeout=40_000,  # the next try comes after the backoff delay
    )
    conversation = (await agent.visitor_message("Written before the reload"))["conversation"]
    stored = [m["body"] for m in await agent.messages(conversation) if m.get("kind") == "text"]
    assert stored == ["Written before the reload"]


async def test_two_tabs_stay_in_sync(papote_server: Any, context: BrowserContext, page: Page, agent: Agent) -> None:
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Written in tab one")
    conversation = (await agent.visitor_message("Written in tab one"))["conversation"]

    second = await open_page(context)
    await second.goto(demo_url(papote_server))
    await expect(said(second, "Written in tab one")).to_be_visible()

    await write(second, "Written in tab two")
    await expect(said(page, "Written in tab two")).to_be_visible()

    await agent.reply(conversation, "I see both of your tabs.")
    await expect(said(page, "I see both of your tabs.")).to_be_visible()
    await expect(said(second, "I see both of your tabs.")).to_be_visible()


async def test_a_proactive_rule_fires_on_track_once(papote_server: Any, page: Page, agent: Agent) -> None:
    await agent.update_site(
        papote_server.site_key,
        {
            "rules": [
                {
                    "id": "cart40",
                    "trigger": "event",
                    "event": "add_to_cart",
                    "condition": {"field": "value", "op": ">=", "value": 40},
                    "message": "Free shipping on orders over 40 €!",
                },
                {
                    "id": "cart1000",
                    "trigger": "event",
                    "event": "add_to_cart",
                    "condition": {"field": "value", "op": ">=", "value": 1000},
                    "message": "Want a volume discount?",
                },
            ]
        },
    )
    await page.goto(demo_url(papote_server))
    await page.get_by_role("button", name="Add to cart").click()
    await expect(said(page, "Free shipping on orders over 40 €!")).to_be_visible()
    await expect(page.get_by_text("Want a volume discount?")).to_have_count(0)

    # Closing the panel is an interaction: from then on the widget remembers the rule fired.
    await page.get_by_role("button", name="Close", exact=True).click()
    await page.reload()
    await page.get_by_role("button", name="Add to cart").click()
    await page.wait_for_timeout(1500)
    await expect(page.get_by_role("textbox", name="Message")).to_be_hidden()
    await open_chat(page)
    await expect(page.get_by_text("Free shipping on orders over 40 €!")).to_have_count(0)


async def test_french_locale(papote_server: Any, browser: Any, agent: Agent) -> None:
    context = await browser.new_context(locale="fr-FR")
    try:
        page = await open_page(context)
        await page.goto(demo_url(papote_server))
        await open_chat(page, name="Ouvrir le chat")
        await expect(page.get_by_role("button", name="Envoyer", exact=True)).to_be_visible()
        await write(page, "Livrez-vous à Lyon ?", send="Envoyer")
        await expect(own(page, "Livrez-vous à Lyon ?").get_by_text("Envoyé")).to_be_visible()
        await agent.visitor_message("Livrez-vous à Lyon ?")
        # The visitor can switch language from the host page.
        await page.evaluate("Papote('setLocale', 'en')")
        await expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    finally:
        await context.close()


COMPUTED = """() => {
  const root = document.querySelector('papote-widget').shadowRoot;
  const pick = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return [s.fontFamily, s.fontSize, s.color, s.backgroundColor, s.lineHeight, s.letterSpacing,
            s.padding, s.borderTopWidth, s.boxSizing, Math.round(r.width), Math.round(r.height)].join('|');
  };
  return ['.launcher', '.panel', '.head', '.bubble', 'textarea', '.composer .btn']
    .map((sel) => sel + ' ' + pick(root.querySelector(sel)));
}"""

HOSTILE_CSS = """
* { font-family: "Comic Sans MS", cursive !important; font-size: 40px !important; color: red !important;
    line-height: 5 !important; letter-spacing: 4px !important; box-sizing: content-box !important; }
html { font-size: 30px; }
button, textarea, section, div { background: lime !important; padding: 30px !important;
    border: 5px solid red !important; width: 10px !important; }
papote-widget { font-size: 50px !important; color: purple !important; line-height: 9 !important; }
"""


async def test_host_css_does_not_change_the_widget(papote_server: Any, page: Page) -> None:
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    # Measure once the site's look (colour) has arrived and with the mouse off the launcher.
    await expect(page.locator("papote-widget .banner")).to_be_hidden()
    await page.mouse.move(0, 0)
    await page.wait_for_timeout(300)
    before = await page.evaluate(COMPUTED)
    await page.add_style_tag(content=HOSTILE_CSS)
    after = await page.evaluate(COMPUTED)
    assert after == before
    # And ours does not leak out: the widget adds no stylesheet to the page itself.
    assert await page.evaluate("document.styleSheets.length") == 2  # the shop's + the hostile one


async def test_size_budgets_are_enforced_by_the_build(widget_build: str) -> None:
    sizes = dict(re.findall(r"^(\w+)\.js\s+\d+ B\s+gzip\s+(\d+) B", widget_build, re.MULTILINE))
    assert int(sizes["loader"]) <= 5 * 1024
    assert int(sizes["panel"]) <= 40 * 1024
    # The emoji picker is a lazily loaded chunk, reported and budgeted on its own.
    assert int(sizes["emoji"]) <= 16 * 1024
    assert re.search(r"^emoji\.js .* ok  lazy$", widget_build, re.MULTILINE)


async def test_widget_unit_tests_pass(widget_build: str) -> None:
    """The protocol client's and the rules' own tests (node's test runner), so CI runs them too."""
    node = await asyncio.create_subprocess_exec(
        "node",
        "widget/test/run.mjs",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(node.communicate(), 120)
    assert node.returncode == 0, output.decode()
    assert re.search(r"^# fail 0$", output.decode(), re.MULTILINE)

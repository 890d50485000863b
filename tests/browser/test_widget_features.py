"""The widget's other promises: another device, identity, rating, opening hours, page context,
the unread badge and the JS API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from .agent import Agent
from .conftest import open_page
from .test_widget import DELIVERED, demo_url, open_chat, own, said, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def test_continue_on_another_device(papote_server: Any, page: Page, browser: Browser, agent: Agent) -> None:
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Started on my laptop")
    await agent.visitor_message("Started on my laptop")
    await page.get_by_role("button", name="Continue on another device").click()
    link_box = page.locator('papote-widget [data-kind="link"]')
    await expect(link_box).to_contain_text("#papote=")
    url = re.search(r"http\S+#papote=[A-Za-z0-9_-]+", await link_box.inner_text())
    assert url is not None

    phone = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 800})
    try:
        other = await open_page(phone)
        await other.goto(url.group(0))
        # The code opens the chat with the conversation, and leaves the address bar clean.
        await expect(own(other, "Started on my laptop")).to_have_attribute("data-state", DELIVERED)
        assert "papote=" not in other.url
        await write(other, "Now on my phone")
        await expect(said(page, "Now on my phone")).to_be_visible()
    finally:
        await phone.close()


async def test_identified_visitor_sees_history_on_any_device(
    papote_server: Any, page: Page, browser: Browser, agent: Agent
) -> None:
    user_hash = hmac.new(papote_server.site_secret.encode(), b"user-42", hashlib.sha256).hexdigest()
    identify = f"Papote('identify', {{user_id: 'user-42', hash: '{user_hash}', name: 'Camille'}})"
    await page.goto(demo_url(papote_server))
    await page.evaluate(identify)
    await open_chat(page)
    await write(page, "I am Camille")
    message = await agent.visitor_message("I am Camille")
    await agent.reply(message["conversation"], "Hello Camille")

    other_device = await browser.new_context(locale="en-US")
    try:
        other = await open_page(other_device)
        await other.goto(demo_url(papote_server))
        await other.evaluate(identify)
        await open_chat(other)
        await expect(said(other, "I am Camille")).to_be_visible()
        await expect(said(other, "Hello Camille")).to_be_visible()
    finally:
        await other_device.close()


async def test_rating_after_the_conversation_closes(papote_server: Any, page: Page, agent: Agent) -> None:
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Thanks, that is all")
    conversation = (await agent.visitor_message("Thanks, that is all"))["conversation"]
    await agent.reply(conversation, "Have a nice day!")
    await agent.close_conversation(conversation)

    await expect(page.get_by_text("How was this conversation?").first).to_be_visible()
    await page.get_by_role("button", name="4 out of 5").click()
    await page.get_by_role("textbox", name="Comment (optional)").fill("Quick and kind")
    await page.get_by_role("button", name="Send rating").click()
    await expect(page.get_by_text("Thanks for your feedback!")).to_be_visible()
    rated = await agent.next("conversation", lambda f: f["conversation"].get("rating") == 4)
    assert rated["conversation"]["rating_comment"] == "Quick and kind"


async def on_visitor_frames(page: Page, change: Callable[[dict[str, Any], Any], dict[str, Any] | None]) -> None:
    """Route the page's visitor socket to the real server through `change`, which sees each frame the
    page sends (and the route, to answer in the server's place) and returns the frame to pass on, or
    None to keep it back."""

    def route(ws: Any) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, bytes):
                frame = msgpack.unpackb(message)
                passed = change(frame, ws)
                if passed is None:
                    return
                if passed is not frame:
                    message = msgpack.packb(passed)
            server.send(message)

        ws.on_message(to_server)

    await page.route_web_socket(re.compile(r".*/ws/visitor$"), route)


async def test_a_refused_rating_comes_back_as_its_form(papote_server: Any, page: Page, agent: Agent) -> None:
    """The rating form thanked as soon as it sent, and the server's refusal was lost. Here the first
    `rate` frame is spoilt on its way (a rating of 9), and the real server refuses it (`bad_field`)."""
    spoil = {"rate": 1}

    def spoilt(frame: dict[str, Any], _: Any) -> dict[str, Any] | None:
        if frame.get("t") == "rate" and spoil["rate"]:
            spoil["rate"] -= 1
            return {**frame, "rating": 9}
        return frame

    await on_visitor_frames(page, spoilt)
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "All done, thanks")
    conversation = (await agent.visitor_message("All done, thanks"))["conversation"]
    await agent.close_conversation(conversation)

    await page.get_by_role("button", name="4 out of 5").click()
    comment = page.get_by_role("textbox", name="Comment (optional)")
    assert await comment.get_attribute("maxlength") == "2000"  # the server's bound
    await comment.fill("Very helpful")
    await page.get_by_role("button", name="Send rating").click()
    await expect(page.locator("papote-widget [data-kind=rate] [role=alert]")).to_have_text(
        "That did not go through. Please try again.")
    await expect(comment).to_have_value("Very helpful")  # given back, to send again
    await page.get_by_role("button", name="4 out of 5").click()
    await page.get_by_role("button", name="Send rating").click()
    await expect(page.get_by_text("Thanks for your feedback!")).to_be_visible()
    rated = await agent.next("conversation", lambda f: f["conversation"].get("rating") == 4)
    assert (rated["conversation"]["id"], rated["conversation"]["rating_comment"]) == (conversation, "Very helpful")


async def test_a_message_the_server_keeps_failing_to_store_says_so_and_goes_once_it_can(
        papote_server: Any, page: Page, agent: Agent) -> None:
    """A server fault (`internal`) is retried every 5 s for as long as it lasts; after two in a row the
    message says it is not sent yet, instead of "Sending…" for ever. The fault is made on the way:
    the first two `send` frames of this message are answered `internal` and never reach the server."""
    faults = {"left": 2}

    def faulty(frame: dict[str, Any], ws: Any) -> dict[str, Any] | None:
        if frame.get("t") == "send" and frame.get("body") == "Flaky network here" and faults["left"]:
            faults["left"] -= 1
            ws.send(msgpack.packb({"t": "error", "code": "internal", "message": "try again",
                                   "frame": "send", "ref": frame["ref"]}))
            return None
        return frame

    await on_visitor_frames(page, faulty)
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Flaky network here")
    mine = own(page, "Flaky network here")
    await expect(mine).to_have_attribute("data-state", "retrying", timeout=20_000)
    await expect(mine).to_contain_text("Not sent yet: trying again")
    await expect(mine).to_have_attribute("data-state", DELIVERED, timeout=20_000)
    message = await agent.visitor_message("Flaky network here")
    assert [m["body"] for m in await agent.messages(message["conversation"])
            if m.get("kind") == "text"] == ["Flaky network here"]


async def test_page_context_follows_history_navigation(papote_server: Any, page: Page, agent: Agent) -> None:
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Where am I?")
    await agent.visitor_message("Where am I?")
    await page.get_by_role("link", name="Lamps").click()
    frame = await agent.next("visitor", lambda f: "p=lamps" in ((f["visitor"].get("page") or {}).get("url") or ""))
    assert frame["visitor"]["page"]["title"].startswith("Lamps")


async def test_outside_opening_hours_the_visitor_can_write_and_leave_an_email(
    papote_server: Any, browser: Browser, agent: Agent
) -> None:
    # Open only on Monday 00:00–00:01 in Paris: closed nearly always, with a next opening to show,
    # in the visitor's own time zone (New York: Sunday 6 PM, or 7 PM when only one side has DST).
    hours = {"tz": "Europe/Paris", "days": {"mon": [["00:00", "00:01"]]}}
    await agent.update_site(papote_server.site_key, {"hours": hours})
    context = await browser.new_context(locale="en-US", timezone_id="America/New_York")
    page = await open_page(context)
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    notice = page.locator("papote-widget .notice")
    await expect(notice).to_contain_text("We're away right now")
    await expect(notice).to_contain_text(re.compile(r"Back Sunday 0?[67]:00 PM"))
    await write(page, "Are you there?")
    await expect(own(page, "Are you there?")).to_have_attribute("data-state", DELIVERED)
    await page.get_by_role("textbox", name="Email").fill("camille@example.com")
    await page.get_by_role("button", name="Save").click()
    # This server has no mail relay: the widget promises no email it cannot send.
    await expect(page.get_by_text("Thanks: the team has your email, camille@example.com.")).to_be_visible()
    contact = await agent.next("message", lambda f: f.get("event") == "contact")
    assert contact["data"]["email"] == "camille@example.com"
    await context.close()


async def record_events(page: Page, events: list[str]) -> None:
    """Record the widget's API events in `window.seen`, as "event:argument" (a message by its body)."""
    await page.evaluate(
        "events => { window.seen = []; events.forEach(e => Papote('on', e, "
        "v => window.seen.push(e + ':' + (typeof v === 'object' ? v.body : v)))) }",
        events,
    )


async def test_unread_badge_and_api_events(
    papote_server: Any, context: BrowserContext, page: Page, agent: Agent
) -> None:
    await page.goto(demo_url(papote_server))
    await record_events(page, ["open", "close", "unread", "message"])
    await open_chat(page)
    await write(page, "Ping me when you know")
    conversation = (await agent.visitor_message("Ping me when you know"))["conversation"]
    await page.evaluate("Papote('close')")
    await agent.reply(conversation, "We know now.")
    await expect(page.get_by_role("button", name=re.compile(r"Open chat, 1 unread"))).to_be_visible()
    await page.evaluate("Papote('open')")
    await expect(page.get_by_role("button", name="Open chat")).to_have_count(0)
    await expect(page.get_by_role("button", name="Close chat")).to_be_visible()
    seen = await page.evaluate("window.seen")
    assert seen[:3] == ["open:undefined", "close:undefined", "message:We know now."]
    assert "unread:1" in seen and seen[-1] == "unread:0"

    # hide/show the whole widget; reset forgets the visitor on this browser.
    await page.evaluate("Papote('hide')")
    await expect(page.get_by_role("button", name="Close chat")).to_be_hidden()
    await page.evaluate("Papote('show'); Papote('reset')")
    await expect(said(page, "We know now.")).to_have_count(0)
    await page.reload()
    await open_chat(page)
    await expect(said(page, "Ping me when you know")).to_have_count(0)


async def test_a_reply_written_while_the_visitor_was_offline_is_announced_when_they_return(
    papote_server: Any, context: BrowserContext, page: Page, agent: Agent
) -> None:
    # The reply comes back in the resume's history, not as a live frame: to the visitor it is as new.
    await page.goto(demo_url(papote_server))
    await record_events(page, ["unread", "message"])
    await open_chat(page)
    await write(page, "Back in a minute")
    conversation = (await agent.visitor_message("Back in a minute"))["conversation"]
    await expect(own(page, "Back in a minute")).to_have_attribute("data-state", DELIVERED)
    await context.set_offline(True)
    await expect(page.locator("papote-widget .banner")).to_be_visible()
    await page.evaluate("Papote('close')")
    await agent.reply(conversation, "Answered while you were away.")
    await context.set_offline(False)
    await expect(page.get_by_role("button", name=re.compile(r"Open chat, 1 unread"))).to_be_visible()
    # Emitted before the badge is drawn (the draw waits for a microtask).
    assert await page.evaluate("window.seen") == ["message:Answered while you were away.", "unread:1"]


async def test_queue_position_is_shown_until_an_agent_takes_the_conversation(
    papote_server: Any, page: Page, agent: Agent
) -> None:
    await agent.update_site(papote_server.site_key, {"routing": "manual"})
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Anyone there?")
    conversation = (await agent.visitor_message("Anyone there?"))["conversation"]
    queue = page.locator('papote-widget [data-kind="queue"]')
    await expect(queue).to_contain_text("You are number 1 in line")
    await agent.reply(conversation, "Here I am.")
    await expect(said(page, "Here I am.")).to_be_visible()
    await expect(queue).to_have_count(0)


STORED_KEYS = """Object.keys(localStorage).filter(k => k.startsWith('papote:'))
  .concat(document.cookie.includes('papote') ? ['cookie'] : [])"""


async def test_nothing_is_stored_before_the_visitor_interacts(papote_server: Any, page: Page) -> None:
    await page.goto(demo_url(papote_server))
    # The page reports an event: the panel loads and connects, but writes nothing to the browser.
    await page.get_by_role("button", name="Add to cart").click()
    # A locator, not a string predicate: polling one is an eval, which the demo page's CSP refuses.
    await page.locator("papote-widget .panel").wait_for(state="attached")
    await page.wait_for_timeout(1000)
    assert await page.evaluate(STORED_KEYS) == []
    await open_chat(page)
    token_key = f"papote:{papote_server.site_key}:token"
    # Polled from here: a string predicate polled in the page is an eval, which the demo page's CSP refuses.
    for _ in range(400):
        if await page.evaluate(f"localStorage.getItem({token_key!r}) !== null"):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the widget stored no token after the visitor opened the chat")


async def test_full_screen_on_a_phone(papote_server: Any, browser: Browser) -> None:
    phone = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 700}, has_touch=True)
    try:
        page = await open_page(phone)
        await page.goto(demo_url(papote_server))
        await open_chat(page)
        box = await page.locator("papote-widget .panel").bounding_box()
        assert box is not None
        assert (round(box["x"]), round(box["y"]), round(box["width"]), round(box["height"])) == (0, 0, 390, 700)
        # 16 px or more, or iOS zooms into the page when the input gets focus.
        size = await page.get_by_role("textbox", name="Message").evaluate("e => getComputedStyle(e).fontSize")
        assert float(size.rstrip("px")) >= 16
        # The panel's own close button is reachable; the bubble hides under the full-screen panel.
        await page.get_by_role("button", name="Close", exact=True).click()
        await expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    finally:
        await phone.close()


async def test_url_and_time_on_page_rules_when_the_site_opts_into_storage(
    papote_server: Any, context: BrowserContext, agent: Agent
) -> None:
    await agent.update_site(
        papote_server.site_key,
        {
            "storage": "always",
            "rules": [
                {"id": "lamps", "trigger": "url", "url": "*p=lamps*", "message": "Looking for a lamp?"},
                {"id": "linger", "trigger": "time_on_page", "seconds": 4, "message": "Still deciding?"},
            ],
        },
    )
    # With storage allowed before interaction, the page loads the panel when idle: rules on URL and
    # time run for every visitor, not only those who clicked.
    await context.add_init_script("window.papoteSettings = {storage: 'always'}")
    page = await open_page(context)
    await page.goto(demo_url(papote_server))
    await page.get_by_role("link", name="Lamps").click()
    await expect(said(page, "Looking for a lamp?")).to_be_visible()
    await expect(said(page, "Still deciding?")).to_be_visible(timeout=10_000)
    assert await page.evaluate(f"localStorage.getItem('papote:{papote_server.site_key}:rules')") is not None


NOTIFICATION_SPY = """
window.notified = [];
window.Notification = class { constructor(title, options) { window.notified.push(title + ': ' + options.body); } };
window.Notification.permission = 'granted';
"""

HIDE_TAB = """(hidden) => {
  Object.defineProperty(document, 'visibilityState', {value: hidden ? 'hidden' : 'visible', configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


async def test_a_reply_in_a_hidden_tab_shows_in_the_title_and_notifies(
    papote_server: Any, context: BrowserContext, agent: Agent
) -> None:
    await context.add_init_script(NOTIFICATION_SPY)
    page = await open_page(context)
    await page.goto(demo_url(papote_server))
    title = await page.title()
    await open_chat(page)
    await write(page, "I'll be in another tab")
    conversation = (await agent.visitor_message("I'll be in another tab"))["conversation"]
    await page.evaluate(HIDE_TAB, True)
    await agent.reply(conversation, "Your answer is here.")
    await expect(page).to_have_title("(1) " + title)  # no string predicate: the demo page's CSP refuses eval
    assert await page.evaluate("window.notified") == ["New message from Test shop: Your answer is here."]
    await page.evaluate(HIDE_TAB, False)
    await expect(page).to_have_title(title)


async def test_the_widget_is_styled_under_a_strict_style_policy(papote_server: Any, page: Page) -> None:
    # A host page that forbids inline styles: the widget's CSS comes as constructed stylesheets.
    policy = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self'; "
        f"connect-src 'self' {papote_server.base_url.replace('http', 'ws', 1)}"
    )

    async def with_policy(route: Any) -> None:
        response = await route.fetch()
        await route.fulfill(response=response, headers={**response.headers, "content-security-policy": policy})

    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    await page.route(re.compile(r".*/demo\?.*"), with_policy)
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    launcher = page.locator("papote-widget .launcher")
    assert await launcher.evaluate("e => getComputedStyle(e).position") == "fixed"
    assert await launcher.evaluate("e => getComputedStyle(e).width") == "56px"
    assert not [v for v in violations if "style" in v and "papote" in v.lower()], violations


async def test_the_sites_look_and_storage_mode_apply_before_any_interaction(
    papote_server: Any, context: BrowserContext, agent: Agent
) -> None:
    await agent.update_site(
        papote_server.site_key,
        {
            "color": "#0a7d32",
            "position": "left",
            "launcher_icon": "https://cdn.shop.invalid/bubble.png",
            "storage": "always",
            "rules": [{"id": "lamps", "trigger": "url", "url": "*p=lamps*", "message": "Looking for a lamp?"}],
        },
    )
    # No papoteSettings on the page: the loader learns the site's look and storage mode itself.
    page = await open_page(context)
    await page.route("https://cdn.shop.invalid/**", lambda route: route.abort())
    await page.goto(demo_url(papote_server))
    launcher = page.get_by_role("button", name="Open chat")
    await expect(launcher).to_have_css("background-color", "rgb(10, 125, 50)")
    await expect(launcher).to_have_css("left", "20px")
    await expect(launcher.locator("img")).to_have_attribute("src", "https://cdn.shop.invalid/bubble.png")
    await page.get_by_role("link", name="Lamps").click()
    await expect(said(page, "Looking for a lamp?")).to_be_visible()

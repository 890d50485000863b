"""Email continuation in the browser. The widget: with a mail relay, an address typed in the away form
gets the reply once confirmed (the widget says so); without one it promises nothing
(test_widget_features.py). The console: the site's settings say whether this server sends email."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.harness import PapoteServer, free_port, serve

from .agent import Agent
from .conftest import open_page
from .test_console import console_build, sign_in
from .test_widget import DELIVERED, demo_url, open_chat, own, write

__all__ = ["console_build"]  # a fixture, used by name

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture
def papote_server(tmp_path: Path, server_backend: str, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    """The demo server with a relay configured (nothing listens there: no mail is due in this test)."""
    server = PapoteServer(tmp_path, backend=server_backend, env_extra={
        "PAPOTE_DEMO": "1", "PAPOTE_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "PAPOTE_EMAIL_FROM": "support@shop.test"})
    yield from serve(server, request)


async def test_with_a_relay_the_away_form_promises_the_reply_after_confirmation(
    papote_server: Any, browser: Browser, agent: Agent
) -> None:
    hours = {"tz": "Europe/Paris", "days": {"mon": [["00:00", "00:01"]]}}
    await agent.update_site(papote_server.site_key, {"hours": hours})
    context = await browser.new_context(locale="en-US")
    page = await open_page(context)
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Are you there?")
    await expect(own(page, "Are you there?")).to_have_attribute("data-state", DELIVERED)
    await expect(page.get_by_text("Leave your email to be told of the reply")).to_be_visible()
    await page.get_by_role("textbox", name="Email").fill("camille@example.com")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text(
        "We'll email the reply to camille@example.com, once you confirm the address from our first email."
    )).to_be_visible()
    await context.close()


async def test_the_console_turns_continuation_off_and_on(papote_server: Any, console_build: str,
                                                          browser: Browser) -> None:
    context = await browser.new_context(locale="en-US")
    page = await open_page(context)
    await sign_in(page, papote_server)
    await page.get_by_role("button", name="Site settings").click()
    switch = page.get_by_label("Send the replies the visitor has not read to their inbox")
    await expect(switch).to_be_checked()
    await expect(page.get_by_text("This server sends no email")).to_have_count(0)
    await switch.uncheck()
    await page.get_by_label("Unread for (minutes)").fill("5")
    await page.get_by_label("A reply from another address").select_option("refuse")
    form = page.locator("form.settings")
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("status")).to_have_text("Saved.")
    status, site, _ = papote_server.http("GET", f"/api/sites/{papote_server.site_key}", cookie=papote_server.login())
    assert status == 200 and site["email_available"] is True
    assert (site["settings"]["email_continuation"], site["settings"]["email_delay"],
            site["settings"]["email_foreign_sender"]) == (False, 300, "refuse")
    await context.close()


async def test_without_a_relay_the_console_says_continuation_is_off(
    tmp_path: Path, console_build: str, browser: Browser
) -> None:
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_DEMO": "1"})
    try:
        server.init()
        server.start()
        context = await browser.new_context(locale="en-US")
        page = await open_page(context)
        await sign_in(page, server)
        await page.get_by_role("button", name="Site settings").click()
        await expect(page.get_by_text("This server sends no email (PAPOTE_SMTP_URL is not set)")).to_be_visible()
        await expect(page.get_by_label("Send the replies the visitor has not read to their inbox")).to_be_disabled()
        await context.close()
    finally:
        server.close()


async def test_a_closed_conversation_offers_its_transcript(papote_server: Any, browser: Browser, agent: Agent) -> None:
    """The button asks the server; an address only typed is not one to mail a conversation to, and the
    widget says so (the mail itself, to a known address: tests/integration/test_transcripts.py)."""
    context = await browser.new_context(locale="en-US")
    page = await open_page(context)
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Thanks, that is all.")
    message = await agent.visitor_message("Thanks, that is all.")
    await agent.close_conversation(message["conversation"])
    button = page.get_by_role("button", name="Email me this conversation")
    await expect(button).to_be_visible()
    await button.click()
    await expect(page.get_by_text("We can only email the conversation to an address you have confirmed.")
                 ).to_be_visible()
    await context.close()


async def test_the_console_asks_for_a_reset_link_and_turns_waiting_mail_off(
    papote_server: Any, console_build: str, browser: Browser
) -> None:
    context = await browser.new_context(locale="en-US")
    page = await open_page(context)
    await page.goto(papote_server.base_url + "/console")
    await page.get_by_role("button", name="Forgot your password?").click()
    await expect(page.get_by_role("alert")).to_have_text("Type your email first.")
    await page.get_by_label("Email").fill("nobody@example.test")
    await page.get_by_role("button", name="Forgot your password?").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "If an account has this email, a link to choose a new password is on its way (it works for an hour).")
    await sign_in(page, papote_server)
    await page.get_by_role("button", name="Account").click()
    box = page.get_by_label("Email me when a visitor writes and no agent is online")
    await expect(box).to_be_checked()
    await box.uncheck()
    await expect(page.locator("section[aria-labelledby=mail-title] [role=status]")).to_have_text("Saved.")
    status, prefs, _ = papote_server.http("GET", "/api/me/mail", cookie=papote_server.login())
    assert status == 200 and prefs == {"waiting": False}
    await context.close()

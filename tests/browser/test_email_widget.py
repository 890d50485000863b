"""What the widget promises about email: with a mail relay, an address typed in the away form gets the
reply once confirmed (the widget says so); without one, it promises nothing (test_widget_features.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.harness import PapoteServer, free_port

from .agent import Agent
from .conftest import open_page
from .test_widget import DELIVERED, demo_url, open_chat, own, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]


@pytest.fixture
def papote_server(tmp_path: Path, server_backend: str, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    """The demo server with a relay configured (nothing listens there: no mail is due in this test)."""
    server = PapoteServer(tmp_path, backend=server_backend, env_extra={
        "PAPOTE_DEMO": "1", "PAPOTE_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "PAPOTE_EMAIL_FROM": "support@shop.test"})
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.close()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("\n----- server log -----\n" + server.logs()[-20000:])


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

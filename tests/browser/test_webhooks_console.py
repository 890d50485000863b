"""The console's Webhooks section in Chromium: add an endpoint (its secret shown once), see a delivery in
the log with its status code and latency, re-send it, rotate the secret, remove the endpoint. The
receiver is the real one of tests/integration/test_webhooks.py, verifying every request."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.harness import PapoteServer, new_msg_id, serve, until
from tests.integration.test_webhooks import Receiver, api_key

from .conftest import open_page
from .test_console import console_build, sign_in

__all__ = ["console_build"]  # a fixture, used by name

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture
def papote_server(tmp_path: Path, server_backend: str, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, backend=server_backend, env_extra={
        "PAPOTE_WEBHOOK_ALLOW_PRIVATE": "1", "PAPOTE_WEBHOOK_CHECK_SECS": "1"})
    yield from serve(server, request)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


async def test_an_admin_manages_webhooks_in_the_console(papote_server: PapoteServer, console_build: str,
                                                      browser: Browser, receiver: Receiver) -> None:
    server = papote_server
    context = await browser.new_context(locale="en-US")
    page = await open_page(context)
    await sign_in(page, server)
    await page.get_by_role("button", name="Site settings").click()
    section = page.locator("section.webhooks")
    await expect(section.get_by_text("No webhook endpoints yet.")).to_be_visible()
    await section.get_by_label("Endpoint URL").fill(receiver.url)
    await section.get_by_label("conversation.closed").check()
    await section.get_by_role("button", name="Add endpoint").click()
    secret = section.locator("code.secret")
    await expect(secret).to_have_text(re.compile(r"^whsec_"))
    receiver.secrets.append(await secret.inner_text())
    await expect(section.locator(".webhook-url")).to_have_text(receiver.url)
    await expect(section.get_by_text("message.created, conversation.closed")).to_be_visible()

    key = await asyncio.to_thread(api_key, server, await asyncio.to_thread(server.login))
    status, _, _ = await asyncio.to_thread(server.http, "POST", f"/api/sites/{server.site_key}/inbound/messages", {
        "contact": {"external_id": "ada"}, "client_msg_id": new_msg_id(), "body": "hello"}, None, key)
    assert status == 201
    await until(lambda: len(receiver.delivered()) == 1, "the event at the receiver")
    assert receiver.delivered()[0]["verified"] == receiver.secrets
    cookie = await asyncio.to_thread(server.login)
    endpoints = (await asyncio.to_thread(server.http, "GET", f"/api/sites/{server.site_key}/webhooks", None,
                                         cookie))[1]["endpoints"]
    log = f"/api/sites/{server.site_key}/webhooks/{endpoints[0]['id']}/deliveries"
    recorded: list[Any] = []

    def sent() -> bool:  # the receiver may have answered before the server recorded its answer
        recorded[:] = server.http("GET", log, cookie=cookie)[1]["deliveries"]
        return bool(recorded) and recorded[0]["status"] == "sent"

    await until(sent, "the delivery recorded as sent")

    await section.get_by_role("button", name="Delivery log").click()
    row = section.locator(".webhook-deliveries tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(2)).to_have_text("Sent")
    await expect(row.locator(".attempt")).to_contain_text("#1 204 · ")
    await row.get_by_role("button", name="Re-send").click()
    await until(lambda: len(receiver.requests) == 2, "the re-sent event")
    assert receiver.requests[1]["id"] == receiver.requests[0]["id"]
    await expect(section.locator(".webhook-deliveries tbody tr")).to_have_count(2)

    await section.get_by_role("button", name="Rotate secret").click()
    await expect(section.get_by_text("The previous secret also signs until")).to_be_visible()
    await expect(secret).not_to_have_text(receiver.secrets[0])

    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await section.get_by_role("button", name="Remove").click()
    await expect(section.get_by_text("No webhook endpoints yet.")).to_be_visible()
    await context.close()

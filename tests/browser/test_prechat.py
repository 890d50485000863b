"""The pre-chat form in Chromium: the widget asks the site's questions before the first message (a
required name holds the message back until given), the topic goes with the message that starts the
conversation and routes it to its group of agents; outside opening hours the same form is the away form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.harness import PapoteServer, agent, until_io

from .conftest import open_page
from .test_console import console_build, sign_in  # noqa: F401 (console_build is a fixture)
from .test_widget import DELIVERED, demo_url, open_chat, own, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PRECHAT = {"enabled": True, "name": "required", "email": "optional",
           "topics": [{"id": "buy", "label": "Buying", "group": "sales"}, {"id": "help", "label": "Help"}]}


def configure(server: PapoteServer, **settings: Any) -> None:
    status, body, _ = server.http("PATCH", f"/api/sites/{server.site_key}", {"settings": settings},
                                  cookie=server.login())
    assert status == 200, body


async def test_the_prechat_form_routes_by_topic_and_is_the_away_form(papote_server: PapoteServer,
                                                                      browser: Browser) -> None:
    server = papote_server
    [(owner_id,)] = server.sql("SELECT id FROM agents WHERE email=?", server.agent_email)
    server.cli("agent", "create", "--site", server.site_key, "--email", "bob@papote.test", "--password",
               "bob-password-1", "--name", "Bob", "--role", "agent")
    configure(server, prechat=PRECHAT, groups=[{"id": "sales", "name": "Sales", "agents": [owner_id]}])
    # Bob has more room: without the topic's group, routing would pick him.
    owner = await agent(server)
    await owner.send({"t": "status", "ref": 1, "status": "online", "capacity": 1})
    await owner.expect("ok", ref=1)
    bob = await agent(server, server.login("bob@papote.test", "bob-password-1"))
    await bob.send({"t": "status", "ref": 1, "status": "online", "capacity": 5})
    await bob.expect("ok", ref=1)

    ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    try:
        page = await open_page(ctx)
        await page.goto(demo_url(server))
        await open_chat(page)
        form = page.locator("papote-widget").get_by_role("form", name="Before we start")
        await expect(form).to_be_visible()
        # The name is required: a message waits for it.
        await write(page, "I want to buy a lamp")
        await expect(own(page, "I want to buy a lamp")).to_have_count(0)
        await form.get_by_label("Your name").fill("Ann")
        await form.get_by_label("Topic").select_option(label="Buying")
        await form.get_by_role("button", name="Start").click()
        await expect(form).to_have_count(0)
        await write(page, "I want to buy a lamp")
        await expect(own(page, "I want to buy a lamp")).to_have_attribute("data-state", DELIVERED)
        assigned = await owner.expect("message", event="assigned", timeout=10)
        assert assigned["data"]["agent"]["id"] == owner_id
        cid = assigned["conversation"]
        [(data,)] = server.sql("SELECT data FROM messages WHERE conversation_id=? AND seq=1", cid)
        assert json.loads(data)["topic"] == {"id": "buy", "label": "Buying"}
        assert server.sql("SELECT v.name FROM visitors v JOIN conversations c ON c.visitor_id=v.id WHERE c.id=?",
                          cid) == [("Ann",)]

        # Out of hours the same form is the away form: the email is asked for.
        configure(server, hours={"tz": "UTC", "days": {}})
        away_ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
        away = await open_page(away_ctx)
        await away.goto(demo_url(server))
        await open_chat(away)
        form = away.locator("papote-widget").get_by_role("form", name="Before we start")
        await expect(form.get_by_label("Email")).to_be_visible()
        await form.get_by_label("Your name").fill("Ben")
        # An address the server would refuse (no dot in its domain) is held back by the form itself:
        # the browser's own check took it, and the form thanked for an email the server then refused.
        await form.get_by_label("Email").fill("ben@localhost")
        await form.get_by_role("button", name="Save").click()
        assert await form.get_by_label("Email").evaluate("e => e.validity.patternMismatch")
        await expect(form).to_be_visible()
        await form.get_by_label("Email").fill("ben@example.test")
        await form.get_by_role("button", name="Save").click()
        await expect(form).to_have_count(0)
        # The form closes as the `set` frame leaves: the server stores it a moment later.
        rows = await until_io(lambda: server.sql("SELECT name, email FROM visitors WHERE email=?",
                                                 "ben@example.test"), "the away form's name and email stored")
        assert rows == [("Ben", "ben@example.test")]
        await away_ctx.close()
    finally:
        await ctx.close()
        for a in (owner, bob):
            await a.close()


async def test_the_owner_sets_up_the_form_and_groups_in_the_console(
    papote_server: PapoteServer, page: Page, console_build: str  # noqa: F811
) -> None:
    server = papote_server
    await sign_in(page, server)
    await page.get_by_role("button", name="Site settings").click()
    form = page.get_by_role("form", name="Pre-chat form and groups")
    await form.get_by_label("Ask before the first message").check()
    await form.get_by_label("Ask for a name").select_option("required")
    await form.get_by_role("button", name="Add a group").click()
    group = form.get_by_role("group", name="Group 1", exact=True)
    await group.get_by_label("Group id").fill("sales")
    await group.get_by_label("Group id").press("Tab")
    await form.get_by_role("group", name="Group 1", exact=True).get_by_label("Group name").fill("Sales")
    await form.get_by_role("group", name="Group 1", exact=True).get_by_label("Group name").press("Tab")
    [(owner_name,)] = server.sql("SELECT name FROM agents WHERE email=?", server.agent_email)
    await form.get_by_role("group", name="Group 1", exact=True).get_by_label(owner_name, exact=True).check()
    await form.get_by_role("button", name="Add a topic").click()
    topic = form.get_by_role("group", name="Topic 1", exact=True)
    await topic.get_by_label("Topic id").fill("buy")
    await topic.get_by_label("Label").fill("Buying")
    await topic.get_by_label("Goes to the group").select_option(label="Sales")
    await form.get_by_role("button", name="Save the form and groups").click()
    await expect(form.get_by_role("status")).to_have_text("Saved.")
    _, site, _ = server.http("GET", f"/api/sites/{server.site_key}", cookie=server.login())
    [(owner_id,)] = server.sql("SELECT id FROM agents WHERE email=?", server.agent_email)
    assert site["settings"]["prechat"] == {"enabled": True, "name": "required", "email": "optional",
                                           "topics": [{"id": "buy", "label": "Buying", "group": "sales"}]}
    assert site["settings"]["groups"] == [{"id": "sales", "name": "Sales", "agents": [owner_id]}]

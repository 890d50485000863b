"""NPS and moderation in the visitor widget, in Chromium against a real server: the NPS survey after a
close (0-10 and a comment, answered once), a message held for review shown as waiting then delivered
when an agent releases it, and the polite notice a blocked visitor reads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from .agent import Agent
from .test_widget import demo_url, open_chat, own, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def test_the_nps_survey_after_a_close(papote_server: Any, page: Page, agent: Agent) -> None:
    await agent.update_site(papote_server.site_key, {"nps_enabled": True})
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Where is my order?")
    conversation = (await agent.visitor_message("Where is my order?"))["conversation"]
    await agent.reply(conversation, "It ships today.")
    await agent.close_conversation(conversation)

    survey = page.locator("papote-widget form[data-kind=nps]")
    await expect(survey).to_be_visible()
    send = survey.get_by_role("button", name="Send")
    await expect(send).to_be_disabled()  # nothing chosen yet
    await survey.get_by_role("button", name="9 out of 10").click()
    await expect(survey.get_by_role("button", name="9 out of 10")).to_have_attribute("aria-pressed", "true")
    await survey.get_by_role("textbox", name="Comment (optional)").fill("Quick and kind")
    await send.click()

    # The survey gives way to the usual rating of the conversation, and stays answered after a reload.
    await expect(survey).to_have_count(0)
    events = await agent.stored_events(conversation, "nps_answered")
    assert [(m["data"]["score"], m["data"]["comment"]) for m in events] == [(9, "Quick and kind")]
    await expect(page.locator("papote-widget form[data-kind=rate]")).to_be_visible()
    await page.reload()  # the panel was open: it comes back open, on the list of conversations
    await page.get_by_role("button", name="It ships today.").click()
    await expect(page.locator("papote-widget form[data-kind=rate]")).to_be_visible()
    await expect(page.locator("papote-widget form[data-kind=nps]")).to_have_count(0)


async def test_held_then_released_and_blocked(papote_server: Any, page: Page, agent: Agent) -> None:
    site = papote_server.site_key
    await agent.update_site(site, {"spam_words": ["casino"]})
    await page.goto(demo_url(papote_server))
    await open_chat(page)
    await write(page, "Hello there")
    first = await agent.visitor_message("Hello there")
    await write(page, "Best casino in town")
    await expect(own(page, "Best casino in town")).to_have_attribute("data-state", "held")
    await expect(own(page, "Best casino in town")).to_contain_text("Waiting for review")
    # It waits in its own conversation: not in another one the visitor opens meanwhile.
    panel = page.locator("papote-widget")
    await panel.get_by_role("button", name="Back to your conversations").click()
    await panel.get_by_role("button", name="New conversation").click()
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    await expect(own(page, "Best casino in town")).to_have_count(0)
    await panel.get_by_role("button", name="Back to your conversations").click()
    await panel.get_by_role("button", name=re.compile(r"Hello there")).click()
    await expect(own(page, "Best casino in town")).to_contain_text("Waiting for review")

    held = (await agent.http.get(f"/api/sites/{site}/held")).json()["held"]
    assert [h["body"] for h in held] == ["Best casino in town"]
    released = await agent.http.post(f"/api/sites/{site}/held/{held[0]['id']}/release",
                                     headers={"x-papote-request": "1"})
    assert released.status_code == 200
    # Delivered now: one bubble, in the conversation like any other.
    await expect(own(page, "Best casino in town")).to_have_attribute("data-state", "sent")
    await expect(own(page, "Best casino in town")).to_have_count(1)

    blocked = await agent.http.post(f"/api/sites/{site}/blocks", json={"visitor": first["author"]["id"]})
    assert blocked.status_code == 201
    await write(page, "Why?")
    await expect(page.locator("papote-widget [data-kind=blocked]")).to_have_text(
        "Sorry, your messages can't be delivered on this site.")
    await expect(own(page, "Why?")).to_have_attribute("data-state", "rejected")
    assert [m for m in await agent.messages(first["conversation"]) if m["body"] == "Why?"] == []

"""The bot's editor in the console, in Chromium: an owner builds a tree as a form (steps, buttons and
where they go, a question, the FAQ), tries it in the live preview (the server's own stepper, nothing
saved), saves it, and the saved setting is the tree they drew; a visitor then meets it in the widget."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.harness import PapoteServer

from .test_console import console_build, sign_in  # noqa: F401 (console_build is a fixture)
from .test_widget import demo_url, open_chat, said, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def step(page: Page, sid: str) -> Any:
    return page.get_by_role("group", name=f"Step {sid}", exact=True)


async def test_the_owner_draws_a_tree_tries_it_and_saves_it(
    papote_server: PapoteServer, page: Page, console_build: str  # noqa: F811
) -> None:
    server = papote_server
    await sign_in(page, server)
    await page.get_by_role("button", name="Site settings").click()
    editor = page.get_by_role("form", name="Bot")
    await expect(editor).to_be_visible()
    await editor.get_by_label("Answer new conversations with the bot").check()
    await editor.get_by_label("Bot name").fill("Papote bot")

    # Three steps: buttons that lead to a question, and an end.
    for _ in range(3):
        await editor.get_by_role("button", name="Add a step").click()
    first = step(editor, "step1")
    await first.get_by_label("Step id").fill("hello")
    await first.get_by_label("Step id").press("Tab")  # a rename applies when the field is left
    first = step(editor, "hello")
    await first.get_by_label("Kind").select_option("buttons")
    await first.get_by_label("Text").fill("Hi! What is it about?")
    await first.get_by_role("button", name="Add a button").click()
    await first.get_by_label("Button label").fill("My order")
    await first.get_by_label("Goes to").select_option("step2")
    second = step(editor, "step2")
    await second.get_by_label("Kind").select_option("question")
    await second.get_by_label("Text").fill("Your order number?")
    await second.get_by_label("Asks for").select_option("order")
    await second.get_by_label("Then").select_option("step3")
    third = step(editor, "step3")
    await third.get_by_label("Kind").select_option("end")
    await third.get_by_label("Text").fill("Thanks, all noted!")
    await editor.get_by_role("button", name="Add an FAQ entry").click()
    entry = editor.get_by_role("group", name="FAQ entry 1")
    await entry.get_by_label("Question").fill("Do you ship abroad?")
    await entry.get_by_label("Keywords (comma-separated)").fill("international, abroad")
    await entry.get_by_label("Answer").fill("Yes, to all of Europe.")

    # The preview runs the draft: buttons are buttons, the FAQ answers, the question validates.
    preview = page.get_by_role("region", name="Preview")
    log = preview.get_by_role("list", name="Preview conversation")
    await preview.get_by_label("Visitor says").fill("hello")
    await preview.get_by_role("button", name="Send to the bot").click()
    await expect(log).to_contain_text("Papote bot: Hi! What is it about?")
    choices = preview.get_by_role("group", name="The bot's buttons")
    await expect(choices.get_by_role("button")).to_have_text(["My order", "Talk to a person"])
    await choices.get_by_role("button", name="My order").click()
    await expect(log).to_contain_text("Papote bot: Your order number?")
    await preview.get_by_label("Visitor says").fill("it is A1234")
    await preview.get_by_role("button", name="Send to the bot").click()
    await expect(log).to_contain_text("remembers order: A1234")
    await expect(log).to_contain_text("resolved by the bot")
    await preview.get_by_role("button", name="Restart").click()
    await preview.get_by_label("Visitor says").fill("I want a human")
    await preview.get_by_role("button", name="Send to the bot").click()
    await expect(log).to_contain_text("handed over to a person (asked)")
    assert server.sql("SELECT COUNT(*) FROM bot_sessions") == [(0,)]  # a preview stores nothing

    await editor.get_by_role("button", name="Save the bot").click()
    await expect(editor.get_by_role("status")).to_have_text("Saved.")
    _, site, _ = server.http("GET", f"/api/sites/{server.site_key}", cookie=server.login())
    bot = site["settings"]["bot"]
    assert bot["enabled"] is True and bot["name"] == "Papote bot" and bot["start"] == "hello"
    assert bot["nodes"] == [
        {"id": "hello", "kind": "buttons", "text": "Hi! What is it about?",
         "options": [{"label": "My order", "next": "step2"}]},
        {"id": "step2", "kind": "question", "text": "Your order number?", "field": "order", "next": "step3"},
        {"id": "step3", "kind": "end", "text": "Thanks, all noted!"},
    ]
    assert bot["faq"] == [{"id": "q1", "question": "Do you ship abroad?", "keywords": ["international", "abroad"],
                           "answer": "Yes, to all of Europe."}]

    # After a reload the editor shows the saved tree; a visitor meets it in the widget.
    await page.reload()
    await page.get_by_role("button", name="Site settings").click()
    await expect(step(page.get_by_role("form", name="Bot"), "hello").get_by_label("Text")).to_have_value(
        "Hi! What is it about?")
    shop = await page.context.new_page()
    await shop.goto(demo_url(server))
    await open_chat(shop)
    await write(shop, "Hello")
    await expect(said(shop, "Hi! What is it about?")).to_be_visible()

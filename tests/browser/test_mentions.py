"""@mentions in private notes, in two consoles against a real server.

The owner mentions Bob in a note picked from the "@" list; Bob's console notifies him, marks the
conversation's row with "@" until he opens it, and shows the mention of him apart. The visitor, a protocol
client, never receives the note; a reply never carries mentions, even ones picked while writing a note.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.harness import PapoteServer

from .conftest import open_page
from .test_console import (
    BOB_EMAIL,
    BOB_PASSWORD,
    NOTIFICATION_STUB,
    add_bob,
    console_build,
    queue,
    row,
    second_context,
    sign_in,
    visitor_says,
)

__all__ = ["console_build", "second_context"]  # fixtures, used by name

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

NOTE = "Could @Bob look at this?"
REPLY = "Thanks @Bob we are on it"
MENTION_NOTES = "() => window.__notes.filter(n => n.title.endsWith('mentioned you'))"


async def mention_notifications(page: Page) -> list[dict[str, Any]]:
    return await page.evaluate(MENTION_NOTES)  # type: ignore[no-any-return]


async def test_a_note_mentions_bob_who_is_notified_and_the_visitor_sees_nothing(
    papote_server: PapoteServer, console_build: str, context: BrowserContext,
    second_context: BrowserContext,
) -> None:
    server = papote_server
    bob_id = add_bob(server)
    owner = await open_page(context)
    bob = await open_page(second_context)
    # Bob's console records its desktop notifications, and is in a background window.
    await bob.add_init_script(NOTIFICATION_STUB)
    await sign_in(owner, server)
    await sign_in(bob, server, BOB_EMAIL, BOB_PASSWORD)
    # Both consoles know both agents before anyone writes (the "@" list is the site's other agents).
    await expect(owner.locator(f".team [data-agent='{bob_id}']")).to_be_visible()

    # Routing gives the conversation to either agent: the owner opens it from "All open" in any case.
    visitor, conv = await visitor_says(server, "My parcel never came")
    await queue(owner, "open")
    await row(owner, conv).click()
    chat = owner.locator(f".chat[data-conversation='{conv}']")
    await expect(chat.locator(".msg.visitor")).to_contain_text("My parcel never came")

    # A note: "@Bo" lists Bob (not the owner herself), a click on him writes "@Bob ".
    await chat.get_by_label("Private note").check()
    reply = chat.get_by_role("textbox", name="Reply")
    await reply.press_sequentially("Could @Bo")
    picker = chat.get_by_role("listbox", name="Agents to mention")
    await expect(picker.get_by_role("option")).to_have_count(1)
    await expect(picker.get_by_role("option")).to_contain_text("Bob")
    await picker.get_by_role("option").click()
    await expect(picker).to_be_hidden()
    await expect(reply).to_have_value("Could @Bob ")
    await reply.press_sequentially("look at this?")
    await reply.press("Enter")

    # The owner's console shows the note with Bob's mention in bold (not as hers).
    note = chat.locator(".msg.note").filter(has_text=NOTE)
    await expect(note.locator("strong.mention")).to_have_text("@Bob")
    await expect(note.locator("strong.mention")).to_have_attribute("data-agent", bob_id)
    await expect(note.locator(".mention-me")).to_have_count(0)

    # Bob is notified, whoever's conversation it is, with the note's start.
    await bob.wait_for_function(f"() => ({MENTION_NOTES})().length === 1", timeout=10_000)
    [alert] = await mention_notifications(bob)
    assert alert["body"] == NOTE

    # His row says "@" until he opens the conversation; there the mention of him stands out.
    await queue(bob, "open")
    mark = row(bob, conv).get_by_role("img", name="You were mentioned")
    await expect(mark).to_have_text("@")
    await row(bob, conv).click()
    await expect(mark).to_have_count(0)
    bob_chat = bob.locator(f".chat[data-conversation='{conv}']")
    await expect(bob_chat.locator(".msg.note .mention.mention-me")).to_have_text("@Bob")

    # A mention picked in a note, then note mode turned off: the reply goes without it (the server
    # would refuse a reply with mentions, and the visitor would receive nothing).
    await reply.press_sequentially("Thanks @Bo")
    await picker.get_by_role("option").first.click()
    await chat.get_by_label("Private note").uncheck()
    await expect(picker).to_be_hidden()
    await reply.press_sequentially("we are on it")
    await expect(reply).to_have_value(REPLY)
    # In a reply, "@" lists nobody.
    await reply.press_sequentially(" @Bo")
    await expect(picker).to_be_hidden()
    await reply.fill(REPLY)
    await reply.press("Enter")
    said = await visitor.expect("message", conversation=conv, body=REPLY, timeout=10)
    assert said["kind"] == "text"
    assert not (said.get("data") or {}).get("mentions")
    # The reply came after the note: had the note reached the visitor, it would have come first.
    assert not [f for f in visitor.frames if "look at this?" in str(f)]
    assert not [f for f in visitor.frames if f.get("kind") == "note"]

    # Bob sees the reply live, and was not told again.
    await expect(bob_chat.locator(".msg.agent:not(.note)")).to_contain_text(REPLY)
    assert len(await mention_notifications(bob)) == 1
    await expect(row(bob, conv).get_by_role("img", name="You were mentioned")).to_have_count(0)

    # What the server stored: the note mentions Bob, the reply nobody.
    status, listed, _ = await asyncio.to_thread(
        server.http, "GET", f"/api/conversations/{conv}/messages", cookie=server.login())
    assert status == 200
    stored = {m["body"]: m for m in listed["messages"]}
    assert (stored[NOTE].get("data") or {}).get("mentions") == [bob_id]
    assert not (stored[REPLY].get("data") or {}).get("mentions")
    await visitor.close()

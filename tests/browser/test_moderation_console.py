"""Moderation and NPS in the agent console, in Chromium against a real server: blocking a visitor from
the context panel (and unblocking), releasing a message the spam filter held from the Moderation page,
and the NPS answer of a closed conversation on the reports page and in its CSV."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from tests.harness import Client, PapoteServer, new_msg_id

from . import test_console
from .conftest import open_page
from .test_console import queue, row, sign_in, visitor_says

#: The console's build, once per session: test_console's fixture, made visible here.
console_build = test_console.console_build
pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module"), pytest.mark.usefixtures("console_build")]


async def answer_to(client: Client, body: str, conversation: str | None, ref: int) -> dict[str, object]:
    await client.send({"t": "send", "ref": ref, "conversation": conversation, "client_msg_id": new_msg_id(),
                       "body": body})
    while True:
        frame = await client.recv(10)
        if frame["t"] in ("ack", "error") and frame.get("ref") == ref:
            return frame


async def test_block_release_and_nps_in_reports(papote_server: PapoteServer, context: BrowserContext) -> None:
    server = papote_server
    cookie = server.login()
    page = await open_page(context)
    page.on("dialog", lambda dialog: dialog.accept())  # "Block this visitor?"
    await sign_in(page, server)

    # The spam filter's words and the NPS survey are site settings.
    await page.get_by_role("button", name="Site settings").click()
    await page.get_by_label("Words that hold a message for review (one per line)").fill("casino")
    await page.get_by_label("Ask visitors after a conversation closes").check()
    await page.get_by_label("Ask one visitor at most every … days").fill("30")
    settings_form = page.locator("form.settings")
    await settings_form.get_by_role("button", name="Save").click()
    await expect(settings_form.get_by_role("status")).to_have_text("Saved.")
    _, site, _ = server.http("GET", f"/api/sites/{server.site_key}", cookie=cookie)
    s = site["settings"]
    assert (s["spam_words"], s["nps_enabled"], s["nps_every_days"], s["spam_max_links"]) == (["casino"], True, 30, None)
    await page.get_by_role("button", name="Inbox").click()

    # Block from the context panel: the visitor's next message is refused and never shows.
    victor, c1 = await visitor_says(server, "I want a refund", name="Victor")
    await queue(page, "mine")
    await row(page, c1).click()
    context_panel = page.locator(".context")
    await context_panel.get_by_role("button", name="Block visitor").click()
    await expect(context_panel.locator(".badge.blocked")).to_have_text("Blocked")
    refused = await answer_to(victor, "you will regret this", c1, 10)
    assert refused["t"] == "error" and refused["code"] == "blocked"
    chat = page.locator(f".chat[data-conversation='{c1}']")
    await context_panel.get_by_role("button", name="Unblock").click()
    await expect(context_panel.get_by_role("button", name="Block visitor")).to_be_visible()
    assert (await answer_to(victor, "sorry about that", c1, 11))["t"] == "ack"
    await expect(chat.locator(".msg.visitor").last).to_contain_text("sorry about that")
    await expect(chat).not_to_contain_text("you will regret this")

    # A held message, released from the Moderation page, reaches the inbox.
    spammer, c2 = await visitor_says(server, "Hello")
    held = await answer_to(spammer, "Play casino now", c2, 12)
    assert held["code"] == "held"
    await page.get_by_role("button", name="Moderation").click()
    item = page.locator(".held-list li", has_text="Play casino now")
    await expect(item).to_contain_text("listed words")
    await item.get_by_role("button", name="Release").click()
    await expect(page.locator(".held")).to_contain_text("No message is waiting for review.")
    delivered = await spammer.expect("message", body="Play casino now", timeout=10)
    assert delivered["conversation"] == c2

    # NPS: the close offers the survey, the visitor answers, the reports page shows it.
    await page.get_by_role("button", name="Inbox").click()
    await row(page, c1).click()
    await chat.get_by_role("button", name="Close").click()
    offer = await victor.expect("message", event="nps", timeout=10)
    await victor.send({"t": "nps", "ref": 13, "conversation": c1, "survey": offer["data"]["survey"], "score": 3,
                       "comment": "Too slow"})
    await victor.expect("ok", ref=13)
    await expect(chat.locator(".event[data-event=nps_answered]")).to_contain_text("3/10")
    await page.get_by_role("button", name="Reports").click()
    await expect(page.locator("[data-stat=nps] .stat-value")).to_have_text("-100")
    await expect(page.locator("[data-stat=nps]")).to_contain_text("1 answers · 0 promoters · 1 detractors")
    await expect(page.locator(".nps-comments")).to_contain_text("Too slow")
    csv = await page.evaluate("fetch(document.querySelector('a[download]').href).then(r => r.text())")
    assert csv.splitlines()[0].endswith(",nps_responses,nps_score") and csv.splitlines()[-1].endswith(",1,-100")

    # A saved view of a label: the list shows the conversations that carry it, whatever their queue.
    # Victor's conversation (closed) carries the label; the spammer's (open, in "Mine") does not.
    assert server.http("POST", f"/api/conversations/{c1}/label", {"add": ["refund"]}, cookie=cookie)[0] == 200
    await page.get_by_role("button", name="Inbox").click()
    await page.locator(".saved-views summary").click()
    # A refusal is said, and the form keeps what was typed: here a label past 40 characters.
    await page.get_by_role("textbox", name="View name").fill("Refunds")
    await page.get_by_role("textbox", name="Labels (comma separated)").fill("refund, " + "x" * 41)
    await page.locator(".view-form").get_by_role("button", name="Save").click()
    await expect(page.locator(".saved-views [role=status]")).to_contain_text("labels")
    await expect(page.get_by_role("textbox", name="View name")).to_have_value("Refunds")
    await page.get_by_role("textbox", name="Labels (comma separated)").fill("refund")
    await page.locator(".view-form").get_by_role("button", name="Save").click()
    views = page.get_by_role("combobox", name="Saved views")
    await expect(views.locator("option:checked")).to_have_text("Refunds")  # saved, and chosen
    await expect(views).to_have_value(await server_view_id(server, cookie, "Refunds"))
    # The list is the view's: the labelled conversation, closed as it is; not the open one of "Mine".
    await expect(row(page, c1)).to_be_visible()
    await expect(row(page, c2)).to_have_count(0)
    await queue(page, "mine")  # a queue again: the view is set aside
    await expect(row(page, c2)).to_be_visible()
    await expect(row(page, c1)).to_have_count(0)

    # The owner exports the conversations with their labels from the reports page.
    await page.get_by_role("button", name="Reports").click()
    exported = await page.evaluate("fetch(document.querySelector('a.export').href).then(r => r.text())")
    assert exported.startswith("id,created_at,closed_at,status,labels,")
    assert any(line.startswith(c1 + ",") and ",refund," in line for line in exported.splitlines())
    for client in (victor, spammer):
        await client.close()


async def server_view_id(server: PapoteServer, cookie: str, name: str) -> str:
    _, views, _ = server.http("GET", f"/api/sites/{server.site_key}/views", cookie=cookie)
    return str(next(v["id"] for v in views["views"] if v["name"] == name))

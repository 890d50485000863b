"""The agent console in Chromium against a real server (issue 4, "Done means").

Agents are browsers driving `/console` by accessible names ("Email", "Password", "Sign in", "Reply");
visitors are protocol clients (tests/harness.py), which is all the console can tell apart anyway.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.harness import Client, PapoteServer, new_msg_id, visitor

from .conftest import build_once, open_page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

BOB_EMAIL = "bob@papote.test"
BOB_PASSWORD = "bob-battery-staple"
XSS_NAME = '<img src=x onerror="window.__xss=1">Mallory'
XSS_BODY = '<script>window.__xss=2</script><b>bold?</b>'
NOTIFICATION_STUB = """
window.__notes = [];
window.Notification = class { constructor(title, options) { window.__notes.push({title, body: options.body}); }
                              close() {} };
window.Notification.permission = "granted";
document.hasFocus = () => false;
"""


@pytest.fixture(scope="session")
def console_build(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_once(tmp_path_factory, "agent_console/build.mjs")


@pytest_asyncio.fixture(loop_scope="module")
async def second_context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 720})
    yield ctx
    await ctx.close()


def add_bob(server: PapoteServer) -> str:
    return server.cli("agent", "create", "--site", server.site_key, "--email", BOB_EMAIL, "--password",
                      BOB_PASSWORD, "--name", "Bob", "--role", "agent").strip()


async def sign_in(page: Page, server: PapoteServer, email: str | None = None,
                  password: str | None = None) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(server.base_url + "/console")
    await page.get_by_label("Email").fill(email or server.agent_email)
    await page.get_by_label("Password").fill(password or server.agent_password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # Connected: the banner about reconnecting is not shown and the queues have counts.
    await expect(page.locator("[data-queue=mine] .count")).to_be_visible()
    assert not errors, errors


async def notified(page: Page, key: str, value: str, timeout: float = 10) -> None:
    """Waits for a desktop notification (recorded by NOTIFICATION_STUB) with this title or body."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        notes = await page.evaluate("window.__notes")
        if any(n[key] == value for n in notes):
            return
        assert loop.time() < deadline, f"no notification with {key} {value!r}: {notes}"
        await asyncio.sleep(0.1)


async def set_capacity(page: Page, capacity: int) -> None:
    box = page.get_by_label("Capacity", exact=True)
    await box.fill(str(capacity))
    await box.dispatch_event("change")


async def queue(page: Page, name: str) -> None:
    await page.locator(f"[data-queue={name}]").click()


def row(page: Page, conversation: str) -> Any:
    return page.locator(f".conv-list [data-conversation='{conversation}']")


async def visitor_says(server: PapoteServer, body: str, name: str | None = None) -> tuple[Client, str]:
    client = await visitor(server, page={"url": "https://shop.example/cart", "title": "Your cart"},
                           device={"tz": "Europe/Paris", "lang": "fr-FR", "screen": "1440x900"})
    if name is not None:
        await client.send({"t": "set", "ref": 1, "name": name, "attributes": {"plan": "pro"}})
        await client.expect("ok")
    await client.send({"t": "send", "ref": 2, "conversation": None, "client_msg_id": new_msg_id(),
                       "body": body})
    ack = await client.expect("ack")
    return client, str(ack["conversation"])


async def assignee_of(client: Client, conversation: str, timeout: float = 10) -> dict[str, Any] | None:
    """The latest assignee the visitor was told about (conversation frames), waiting for one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for frame in reversed(client.frames):
            conv = frame.get("conversation")
            if frame["t"] == "conversation" and isinstance(conv, dict) and conv["id"] == conversation \
                    and conv.get("assignee"):
                return conv["assignee"]  # type: ignore[no-any-return]
        if loop.time() > deadline:
            return None
        try:
            await client.recv(0.3)
        except TimeoutError:
            pass


async def test_sign_in_errors_and_lockout(papote_server: PapoteServer, console_build: str,
                                          context: BrowserContext) -> None:
    page = await open_page(context)
    await page.goto(papote_server.base_url + "/console")
    await page.get_by_label("Email").fill(papote_server.agent_email)
    alert = page.get_by_role("alert").first
    for _ in range(12):
        await page.get_by_label("Password").fill("not-the-password")
        await page.get_by_role("button", name="Sign in").click()
        await expect(alert).not_to_have_text("")
        if "locked" in (await alert.text_content() or ""):
            break
        await expect(alert).to_have_text("Wrong email or password.")
    await expect(alert).to_contain_text("locked")


async def test_two_agents_three_visitors_routing_transfer_note_canned_rating_and_xss(
    papote_server: PapoteServer, console_build: str, context: BrowserContext,
    second_context: BrowserContext,
) -> None:
    server = papote_server
    add_bob(server)
    cookie = server.login()
    status, _, _ = server.http("POST", f"/api/sites/{server.site_key}/canned",
                               {"shortcut": "greet", "body": "Hello {name}, how can I help?"}, cookie=cookie)
    assert status == 201

    alice = await open_page(context)
    bob = await open_page(second_context)
    await sign_in(alice, server)
    await sign_in(bob, server, BOB_EMAIL, BOB_PASSWORD)
    # Capacity 1 each: two conversations fill both agents, the third waits in the queue.
    await set_capacity(alice, 1)
    await set_capacity(bob, 1)
    await asyncio.sleep(0.5)

    v1, c1 = await visitor_says(server, "Where is my order?", name="Victor")
    v2, c2 = await visitor_says(server, XSS_BODY, name=XSS_NAME)
    first = await assignee_of(v1, c1)
    second = await assignee_of(v2, c2)
    assert first and second, "both agents had a free slot"
    assert first["id"] != second["id"], "the agent with the most free slots gets the next one"

    v3, c3 = await visitor_says(server, "Anyone there?")
    queued = await v3.expect("queue", conversation=c3)
    assert queued["position"] == 1
    assert await assignee_of(v3, c3, timeout=1) is None

    # The console shows the waiting conversation first in "Unassigned", with its position.
    await queue(alice, "unassigned")
    await expect(row(alice, c3)).to_contain_text("#1 in queue")
    await expect(alice.locator("[data-queue=unassigned] .count")).to_have_text("1")

    # Whose is the Mallory conversation? That agent checks it renders as text.
    xss_page = alice if second["name"] != "Bob" else bob
    other_page = bob if xss_page is alice else alice
    await queue(xss_page, "mine")
    await row(xss_page, c2).click()
    chat = xss_page.locator(f".chat[data-conversation='{c2}']")
    await expect(chat.locator(".msg.visitor .body")).to_have_text(XSS_BODY)
    await expect(xss_page.locator(".context .visitor-name")).to_have_text(XSS_NAME)
    await expect(row(xss_page, c2).locator(".conv-name")).to_have_text(XSS_NAME)
    assert await xss_page.evaluate("window.__xss") is None
    assert await xss_page.locator("img[src=x], .chat b, .conv-list b").count() == 0

    # The agent with Victor's conversation: context panel, canned response with "/", a private note.
    victor_page = other_page
    await queue(victor_page, "mine")
    await row(victor_page, c1).click()
    await expect(victor_page.locator(".context .visitor-name")).to_have_text("Victor")
    await expect(victor_page.locator(".context")).to_contain_text("Your cart")
    await expect(victor_page.locator(".context")).to_contain_text("fr-FR")
    await expect(victor_page.locator(".context")).to_contain_text("plan")
    reply = victor_page.get_by_role("textbox", name="Reply")
    await reply.press_sequentially("/gr")
    await expect(victor_page.locator(".canned-list").get_by_role("option")).to_contain_text("/greet")
    await reply.press("Enter")
    await expect(reply).to_have_value("Hello Victor, how can I help?")
    await reply.press("Enter")
    said = await v1.expect("message", conversation=c1, kind="text")
    assert said["body"] == "Hello Victor, how can I help?"

    await victor_page.get_by_label("Private note").check()
    await reply.fill("VIP customer, be nice")
    await reply.press("Enter")
    note = victor_page.locator(f".chat[data-conversation='{c1}'] .msg.note")
    await expect(note).to_contain_text("VIP customer, be nice")
    await expect(note.locator(".note-badge")).to_have_text("Private note")

    # Transfer to the other agent with a note: they see the whole history and both notes.
    await victor_page.get_by_role("button", name="Transfer").click()
    await victor_page.get_by_label("Choose an agent").select_option(label=None, index=0)
    await victor_page.get_by_label("Note for the next agent").fill("Order 1234 is late")
    await victor_page.get_by_role("button", name="Confirm").click()
    await queue(xss_page, "mine")
    await row(xss_page, c1).click()
    history = xss_page.locator(f".chat[data-conversation='{c1}']")
    await expect(history.locator(".msg.visitor")).to_contain_text("Where is my order?")
    await expect(history.locator(".msg.agent:not(.note)")).to_contain_text("Hello Victor, how can I help?")
    await expect(history.locator(".msg.note")).to_have_count(2)
    await expect(history.locator(".event[data-event=transferred]")).to_be_visible()

    # Shift+Enter is a new line, Enter sends; the visitor reads it and the agent sees "Seen".
    reply2 = xss_page.get_by_role("textbox", name="Reply")
    await reply2.fill("Line one")
    await reply2.press("Shift+Enter")
    await reply2.press_sequentially("line two")
    await reply2.press("Enter")
    got = await v1.expect("message", conversation=c1, kind="text", timeout=10)
    assert got["body"] == "Line one\nline two"
    await v1.send({"t": "read", "conversation": c1, "seq": got["seq"]})
    await expect(history.locator(".seen")).to_be_visible()

    # The visitor never received a note, whatever path it took.
    await v1.quiet(0.3)
    assert not [f for f in v1.frames if f.get("kind") == "note"]
    assert not any("VIP customer" in str(f) or "Order 1234" in str(f) for f in v1.frames)

    # Close it; the visitor rates; the rating shows in the reports.
    await history.get_by_role("button", name="Close").click()
    await expect(history.locator(".event[data-event=closed]")).to_be_visible()
    await v1.send({"t": "rate", "ref": 9, "conversation": c1, "rating": 5, "comment": "Great"})
    await v1.expect("ok")
    await expect(history.locator(".event[data-event=rated]")).to_contain_text("5/5")
    await xss_page.get_by_role("button", name="Reports").click()
    satisfaction = xss_page.locator("[data-stat=satisfaction]")
    await expect(satisfaction).to_contain_text("5/5")
    await expect(satisfaction).to_contain_text("Ratings: 1")
    await expect(xss_page.locator("[data-stat=conversations] .stat-value")).to_have_text("3")
    await expect(xss_page.locator("svg.chart rect.bar").first).to_be_attached()
    csv = await xss_page.evaluate(
        "fetch(document.querySelector('a[download]').href).then(r => r.text())")
    assert csv.splitlines()[0].startswith("start,conversations")
    assert csv.splitlines()[-1].startswith("total,3,")

    for v in (v1, v2, v3):
        await v.close()


async def test_a_redraw_leaves_the_queue_buttons_and_unchanged_rows_in_place(
        papote_server: PapoteServer, console_build: str, context: BrowserContext) -> None:
    """The inbox redraws on every change. A node replaced under the pointer swallows a click pressed on
    the old one and released on the new, and a focused one replaced sends the focus to the page: the
    queue buttons and the rows a change leaves as they were must stay the very same nodes."""
    server = papote_server
    page = await open_page(context)
    await sign_in(page, server)
    v1, c1 = await visitor_says(server, "First question")
    v2, c2 = await visitor_says(server, "Second question")
    await queue(page, "open")
    await expect(row(page, c1)).to_contain_text("Assigned to")
    await expect(row(page, c2)).to_contain_text("Assigned to")
    await page.locator("[data-queue=open]").focus()
    await page.evaluate("""([c1]) => {
        window.keptRow = document.querySelector(`.conv-list [data-conversation='${c1}']`).closest("li");
        window.keptButton = document.querySelector("[data-queue=open]");
    }""", [c1])

    await v2.send({"t": "send", "ref": 5, "conversation": c2, "client_msg_id": new_msg_id(), "body": "Any news?"})
    await expect(row(page, c2)).to_contain_text("Any news?")
    kept = await page.evaluate("""([c1]) => ({
        row: document.querySelector(`.conv-list [data-conversation='${c1}']`).closest("li") === window.keptRow,
        button: document.querySelector("[data-queue=open]") === window.keptButton,
        focus: document.activeElement === window.keptButton,
    })""", [c1])
    assert kept == {"row": True, "button": True, "focus": True}
    # The queue still switches, and the rows follow it.
    await queue(page, "closed")
    await expect(row(page, c1)).to_have_count(0)
    await queue(page, "open")
    await expect(row(page, c2)).to_contain_text("Any news?")
    await v1.close()
    await v2.close()


async def test_a_request_that_fails_is_said(papote_server: PapoteServer, console_build: str,
                                            context: BrowserContext) -> None:
    """An action or a read the server never answered says so, where it was asked for: before, a
    block lost its failure, a failed search read "No conversation matches.", the moderation page
    stayed blank and a conversation that could not be read kept "…" in its header for ever."""
    server = papote_server
    page = await open_page(context)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "Block this visitor?"
    await sign_in(page, server)
    client, conv = await visitor_says(server, "Please block me later")
    await queue(page, "open")
    await row(page, conv).click()
    block = page.get_by_role("button", name="Block visitor")
    await expect(block).to_be_visible()

    await context.set_offline(True)
    await block.click()
    await expect(page.locator(".block-row [role=alert]")).to_contain_text("network error")
    await page.get_by_role("searchbox", name="Search").fill("lamp")
    await expect(page.locator(".conv-list [role=alert]")).to_contain_text("network error")
    await expect(page.get_by_text("No conversation matches.")).to_have_count(0)
    await page.get_by_role("button", name="Moderation").click()
    await expect(page.locator(".moderation [role=alert]")).to_contain_text("network error")

    await context.set_offline(False)
    await page.get_by_role("button", name="Inbox").click()
    await page.get_by_role("searchbox", name="Search").fill("Please")  # read again: the error goes
    await expect(page.locator(".conv-list [role=alert]")).to_have_count(0)
    await expect(row(page, conv)).to_be_visible()
    await page.get_by_role("button", name="Block visitor").click()  # tried again, it works
    await expect(page.get_by_role("button", name="Unblock")).to_be_visible()
    await expect(page.locator(".block-row [role=alert]")).to_have_count(0)

    # A conversation that cannot be read (here: none has this id) says so in its tab.
    await page.goto(server.base_url + "/console#conversation=c_no_such_one")
    await expect(page.locator(".chat [role=alert]")).to_contain_text("Something went wrong")
    await client.close()


async def test_manual_pick_site_settings_and_claim(papote_server: PapoteServer, console_build: str,
                                                   context: BrowserContext) -> None:
    server = papote_server
    page = await open_page(context)
    # Desktop notifications: granted, and the console is in a background window.
    await page.add_init_script(NOTIFICATION_STUB)
    await sign_in(page, server)
    await page.get_by_role("button", name="Site settings").click()
    await page.get_by_label("Greeting").fill("Bonjour <b>!</b>")
    await page.get_by_label("Routing").select_option("manual")
    await page.get_by_label("Widget colour").fill("#123456")
    settings_form = page.locator("form.settings")
    await settings_form.get_by_role("button", name="Save").click()
    await expect(settings_form.get_by_role("status")).to_have_text("Saved.")
    await expect(page.locator("pre.snippet")).to_contain_text(server.site_key)
    status, site, _ = server.http("GET", f"/api/sites/{server.site_key}", cookie=server.login())
    assert status == 200
    assert site["settings"]["routing"] == "manual"
    assert site["settings"]["greeting"] == "Bonjour <b>!</b>"
    assert site["settings"]["color"] == "#123456"

    # Manual pick: the conversation waits in "Unassigned" until an agent claims it.
    v, conv = await visitor_says(server, "Is this in stock?")
    await page.get_by_role("button", name="Inbox").click()
    await queue(page, "unassigned")
    await expect(row(page, conv)).to_contain_text("#1 in queue")
    await notified(page, "title", "New conversation")
    await row(page, conv).click()
    chat = page.locator(f".chat[data-conversation='{conv}']")
    await chat.get_by_role("button", name="Claim").click()
    assigned = await assignee_of(v, conv)
    assert assigned is not None and assigned["kind"] == "agent"
    await expect(page.locator("[data-queue=mine] .count")).to_have_text("1")
    await expect(page.locator("[data-queue=unassigned] .count")).to_have_text("0")

    await v.send({"t": "send", "ref": 8, "conversation": conv, "client_msg_id": new_msg_id(),
                  "body": "Size 42 please"})
    await notified(page, "body", "Size 42 please")

    # The visitor's page and tracked events show up live in the context panel.
    await v.send({"t": "page", "url": "https://shop.example/checkout", "title": "Checkout <i>now</i>"})
    await expect(page.locator(".context .current-page")).to_have_text("Checkout <i>now</i>")
    await v.send({"t": "track", "ref": 7, "event": "add_to_cart", "data": {"value": 42}})
    await expect(page.locator(".context .events")).to_contain_text("add_to_cart")
    await expect(page.locator(".team")).to_contain_text("Online · 1/")

    # Labels are added and removed from the chat.
    await chat.get_by_label("Add label").fill("billing")
    await chat.get_by_label("Add label").press("Enter")
    await expect(chat.locator(".chip")).to_have_text(["billing×"])
    await chat.get_by_role("button", name="Remove label billing").click()
    await expect(chat.locator(".chip")).to_have_count(0)

    # Live typing from the visitor, and a reopen after close.
    await v.send({"t": "typing", "conversation": conv, "on": True})
    await expect(chat.locator(".typing-line")).to_contain_text("is typing")
    await chat.get_by_role("button", name="Close").click()
    await expect(chat.get_by_role("button", name="Reopen")).to_be_visible()
    await queue(page, "closed")
    await expect(row(page, conv)).to_be_visible()
    await chat.get_by_role("button", name="Reopen").click()
    await expect(chat.get_by_role("button", name="Close")).to_be_visible()
    await v.close()


async def test_invitation_then_password_change(papote_server: PapoteServer, console_build: str,
                                               context: BrowserContext,
                                               second_context: BrowserContext) -> None:
    server = papote_server
    owner = await open_page(context)
    await sign_in(owner, server)
    await owner.get_by_role("button", name="Site settings").click()
    await owner.get_by_label("Email").fill("carol@papote.test")
    await owner.get_by_role("button", name="Invite").click()
    link = await owner.get_by_label("Invitation").input_value()
    assert "/console#invite=" in link

    carol = await open_page(second_context)
    await carol.goto(link)
    await expect(carol.get_by_text("You are invited to Test shop as agent.")).to_be_visible()
    await carol.get_by_label("Your name").fill("Carol")
    await carol.get_by_label("Password").fill("carol-long-password")
    await carol.get_by_role("button", name="Accept invitation").click()
    await expect(carol.get_by_role("button", name="Sign out")).to_be_visible()
    # An agent (not admin) has no site settings.
    await expect(carol.get_by_role("button", name="Site settings")).to_have_count(0)

    # The link works once.
    other = await open_page(context)
    await other.goto(link)
    await expect(other.get_by_role("alert")).to_have_text("This invitation has expired or was already used.")

    await carol.get_by_role("button", name="Account").click()
    await carol.get_by_label("Your name").fill("Carol C.")
    await carol.locator("form", has=carol.get_by_label("Your name")).get_by_role("button", name="Save").click()
    await expect(carol.locator(".status-box .me")).to_have_text("Carol C.")
    await carol.get_by_label("Current password").fill("carol-long-password")
    await carol.get_by_label("New password").fill("carol-newer-password")
    await carol.get_by_role("button", name="Change password").click()
    # This session goes on (the others end): the console stays signed in.
    await expect(carol.get_by_role("alert")).to_have_text("Password changed. Your other sessions were signed out.")
    await carol.get_by_role("button", name="Inbox").click()
    await expect(carol.locator("[data-queue=mine] .count")).to_be_visible()
    await carol.get_by_role("button", name="Sign out").click()
    await expect(carol.get_by_role("button", name="Sign in")).to_be_visible()
    await sign_in(carol, server, "carol@papote.test", "carol-newer-password")


async def sites_of(page: Page) -> list[str]:
    return sorted(await page.evaluate("window.papoteConsole.desk.sites.map(s => s.key)"))


async def eventually_sites(page: Page, expected: list[str], timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (got := await sites_of(page)) != sorted(expected):
        assert loop.time() < deadline, f"the console's sites are {got}, not {sorted(expected)}"
        await asyncio.sleep(0.2)


async def test_team_invitation_to_an_existing_account_disable_on_one_site_and_hand_over(
        papote_server: PapoteServer, console_build: str, context: BrowserContext,
        second_context: BrowserContext) -> None:
    server = papote_server
    site_b = server.cli("site", "create", "--name", "Bob's shop", "--origin", server.base_url).splitlines()[0]
    server.cli("agent", "create", "--site", site_b, "--email", BOB_EMAIL, "--password", BOB_PASSWORD,
               "--name", "Bob", "--role", "owner")
    owner = await open_page(context)
    owner.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await sign_in(owner, server)
    await owner.get_by_role("button", name="Site settings").click()
    team = owner.locator(".team-admin")
    # Only admin and agent can be granted; ownership is handed over.
    invite_role = team.locator("form").get_by_label("Role")
    await expect(invite_role.locator("option")).to_have_count(2)  # the settings page is drawn
    assert await invite_role.locator("option").all_inner_texts() == ["Agent", "Admin"]
    await team.get_by_label("Email").fill(BOB_EMAIL)
    await invite_role.select_option("admin")
    await team.get_by_role("button", name="Invite").click()
    await expect(team.get_by_label("Invitation")).to_have_value(re.compile("/console#invite="))
    pending = team.locator(".invites li")
    await expect(pending).to_have_count(1)
    await expect(pending).to_contain_text(BOB_EMAIL)
    await expect(pending).to_contain_text("Invited by")
    # Bob is not on the team until he accepts.
    await expect(team.locator(f"tr:has-text('{BOB_EMAIL}')")).to_have_count(0)

    bob = await open_page(second_context)
    bob.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await sign_in(bob, server, BOB_EMAIL, BOB_PASSWORD)
    await eventually_sites(bob, [site_b])  # the sites come with the socket's welcome, after the first render
    await bob.get_by_role("button", name="Account").click()
    mine = bob.locator(".my-invites li")
    await expect(mine).to_contain_text("Test shop, as Admin")
    await mine.get_by_role("button", name="Accept").click()
    await expect(bob.locator(".sites li")).to_have_count(2)
    await eventually_sites(bob, [server.site_key, site_b])  # the socket reconnected with the new site

    # The owner disables Bob on this site only: Bob's console drops it and keeps his own shop.
    await owner.get_by_role("button", name="Site settings").click()
    bob_row = team.locator(f"tr:has-text('{BOB_EMAIL}')")
    await expect(bob_row.locator(".state")).not_to_have_text("Disabled on this site")
    await bob_row.get_by_role("button", name="Disable").click()
    await expect(bob_row.locator(".state")).to_have_text("Disabled on this site")
    await eventually_sites(bob, [site_b])
    await expect(bob.get_by_role("button", name="Sign out")).to_be_visible()  # still signed in
    await bob_row.get_by_role("button", name="Enable").click()
    await eventually_sites(bob, [server.site_key, site_b])

    # The owner hands the site over: Bob is owner, the former owner an admin who can no longer act on him.
    await bob_row.get_by_role("button", name="Hand ownership over").click()
    await expect(bob_row.locator("td").nth(2)).to_have_text("Owner")
    me_row = team.locator(f"tr:has-text('{server.agent_email}')")
    await expect(me_row.locator("td").nth(2)).to_have_text("Admin")
    await expect(bob_row.get_by_role("button")).to_have_count(0)
    status, listing, _ = server.http("GET", f"/api/sites/{server.site_key}/agents",
                                     cookie=server.login(BOB_EMAIL, BOB_PASSWORD))
    assert {a["email"]: a["role"] for a in listing["agents"]} == {server.agent_email: "admin", BOB_EMAIL: "owner"}


async def test_an_invitation_link_for_an_existing_account_and_a_new_site(
        papote_server: PapoteServer, console_build: str, context: BrowserContext,
        second_context: BrowserContext) -> None:
    server = papote_server
    site_b = server.cli("site", "create", "--name", "Elsewhere", "--origin", server.base_url).splitlines()[0]
    server.cli("agent", "create", "--site", site_b, "--email", BOB_EMAIL, "--password", BOB_PASSWORD,
               "--name", "Bob", "--role", "agent")
    status, invite, _ = server.http("POST", f"/api/sites/{server.site_key}/invites", {"email": BOB_EMAIL},
                                    cookie=server.login())
    assert status == 201
    bob = await open_page(second_context)
    await bob.goto(invite["url"])
    await expect(bob.get_by_text("You are invited to Test shop as agent.")).to_be_visible()
    await bob.get_by_label("I already have a Papote account").check()
    await expect(bob.get_by_label("Your name")).to_be_hidden()
    await bob.get_by_label("Password").fill(BOB_PASSWORD)
    await bob.get_by_role("button", name="Accept invitation").click()
    await expect(bob.get_by_role("button", name="Sign out")).to_be_visible()
    await eventually_sites(bob, [server.site_key, site_b])
    # Bob is no server operator: no "New site" form. The owner, who ran `papote init`, has one.
    await bob.get_by_role("button", name="Account").click()
    await expect(bob.locator(".sites li")).to_have_count(2)
    await expect(bob.get_by_role("button", name="Create site")).to_have_count(0)
    owner = await open_page(context)
    await sign_in(owner, server)
    await owner.get_by_role("button", name="Account").click()
    await owner.get_by_label("Site name").fill("Second shop")
    await owner.get_by_label("Website origin (https://…)").fill("https://second.example")
    await owner.get_by_role("button", name="Create site").click()
    await expect(owner.locator(".sites li")).to_have_count(2)
    await expect(owner.locator(".sites")).to_contain_text("Second shop — Owner")
    await expect(owner.get_by_role("button", name="Sign out")).to_be_visible()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while len(await sites_of(owner)) != 2:
        assert loop.time() < deadline, await sites_of(owner)
        await asyncio.sleep(0.2)


async def test_tabs_shortcuts_french_and_resume_after_restart(papote_server: PapoteServer,
                                                              console_build: str,
                                                              context: BrowserContext) -> None:
    server = papote_server
    page = await open_page(context)
    await sign_in(page, server)
    v1, c1 = await visitor_says(server, "First visitor", name="Ann")
    v2, c2 = await visitor_says(server, "Second visitor", name="Ben")
    await queue(page, "mine")
    await row(page, c1).click()
    await row(page, c2).click()
    await expect(page.locator(".tab")).to_have_count(2)

    # Keyboard: Alt+1 / Alt+2 move between chats; the draft of each is kept.
    reply = page.get_by_role("textbox", name="Reply")
    await reply.fill("draft for Ben")
    await page.keyboard.press("Alt+1")
    await expect(page.locator(".tab.active")).to_contain_text("Ann")
    await expect(page.get_by_role("textbox", name="Reply")).to_have_value("")
    await page.keyboard.press("Alt+2")
    await expect(page.get_by_role("textbox", name="Reply")).to_have_value("draft for Ben")
    # A reload keeps the open tabs and the drafts.
    await asyncio.sleep(0.7)
    await page.reload()
    await expect(page.locator(".tab")).to_have_count(2)
    await expect(page.get_by_role("textbox", name="Reply")).to_have_value("draft for Ben")
    # A message in the chat not in front: an unread badge on its tab.
    await v1.send({"t": "send", "ref": 5, "conversation": c1, "client_msg_id": new_msg_id(), "body": "Hello?"})
    await expect(page.locator(f".tab[data-conversation='{c1}'] .badge.unread")).to_have_text("1")
    await expect(page).to_have_title("(1) Papote")
    # Search by visitor name narrows the list.
    await page.get_by_label("Search").fill("Ben")
    await expect(page.locator(".conv-list [data-conversation]")).to_have_count(1)
    await expect(row(page, c2)).to_be_visible()
    await page.get_by_label("Search").fill("")
    await page.locator("body").click(position={"x": 5, "y": 700})
    await page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(help_dialog).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(help_dialog).to_be_hidden()

    # The server restarts: the console says so, reconnects and resumes what it missed.
    server.restart()
    v1b = await visitor(server, token=v1.welcome["token"])
    await v1b.send({"t": "send", "ref": 6, "conversation": c1, "client_msg_id": new_msg_id(),
                    "body": "Sent while you were away"})
    await v1b.expect("ack")
    await page.keyboard.press("Alt+1")
    await expect(page.locator(f".chat[data-conversation='{c1}'] .msg.visitor").last).to_have_text(
        re.compile("Sent while you were away"), timeout=40_000)

    # French.
    await page.get_by_role("button", name="Account").click()
    await page.get_by_label("Interface language").select_option("fr")
    await expect(page.get_by_role("button", name="Boîte de réception")).to_be_visible()
    await page.get_by_role("button", name="Boîte de réception").click()
    await expect(page.locator("[data-queue=mine]")).to_contain_text("Les miennes")
    for v in (v1, v2, v1b):
        await v.close()


async def test_tablet_width_and_a_verified_visitor(papote_server: PapoteServer, console_build: str,
                                                  browser: Browser) -> None:
    server = papote_server
    ctx = await browser.new_context(locale="en-US", viewport={"width": 820, "height": 1180}, has_touch=True)
    try:
        page = await open_page(ctx)
        await sign_in(page, server)
        v = await visitor(server)
        user_id = "customer-42"
        digest = hmac.new(server.site_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
        await v.send({"t": "identify", "ref": 1, "user_id": user_id, "hash": digest, "name": "Zoé",
                      "email": "zoe@example.test"})
        await v.expect("identified")
        await v.send({"t": "send", "ref": 2, "conversation": None, "client_msg_id": new_msg_id(),
                      "body": "Bonjour"})
        conv = str((await v.expect("ack"))["conversation"])
        await queue(page, "mine")
        await row(page, conv).click()
        context_panel = page.locator(".context")
        await expect(context_panel.locator(".visitor-name")).to_have_text("Zoé")
        await expect(context_panel.locator(".badge.verified")).to_have_text("Verified")
        await expect(context_panel).to_contain_text("zoe@example.test")
        reply = page.get_by_role("textbox", name="Reply")
        await expect(reply).to_be_in_viewport()
        await reply.fill("Bonjour Zoé")
        await reply.press("Enter")
        said = await v.expect("message", conversation=conv, kind="text")
        assert said["body"] == "Bonjour Zoé"
        # Nothing overflows sideways at this width.
        assert await page.evaluate("document.documentElement.scrollWidth") <= 820
        await v.close()
    finally:
        await ctx.close()


async def test_snooze_sets_a_conversation_aside_until_its_visitor_writes_or_an_agent_wakes_it(
        papote_server: PapoteServer, console_build: str, context: BrowserContext) -> None:
    server = papote_server
    page = await open_page(context)
    await sign_in(page, server)
    v, conv = await visitor_says(server, "Can you call me back next week?")
    await expect(row(page, conv)).to_be_visible()  # routed to the one agent online: the Mine queue
    await row(page, conv).click()
    chat = page.locator(f".chat[data-conversation='{conv}']")
    await expect(page.locator("[data-queue=snoozed] .count")).to_have_text("0")

    # A preset: the conversation leaves Mine for Snoozed, and says until when.
    snooze = chat.locator(".chat-actions").get_by_role("button", name="Snooze")
    await snooze.click()
    await expect(snooze).to_have_attribute("aria-expanded", "true")
    await chat.get_by_role("button", name="Tomorrow 9:00").click()
    await expect(chat.locator(".chat-title")).to_contain_text("Snoozed until")
    await expect(row(page, conv)).to_have_count(0)
    await expect(page.locator("[data-queue=snoozed] .count")).to_have_text("1")
    await expect(page.locator(".team")).to_contain_text("Online · 0/")  # off the agent's plate
    await queue(page, "snoozed")
    await expect(row(page, conv)).to_contain_text("Snoozed until")
    status, body, _ = server.http("GET", f"/api/conversations/{conv}", cookie=server.login())
    assert status == 200 and body["snoozed_until"] > 0

    # Its visitor writes: it is back in Mine at once.
    await v.send({"t": "send", "ref": 3, "conversation": conv, "client_msg_id": new_msg_id(), "body": "Any news?"})
    await v.expect("ack", ref=3)
    await expect(page.locator("[data-queue=snoozed] .count")).to_have_text("0")
    await expect(page.locator(".team")).to_contain_text("Online · 1/")
    await queue(page, "mine")
    await expect(row(page, conv)).to_be_visible()
    await expect(snooze).to_be_visible()

    # A time of one's own: one in the past is refused where it was typed; then woken by hand.
    await snooze.click()
    until = chat.get_by_label("Until")
    await until.fill("2020-01-01T09:00")
    await chat.locator(".snooze-box").get_by_role("button", name="Snooze").click()
    await expect(chat.locator(".snooze-box [role=alert]")).to_have_text("Choose a time in the coming year.")
    await until.fill((datetime.now() + timedelta(days=30)).strftime("%Y-%m-%dT09:00"))
    await chat.locator(".snooze-box").get_by_role("button", name="Snooze").click()
    await expect(page.locator("[data-queue=snoozed] .count")).to_have_text("1")
    await expect(chat.locator(".snooze-box")).to_be_hidden()
    await chat.get_by_role("button", name="Unsnooze").click()
    await expect(page.locator("[data-queue=snoozed] .count")).to_have_text("0")
    await expect(row(page, conv)).to_be_visible()
    await v.close()

"""Two agents signed in to two nodes of one site, in Chromium: presence, the queue, capacity and a
transfer behave as on one node (issue 10, "Proof").

Two `papote serve` processes (tests/nodes.py) share one throw-away PostgreSQL database and a private redis-server (the
bus). Agent A's console runs on node 1, agent B's on node 2; the visitor's widget sits on a shop page of
its own origin and talks to node 2; the other visitors are protocol clients on either node. What is
checked is what the people see: the consoles' team list, queues and chats, the widget's timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from papote.snippet import render_snippet
from tests import postgres
from tests.brokers import Broker
from tests.harness import PapoteServer, free_port, new_msg_id, visitor
from tests.nodes import Node, cluster

from .conftest import open_page
from .test_console import BOB_EMAIL, BOB_PASSWORD, add_bob, assignee_of, console_build, queue, row, set_capacity
from .test_console import sign_in as console_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

__all__ = ["console_build"]  # a fixture the tests below use

#: Every wait of the test. What crosses nodes goes through the broker and the other node's presence
#: table, and three browsers and two servers share a busy 2-core machine: a few seconds, never this long.
ACROSS_MS = 20_000


class Shop:
    """The shop's own site on a loopback port: one page with the embed snippet pointing at a node."""

    def __init__(self) -> None:
        self.port = free_port()
        self.page = b""
        shop = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(shop.page)))
                self.end_headers()
                self.wfile.write(shop.page)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, site_key: str, node: PapoteServer) -> None:
        self.page = (f"<!doctype html><html lang=en><title>Lamps</title><h1>Lamps and shades</h1>"
                     f"{render_snippet(site_key, node.base_url)}").encode()
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.http.shutdown()
        self.http.server_close()


@dataclass
class TwoNodes:
    one: Node
    two: Node
    shop: Shop


@pytest_asyncio.fixture(loop_scope="module")
async def nodes(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[TwoNodes]:
    """Node 1 and node 2 (tests/nodes.py) on one PostgreSQL database and one private Redis; the site
    allows the shop's page."""
    broker = Broker("redis", tmp_path / "redis")
    shop = Shop()
    broker.start()
    try:
        async with postgres.database() as url, cluster(tmp_path, url, broker, 2, origin=shop.url,
                                                       failed=lambda: failed(request)) as two_nodes:
            shop.serve(two_nodes.site_key, two_nodes[1])
            await asyncio.to_thread(two_nodes.wait_nodes_see_each_other)
            yield TwoNodes(two_nodes[0], two_nodes[1], shop)
    finally:
        broker.kill()
        shop.close()


def failed(request: pytest.FixtureRequest) -> bool:
    report = getattr(request.node, "rep_call", None)
    return report is not None and bool(report.failed)


@pytest_asyncio.fixture(loop_scope="module")
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    """Agent A's browser, agent B's, and the visitor's: three profiles that share nothing."""
    made = [await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 760}) for _ in range(3)]
    yield made
    for ctx in made:
        with contextlib.suppress(Exception):
            await ctx.close()


def teammate(page: Page, name: str) -> Locator:
    """The agent's line in the console's "Team" list ("Bob", "Online · 0/1")."""
    return page.get_by_role("region", name="Team").get_by_role("listitem").filter(has_text=name)


def count(page: Page, name: str) -> Locator:
    return page.locator(f"[data-queue={name}] .count")


async def test_two_agents_on_two_nodes_presence_queue_capacity_and_transfer(
    nodes: TwoNodes, console_build: str, contexts: list[BrowserContext]
) -> None:
    one, two = nodes.one, nodes.two
    add_bob(one)
    alice = await open_page(contexts[0])
    bob = await open_page(contexts[1])
    await console_sign_in(alice, one)
    await console_sign_in(bob, two, BOB_EMAIL, BOB_PASSWORD)
    await set_capacity(alice, 1)
    await set_capacity(bob, 1)

    # Presence: each console, on its own node, shows the other agent online with their capacity.
    await expect(teammate(alice, "Bob")).to_contain_text("Online · 0/1", timeout=ACROSS_MS)
    await expect(teammate(bob, "owner")).to_contain_text("Online · 0/1", timeout=ACROSS_MS)
    # A change of status crosses at once: Bob steps away, and node 1 is told.
    await bob.get_by_label("Status", exact=True).select_option("away")
    await expect(teammate(alice, "Bob")).to_contain_text("Away", timeout=ACROSS_MS)

    # The visitor's widget talks to node 2; the only agent online, on node 1, gets the conversation.
    shop = await open_page(contexts[2])
    await shop.goto(nodes.shop.url + "/")
    await shop.get_by_role("button", name="Open chat").click()
    await shop.get_by_role("textbox", name="Message").fill("Where is my parcel?")
    await shop.get_by_role("button", name="Send", exact=True).click()
    await expect(shop.locator("papote-widget .msg.mine", has_text="Where is my parcel?")).to_have_attribute(
        "data-state", re.compile("^(sent|read)$"), timeout=ACROSS_MS)
    await queue(alice, "mine")
    widget_row = alice.locator(".conv-list [data-conversation]", has_text="Where is my parcel?")
    await expect(widget_row).to_be_visible(timeout=ACROSS_MS)
    c1 = str(await widget_row.get_attribute("data-conversation"))
    await expect(count(alice, "mine")).to_have_text("1", timeout=ACROSS_MS)
    await expect(shop.locator("papote-widget").get_by_text("owner joined the conversation")).to_be_visible(
        timeout=ACROSS_MS)

    # Bob is back: node 1 sees him online, and the next conversation (from a visitor on node 1) is his.
    await bob.get_by_label("Status", exact=True).select_option("online")
    await expect(teammate(alice, "Bob")).to_contain_text("Online", timeout=ACROSS_MS)
    v2, c2 = await says(one, nodes.shop.url, "I want a refund")
    assert (await assignee_of(v2, c2, timeout=ACROSS_MS / 1000) or {}).get("name") == "Bob"
    await queue(bob, "mine")
    await expect(row(bob, c2)).to_be_visible(timeout=ACROSS_MS)

    # Both at capacity: a third conversation (a visitor on node 2) waits in the queue, in both consoles.
    v3, c3 = await says(two, nodes.shop.url, "Anyone there?")
    queued = await v3.expect("queue", conversation=c3, timeout=ACROSS_MS / 1000)
    assert queued["position"] == 1
    for page in (alice, bob):
        await queue(page, "unassigned")
        await expect(row(page, c3)).to_contain_text("#1 in queue", timeout=ACROSS_MS)
        await expect(count(page, "unassigned")).to_have_text("1", timeout=ACROSS_MS)
        await expect(count(page, "mine")).to_have_text("1", timeout=ACROSS_MS)
    # Capacity holds on both nodes: nobody was given a second conversation, and each console says so.
    assert await assignee_of(v3, c3, timeout=1) is None
    await expect(teammate(alice, "Bob")).to_contain_text("1/1", timeout=ACROSS_MS)
    await expect(teammate(bob, "owner")).to_contain_text("1/1", timeout=ACROSS_MS)

    # Bob frees a slot first (he closes the refund on node 2): the waiting conversation, started on
    # node 2 and seen on node 1, is his, and leaves both queues.
    await queue(bob, "mine")
    await row(bob, c2).click()
    await bob.locator(f".chat[data-conversation='{c2}']").get_by_role("button", name="Close").click()
    assert (await assignee_of(v3, c3, timeout=ACROSS_MS / 1000) or {}).get("name") == "Bob"
    for page in (alice, bob):
        await expect(count(page, "unassigned")).to_have_text("0", timeout=ACROSS_MS)
    await expect(row(bob, c3)).to_be_visible(timeout=ACROSS_MS)
    await expect(count(alice, "mine")).to_have_text("1", timeout=ACROSS_MS)
    # Bob is done with that one too: he has a free slot for the transfer.
    await row(bob, c3).click()
    await bob.locator(f".chat[data-conversation='{c3}']").get_by_role("button", name="Close").click()
    await expect(teammate(alice, "Bob")).to_contain_text("0/1", timeout=ACROSS_MS)

    # Alice (node 1) answers the widget (node 2), then transfers the conversation to Bob with a note.
    await queue(alice, "mine")
    await row(alice, c1).click()
    reply = alice.get_by_role("textbox", name="Reply")
    await reply.fill("Let me look that up.")
    await reply.press("Enter")
    await expect(shop.locator("papote-widget .msg:not(.mine)", has_text="Let me look that up.")).to_be_visible(
        timeout=ACROSS_MS)
    await alice.get_by_role("button", name="Transfer").click()
    choose = alice.get_by_label("Choose an agent")
    await expect(choose.locator("option")).to_have_text([re.compile(r"^Bob — Online")], timeout=ACROSS_MS)
    await choose.select_option(index=0)
    await alice.get_by_label("Note for the next agent").fill("Parcel 88 is late")
    await alice.get_by_role("button", name="Confirm").click()

    # Bob sees it arrive live on node 2, with the whole history and the note; the visitor sees the change.
    await queue(bob, "mine")
    await expect(row(bob, c1)).to_be_visible(timeout=ACROSS_MS)
    await expect(count(bob, "mine")).to_have_text("1", timeout=ACROSS_MS)
    await expect(count(alice, "mine")).to_have_text("0", timeout=ACROSS_MS)
    await row(bob, c1).click()
    history = bob.locator(f".chat[data-conversation='{c1}']")
    await expect(history.locator(".msg.visitor")).to_contain_text("Where is my parcel?", timeout=ACROSS_MS)
    await expect(history.locator(".msg.agent:not(.note)")).to_contain_text("Let me look that up.", timeout=ACROSS_MS)
    await expect(history.locator(".msg.note")).to_contain_text("Parcel 88 is late", timeout=ACROSS_MS)
    await expect(history.locator(".event[data-event=transferred]")).to_be_visible(timeout=ACROSS_MS)
    widget = shop.locator("papote-widget")
    await expect(widget.get_by_text("Transferred to Bob")).to_be_visible(timeout=ACROSS_MS)
    await bob.get_by_role("textbox", name="Reply").fill("Bob here: it ships tomorrow.")
    await bob.get_by_role("textbox", name="Reply").press("Enter")
    await expect(widget.locator(".msg:not(.mine)", has_text="Bob here: it ships tomorrow.")).to_be_visible(
        timeout=ACROSS_MS)
    # The note stayed between the agents.
    await expect(widget.get_by_text("Parcel 88 is late")).to_have_count(0, timeout=ACROSS_MS)
    await expect(teammate(alice, "Bob")).to_contain_text("1/1", timeout=ACROSS_MS)
    await expect(teammate(bob, "owner")).to_contain_text("0/1", timeout=ACROSS_MS)


async def says(node: PapoteServer, origin: str, body: str) -> tuple[Any, str]:
    """A protocol visitor on `node`, on the shop's page, starting a conversation."""
    client = await visitor(node, origin=origin)
    await client.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": body})
    ack = await client.expect("ack", ref=1)
    return client, str(ack["conversation"])

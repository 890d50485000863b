"""The console as an installable app, in Chromium: the manifest and its icons, the service worker and its
scope, what it caches (never an API answer), and an alert pushed to it — shown as a notification in the
agent's language, whose click opens the conversation in the console.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Worker, expect

from tests.harness import PapoteServer

from .conftest import open_page
from .test_console import console_build, visitor_says
from .test_phone import PHONE, sign_in_on_phone

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["console_build"]  # a fixture, used by name

#: Generous: a service worker installs, activates and claims its page on a busy 2-core machine.
WAIT = 30.0


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def eventually(check: Any, what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        value = await check()
        if value:
            return value
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def worker_of(context: BrowserContext) -> Worker:
    async def found() -> Worker | None:
        return next((w for w in context.service_workers if w.url.endswith("/console/sw.js")), None)
    worker: Worker = await eventually(found, "the service worker")
    return worker


async def controlled(page: Page) -> None:
    """The page's service worker is active and controls it (the worker claims its pages on activation)."""
    await page.evaluate("navigator.serviceWorker.ready")
    await eventually(lambda: page.evaluate("!!navigator.serviceWorker.controller"), "the worker to control the page")


async def test_the_console_installs(papote_server: PapoteServer, console_build: str, context: BrowserContext) -> None:
    server = papote_server
    status, html, _ = server.http("GET", "/console")
    assert status == 200
    assert '<link rel="manifest" href="/console/manifest.webmanifest">' in html
    assert '<meta name="theme-color" content="#4f46e5">' in html
    status, manifest, headers = server.http("GET", "/console/manifest.webmanifest")
    assert status == 200 and headers["content-type"] == "application/manifest+json"
    manifest = json.loads(manifest) if isinstance(manifest, str) else manifest
    assert manifest["name"] == "Papote" and manifest["short_name"] == "Papote"
    assert manifest["start_url"] == "/console" and manifest["scope"] == "/console"
    assert manifest["display"] == "standalone" and manifest["theme_color"] == "#4f46e5"
    purposes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes
    for icon in manifest["icons"]:
        req = await context.request.get(server.base_url + icon["src"])
        assert req.status == 200 and req.headers["content-type"] == "image/png"
        side = int(icon["sizes"].split("x")[0])
        assert png_size(await req.body()) == (side, side)
    worker = await context.request.get(server.base_url + "/console/sw.js")
    assert worker.status == 200 and worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/console"
    assert worker.headers["cache-control"] == "no-cache"

    page = await open_page(context)
    await page.goto(server.base_url + "/console")
    await controlled(page)
    scope = await page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == server.base_url + "/console"
    # Chromium's own verdict: nothing of ours stands in the way of installing it (a test's browser
    # context is a private one, which Chromium never installs from: that reason is the browser's).
    cdp = await context.new_cdp_session(page)
    verdict = await eventually(lambda: cdp.send("Page.getInstallabilityErrors"), "the installability verdict")
    errors = [e for e in verdict["installabilityErrors"] if e["errorId"] != "in-incognito"]
    assert errors == [], verdict
    manifest_seen = await cdp.send("Page.getAppManifest")
    assert manifest_seen["url"] == server.base_url + "/console/manifest.webmanifest" and not manifest_seen["errors"]

    # Signed in and working through the worker, the caches hold this build's files and never an API answer.
    await sign_in_on_phone(page, server)
    await page.reload()
    await expect(page.locator("[data-queue=mine] .count")).to_be_visible()
    cached: list[str] = await page.evaluate("""async () => {
        const urls = [];
        for (const name of await caches.keys())
            for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
        return urls;
    }""")
    assert "/console/console.js" in cached and "/console/icon-192.png" in cached, cached
    assert not [u for u in cached if u.startswith(("/api", "/ws"))], cached


async def test_an_alert_shows_and_its_click_opens_the_conversation(
        papote_server: PapoteServer, console_build: str, browser: Browser) -> None:
    server = papote_server
    ctx = await browser.new_context(locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True)
    await ctx.grant_permissions(["notifications"], origin=server.base_url)
    client, conv = await visitor_says(server, "Can I return the lamp?", name="Ada")
    try:
        page = await open_page(ctx)
        await sign_in_on_phone(page, server)
        await controlled(page)
        worker = await worker_of(ctx)
        # A push as the push service delivers it to the worker (decrypted): the server's alert.
        cdp = await ctx.new_cdp_session(page)
        registrations: list[dict[str, Any]] = []
        cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
        await cdp.send("ServiceWorker.enable")
        async def registration_id() -> str | None:
            return next((r["registrationId"] for r in registrations
                         if r["scopeURL"] == server.base_url + "/console" and not r["isDeleted"]), None)
        reg = await eventually(registration_id, "the worker's registration")
        alert = {"alert": "visitor_reply", "conversation": conv, "site": "Test shop", "visitor": "Ada",
                 "url": f"/console#conversation={conv}", "ts": 1, "body": "Can I return the lamp?"}
        await cdp.send("ServiceWorker.deliverPushMessage",
                       {"origin": server.base_url, "registrationId": reg, "data": json.dumps(alert)})
        shown = await eventually(lambda: page.evaluate(
            """navigator.serviceWorker.ready.then(r => r.getNotifications())
               .then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag})))"""), "the notification")
        assert shown == [{"title": "Ada replied", "body": "Can I return the lamp?", "tag": conv}]

        # Its click: the worker finds the open console, which opens the conversation (a phone's chat screen).
        await expect(page.locator(".inbox")).to_have_attribute("data-screen", "list")
        await worker.evaluate("""() => self.registration.getNotifications().then(ns =>
            self.dispatchEvent(new NotificationEvent("notificationclick", {notification: ns[0]})))""")
        await expect(page.locator(".inbox")).to_have_attribute("data-screen", "chat")
        await expect(page.locator(f".chat[data-conversation='{conv}'] .msg.visitor")).to_contain_text("return the lamp")
        left = await page.evaluate("navigator.serviceWorker.ready.then(r => r.getNotifications()).then(n => n.length)")
        assert left == 0

        # In French when the agent chose French: the worker reads the console's choice.
        await page.get_by_role("navigation", name="Main").get_by_role("button", name="Account").click()
        await page.get_by_label("Interface language").first.select_option("fr")
        await eventually(lambda: page.evaluate(
            "caches.open('papote-console-prefs').then(c => c.match('/console/lang')).then(r => r && r.text())"
            ".then(t => t === 'fr')"), "the language kept for the worker")
        # About another conversation: opening the first one closes its alerts (`dismissAlerts`, by tag),
        # and on a busy machine that close can land after a new alert with the same tag is shown.
        other = {"conversation": "c_another_one", "url": "/console#conversation=c_another_one"}
        await cdp.send("ServiceWorker.deliverPushMessage", {"origin": server.base_url, "registrationId": reg,
                       "data": json.dumps({**alert, **other, "alert": "transfer", "by": "Bob", "body": None})})
        shown = await eventually(lambda: page.evaluate(
            "navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => n.title))"),
            "the French notification")
        assert shown == ["Bob vous a transféré une conversation"]
    finally:
        await client.close()
        await ctx.close()

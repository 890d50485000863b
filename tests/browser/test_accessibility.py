"""Accessibility of the widget and the console, held to axe-core in Chromium (issue 14 §5).

axe-core comes from npm (package.json's devDependencies); Playwright injects its `axe.min.js` into
each page and runs it on the whole document, the widget's open shadow root included. A critical or
serious violation fails the test; moderate and minor ones are printed. Every page is checked in the
light and in the dark colour scheme, since each has its own colours to get right; the widget also
at a phone's viewport, where its panel takes the whole screen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.harness import PapoteServer

from .agent import Agent
from .conftest import ROOT, open_page
from .test_console import console_build, row, sign_in, visitor_says

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

__all__ = ["console_build"]  # a fixture, used by name

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# What a page may not have; moderate and minor findings are reported, not failed on.
BLOCKING = ("critical", "serious")
SCHEMES = ["light", "dark"]
# The surfaces that tell which scheme is on: the widget's panel and the console's page.
PANEL_BACKGROUND = {"light": "rgb(255, 255, 255)", "dark": "rgb(28, 31, 38)"}
# A site colour white text is unreadable on (1.4:1).
PALE = "#ffd84d"
CONSOLE_BACKGROUND = {"light": "rgb(245, 246, 248)", "dark": "rgb(17, 19, 24)"}


@pytest.fixture(scope="session")
def axe_script() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is a devDependency)")
    return str(AXE)


@pytest.fixture(params=SCHEMES)
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(loop_scope="module")
async def scheme_context(scheme: str, browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800},
                                    color_scheme=scheme,  # type: ignore[arg-type]
                                    # The pages' CSP allows no inline script; axe is injected as one.
                                    bypass_csp=True)
    yield ctx
    await ctx.close()


async def audit(page: Page, axe: str, where: str) -> None:
    """Runs axe on the page as it is now; fails on critical or serious violations, prints the rest."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.add_script_tag(path=axe)
    results: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    counts: dict[str, int] = {}
    blocking: list[str] = []
    for violation in results["violations"]:
        impact = violation.get("impact") or "minor"
        counts[impact] = counts.get(impact, 0) + len(violation["nodes"])
        line = f"{impact} {violation['id']}: " + "; ".join(
            f"{node['target']} {node.get('failureSummary', '')!r}" for node in violation["nodes"])
        print(f"{where}: {line}")
        if impact in BLOCKING:
            blocking.append(line)
    print(f"{where}: " + ", ".join(f"{counts.get(i, 0)} {i}" for i in ("critical", "serious", "moderate", "minor")))
    assert not blocking, f"{where}: axe finds\n" + "\n".join(blocking)


async def test_demo_shop_with_the_widget_open(papote_server: PapoteServer, scheme: str,
                                              scheme_context: BrowserContext, agent: Agent, axe_script: str) -> None:
    page = await open_page(scheme_context)
    await page.goto(f"{papote_server.base_url}/demo?site={papote_server.site_key}")
    await page.get_by_role("button", name="Open chat").click()
    await page.get_by_role("textbox", name="Message").fill("Is the lamp dimmable?")
    await page.get_by_role("button", name="Send").click()
    message = await agent.visitor_message("Is the lamp dimmable?")
    await agent.reply(message["conversation"], "It is, with any standard dimmer.")
    # Both sides of the conversation are on screen, with their times and the visitor's message
    # state: the small print whose contrast axe checks.
    widget = page.locator("papote-widget")
    await expect(widget.locator(".bubble", has_text="It is, with any standard dimmer.")).to_be_visible()
    await expect(widget.locator(".msg.mine .state")).to_be_visible()
    # The panel follows the visitor's colour scheme.
    await expect(widget.locator(".panel")).to_have_css("background-color", PANEL_BACKGROUND[scheme])
    await audit(page, axe_script, "demo shop, widget open")

    # Quick replies under the agent's message, then the emoji picker open over the composer.
    await agent.request({"t": "send", "conversation": message["conversation"], "client_msg_id": "a-qr-0001",
                         "body": "Which room is it for?", "quick_replies": [{"label": "Living room"},
                                                                           {"label": "Bedroom"}]})
    await expect(widget.get_by_role("group", name="Suggested answers").get_by_role("button")).to_have_count(2)
    await widget.get_by_role("button", name="Emoji").press("Enter")
    await expect(widget.get_by_role("dialog", name="Emoji picker")).to_be_visible()
    await audit(page, axe_script, "demo shop, widget open, quick replies and the emoji picker")
    await page.keyboard.press("Escape")
    await expect(widget.get_by_role("dialog", name="Emoji picker")).to_be_hidden()

    # Closed by the agent: the rating box, its star buttons and the comment field.
    await agent.close_conversation(message["conversation"])
    await expect(page.get_by_role("group", name="How was this conversation?")).to_be_visible()
    await audit(page, axe_script, "demo shop, widget open, rating")

    # Continuing on another device: the code, the link, its QR code, the field and a refusal.
    await widget.get_by_role("button", name="Continue on another device").click()
    await expect(widget.get_by_role("img", name="QR code of the link")).to_be_visible()
    await widget.get_by_role("textbox", name="Code from your other device").fill("WRONG23456")
    await widget.get_by_role("button", name="Continue", exact=True).click()
    await expect(widget.get_by_role("alert")).to_be_visible()
    await audit(page, axe_script, "demo shop, widget open, another device")

    # Back later: the list of the visitor's conversations.
    await page.reload()
    await expect(widget.get_by_role("heading", name="Your conversations")).to_be_visible()
    await audit(page, axe_script, "demo shop, widget open, the visitor's conversations")


async def test_console_pages(papote_server: PapoteServer, scheme: str, scheme_context: BrowserContext,
                             console_build: str, axe_script: str) -> None:
    page = await open_page(scheme_context)
    await page.goto(papote_server.base_url + "/console")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # The console follows the agent's colour scheme.
    await expect(page.locator("html")).to_have_css("background-color", CONSOLE_BACKGROUND[scheme])
    await audit(page, axe_script, "console sign-in")

    await sign_in(page, papote_server)
    client, conversation = await visitor_says(papote_server, "Bonjour, is the lamp dimmable?", name="Ada")
    try:
        await page.locator("[data-queue=open]").click()
        await row(page, conversation).click()
        await expect(page.get_by_role("textbox", name="Reply")).to_be_visible()
        await expect(page.locator(".messages", has_text="is the lamp dimmable?")).to_be_visible()
        await audit(page, axe_script, "console inbox, conversation open")

        # The reply box's emoji picker and quick-reply editor, open.
        await page.get_by_role("button", name="Quick replies").click()
        await page.get_by_role("textbox", name="Suggested answer").fill("Yes")
        await page.get_by_role("textbox", name="Suggested answer").press("Enter")
        await page.get_by_role("button", name="Emoji").press("Enter")
        await expect(page.get_by_role("dialog", name="Emoji picker")).to_be_visible()
        await audit(page, axe_script, "console inbox, emoji picker and quick replies open")
        await page.keyboard.press("Escape")
        await expect(page.get_by_role("dialog", name="Emoji picker")).to_be_hidden()

        # The contact's channels and timeline, then the merge dialog with a search answered.
        await expect(page.get_by_role("list", name="Conversations on every channel")).to_be_visible()
        await page.get_by_role("button", name="Merge with another contact…").click()
        merge = page.get_by_role("dialog", name="Merge contacts")
        await merge.get_by_role("searchbox", name="Find a contact").fill("nobody-like-this")
        await expect(merge.get_by_role("list", name="Contacts found")).to_contain_text("No other contact matches.")
        await audit(page, axe_script, "console merge dialog")
        await page.keyboard.press("Escape")
        await expect(merge).to_be_hidden()

        await page.get_by_role("button", name="Site settings").click()
        await expect(page.get_by_role("heading", name="Site settings", level=1)).to_be_visible()
        await audit(page, axe_script, "console site settings")

        await page.get_by_role("button", name="Reports").click()
        await expect(page.get_by_role("heading", name="By agent")).to_be_visible()
        await audit(page, axe_script, "console reports")

        await page.get_by_role("button", name="Account").click()
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await audit(page, axe_script, "console account")

        await page.get_by_role("button", name="Keyboard shortcuts").click()
        await expect(page.get_by_role("dialog")).to_be_visible()
        await audit(page, axe_script, "console keyboard shortcuts")
    finally:
        await client.close()


async def test_the_sites_theme_and_a_pale_colour(papote_server: PapoteServer, scheme: str,
                                                 scheme_context: BrowserContext, agent: Agent,
                                                 axe_script: str) -> None:
    # The owner holds the opposite of the visitor's system, and picks a pale yellow: the panel follows
    # the site, not the system, and the text on the yellow turns black to stay readable.
    theme = "light" if scheme == "dark" else "dark"
    await agent.update_site(papote_server.site_key, {"theme": theme, "color": PALE})
    page = await open_page(scheme_context)
    await page.goto(f"{papote_server.base_url}/demo?site={papote_server.site_key}")
    launcher = page.get_by_role("button", name="Open chat")
    await expect(launcher).to_have_css("background-color", "rgb(255, 216, 77)")
    await expect(launcher).to_have_css("color", "rgb(0, 0, 0)")
    await launcher.click()
    await page.get_by_role("textbox", name="Message").fill("Do you ship to Belgium?")
    await page.get_by_role("button", name="Send").click()
    widget = page.locator("papote-widget")
    await expect(widget.locator(".msg.mine .state")).to_be_visible()
    await expect(widget.locator(".panel")).to_have_css("background-color", PANEL_BACKGROUND[theme])
    await expect(widget.locator(".msg.mine .bubble")).to_have_css("color", "rgb(0, 0, 0)")
    await audit(page, axe_script, f"demo shop, widget open, theme {theme}, colour {PALE}")


async def test_the_widget_at_a_phone_viewport(papote_server: PapoteServer, scheme: str, browser: Browser,
                                             axe_script: str) -> None:
    # On a phone the panel takes the whole screen and the launcher hides under it.
    ctx = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True, color_scheme=scheme,  # type: ignore[arg-type]
                                    bypass_csp=True)
    try:
        page = await open_page(ctx)
        await page.goto(f"{papote_server.base_url}/demo?site={papote_server.site_key}")
        await page.get_by_role("button", name="Open chat").click()
        await page.get_by_role("textbox", name="Message").fill("Can I pay on delivery?")
        await page.get_by_role("button", name="Send").click()
        widget = page.locator("papote-widget")
        await expect(widget.locator(".msg.mine .state")).to_be_visible()
        await expect(widget.locator(".panel")).to_have_css("background-color", PANEL_BACKGROUND[scheme])
        await audit(page, axe_script, "demo shop on a phone, widget open")
    finally:
        await ctx.close()


async def test_the_console_at_a_phone_viewport(papote_server: PapoteServer, scheme: str, browser: Browser,
                                              console_build: str, axe_script: str) -> None:
    # One screen at a time there (phone.css): each is audited, with the bottom bar and the back buttons.
    ctx = await browser.new_context(locale="en-US", viewport={"width": 375, "height": 667}, is_mobile=True,
                                    has_touch=True, color_scheme=scheme,  # type: ignore[arg-type]
                                    bypass_csp=True)
    client, conversation = await visitor_says(papote_server, "Bonjour, is the lamp dimmable?", name="Ada")
    try:
        page = await open_page(ctx)
        await page.goto(papote_server.base_url + "/console")
        await expect(page.locator("html")).to_have_css("background-color", CONSOLE_BACKGROUND[scheme])
        await audit(page, axe_script, "console on a phone, sign-in")
        await page.get_by_label("Email").fill(papote_server.agent_email)
        await page.get_by_label("Password").fill(papote_server.agent_password)
        await page.get_by_role("button", name="Sign in").click()
        await page.locator("[data-queue=open]").click()
        await expect(row(page, conversation)).to_be_visible()
        await audit(page, axe_script, "console on a phone, conversations")
        await row(page, conversation).click()
        await expect(page.locator(".messages", has_text="is the lamp dimmable?")).to_be_visible()
        await audit(page, axe_script, "console on a phone, conversation")
        await page.get_by_role("button", name="Visitor details").click()
        await expect(page.locator(".context .visitor-name")).to_have_text("Ada")
        await audit(page, axe_script, "console on a phone, visitor")
        nav = page.get_by_role("navigation", name="Main")
        await nav.get_by_role("button", name="Site settings").click()
        await expect(page.get_by_role("heading", name="Site settings", level=1)).to_be_visible()
        await audit(page, axe_script, "console on a phone, site settings")
        await nav.get_by_role("button", name="Reports").click()
        await expect(page.get_by_role("heading", name="By agent")).to_be_visible()
        await audit(page, axe_script, "console on a phone, reports")
        await nav.get_by_role("button", name="Account").click()
        await expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
        await audit(page, axe_script, "console on a phone, account and notifications")
    finally:
        await client.close()
        await ctx.close()

"""Trust in Chromium: a page of a sibling origin cannot make a signed-in browser write (CSRF), and on a
shared browser the next person identified does not inherit the previous one's conversations."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.harness import free_port

from .agent import Agent
from .test_widget import DELIVERED, demo_url, open_chat, own, said, write

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture
def sibling_origin(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static web server on another port of the same host: another origin, the same *site* (so the
    SameSite=Strict cookie rides along on its requests)."""
    root = tmp_path / "sibling"
    root.mkdir()
    port = free_port()
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", root
    httpd.shutdown()
    httpd.server_close()


async def test_a_sibling_origin_page_cannot_write_with_the_session_cookie(
    papote_server: Any, context: BrowserContext, page: Page, sibling_origin: tuple[str, Path]
) -> None:
    server = papote_server
    signed_in = await context.request.post(f"{server.base_url}/api/login",
                                           data={"email": server.agent_email, "password": server.agent_password})
    assert signed_in.ok
    before = (await (await context.request.get(f"{server.base_url}/api/sites/{server.site_key}")).json())["secrets"]
    origin, root = sibling_origin
    targets = [f"/api/sites/{server.site_key}/secrets/rotate", "/api/logout"]
    # The attacker's page fires "simple" requests: POST without a body or with a text/plain one,
    # in no-cors mode (the answer is opaque, but the request goes out with the cookie).
    script = "".join(
        f'await fetch("{server.base_url}{path}", {{method: "POST", mode: "no-cors", credentials: "include"}});'
        f'await fetch("{server.base_url}{path}", {{method: "POST", mode: "no-cors", credentials: "include",'
        f' headers: {{"content-type": "text/plain"}}, body: "{{}}"}});'
        for path in targets)
    (root / "evil.html").write_text(f"<!doctype html><script>(async () => {{ {script} document.title = 'done'; }})()"
                                    "</script>")
    await page.goto(f"{origin}/evil.html")
    await expect(page).to_have_title("done")
    after = await context.request.get(f"{server.base_url}/api/sites/{server.site_key}")
    assert after.ok, "the session survived (logout was refused)"
    assert (await after.json())["secrets"] == before, "the identity secret was not rotated"


async def test_the_next_person_on_a_shared_browser_does_not_inherit_the_conversation(
    papote_server: Any, page: Page, agent: Agent
) -> None:
    server = papote_server

    def identify(user: str) -> str:
        digest = hmac.new(server.site_secret.encode(), user.encode(), hashlib.sha256).hexdigest()
        return f"Papote('identify', {{user_id: '{user}', hash: '{digest}'}})"

    await page.goto(demo_url(server))
    await page.evaluate(identify("alice"))
    await open_chat(page)
    await write(page, "Alice: my address is 3 rue des Lilas")
    await expect(own(page, "Alice: my address")).to_have_attribute("data-state", DELIVERED)
    message = await agent.visitor_message("Alice: my address is 3 rue des Lilas")
    token_key = f"papote:{server.site_key}:token"
    alice_token = await page.evaluate(f"localStorage.getItem('{token_key}')")
    assert alice_token

    # Bob signs in to the shop on the same browser; the shop forgot Papote('reset').
    await page.evaluate(identify("bob"))
    await expect(said(page, "Alice: my address")).to_have_count(0)
    bob_token = await page.evaluate(f"localStorage.getItem('{token_key}')")
    assert bob_token and bob_token != alice_token
    response = await agent.http.get(f"/api/conversations/{message['conversation']}")
    assert response.json()["visitor"]["user_id"] == "alice"
    # Reloading as Bob still shows nothing of Alice's.
    await page.reload()
    await page.evaluate(identify("bob"))
    box = page.get_by_role("textbox", name="Message")
    await expect(page.get_by_role("button", name="Open chat").or_(box).first).to_be_visible()
    if not await box.is_visible():  # the panel may come back open after a reload
        await open_chat(page)
    await write(page, "Bob here")
    await expect(own(page, "Bob here")).to_have_attribute("data-state", DELIVERED)
    await expect(said(page, "Alice: my address")).to_have_count(0)

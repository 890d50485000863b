"""Browser fixtures: a fresh widget build, Chromium through Playwright, and a signed-in agent.

The server comes from the shared `papote_server` fixture (tests/conftest.py): a real uvicorn
process on a free loopback port with a temporary database, here in demo mode so that it serves the
demo shop at /demo.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.harness import PapoteServer, close_open_clients, serve

from .agent import Agent

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PAPOTE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def papote_server(tmp_path: Path, server_backend: str, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    """The shared server fixture, in demo mode: the demo shop page (/demo) is served only then."""
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_DEMO": "1"}, backend=server_backend)
    yield from serve(server, request)


@pytest.fixture(scope="session")
def widget_build(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Builds loader.js and panel.js once per run; the build itself fails above the size budgets."""
    return build_once(tmp_path_factory, "widget/build.mjs")


def build_once(tmp_path_factory: pytest.TempPathFactory, script: str) -> str:
    """Run a build script (`widget/build.mjs`, `agent_console/build.mjs`) once per run; what it printed.

    With several workers (pytest-xdist) the first one builds, under a lock, and the others read what it
    printed: a second build rewriting the files while another worker's server sends them would serve
    half a file."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return _build(script)
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, common to its workers
    printed = shared / (script.replace("/", "-") + ".txt")
    with open(shared / "builds.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not printed.exists():
            printed.write_text(_build(script))
        return printed.read_text()


def _build(script: str) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to build the widget and console (npm ci, then npm run build)")
    if not (ROOT / "node_modules" / "esbuild").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True, timeout=300)
    done = subprocess.run([node, script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


# One Chromium per test module, on the module's event loop (every browser module and fixture says
# `loop_scope="module"`): starting Playwright's driver and Chromium took 2-4 s per test, a third of a
# browser test's setup. Each test still gets a fresh context (`context`, or one of its own): cookies,
# storage, service workers and permissions are per context, so tests do not meet.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(widget_build: str, chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    yield ctx
    await ctx.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(context: BrowserContext) -> Page:
    return await open_page(context)


async def open_page(context: BrowserContext) -> Page:
    page = await context.new_page()
    page.set_default_timeout(10_000)
    # Widget errors show up in the test output instead of vanishing.
    page.on("pageerror", lambda error: print(f"page error: {error}"))
    return page


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def close_clients() -> AsyncIterator[None]:
    """tests/conftest.py's `close_clients` on the module's loop, where this directory's tests open them."""
    yield
    await close_open_clients()


@pytest_asyncio.fixture(loop_scope="module")
async def agent(papote_server: Any) -> AsyncIterator[Agent]:
    signed_in = await Agent.sign_in(papote_server.base_url, papote_server.agent_email, papote_server.agent_password)
    await signed_in.connect()
    yield signed_in
    await signed_in.aclose()

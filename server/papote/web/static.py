"""Files served to browsers: the widget bundles, the agent console, and the demo shop page.

The bundles are built by `make build` (esbuild) into `papote/static/build/`; the server only reads them.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from papote.sites import settings_of, widget_storage
from papote.snippet import render_snippet

STATIC = Path(__file__).resolve().parent.parent / "static"
BUILD = STATIC / "build"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+\.(js|css|map|svg|png|woff2|mp3)")
#: The loader is fetched on every page view of every site: short cache so fixes roll out within minutes.
WIDGET_MAX_AGE = 300
#: A changed colour or icon reaches every visitor within a minute.
SITE_LOOK_MAX_AGE = 60
#: The console's policy: our own scripts only, no framing, sockets to ourselves.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


async def healthz(request: Request) -> Response:
    papote = request.app.state.papote
    return JSONResponse({"ok": True, "epoch": papote.epoch, "connections": len(papote.live_sessions),
                         "node": papote.bus.node, "bus": papote.bus.stats(),
                         "cluster": papote.cluster.stats(), "push": papote.alerts.stats(),
                         "store": papote.store.commit_stats(),
                         "socket_writes": request.app.turn_writes.stats()})


def _asset(folder: Path, name: str, max_age: int) -> Response:
    if not _SAFE_NAME.fullmatch(name):
        return Response("not found", status_code=404)
    path = folder / name
    if not path.is_file():
        return Response("not found", status_code=404)
    return FileResponse(path, headers={"cache-control": f"public, max-age={max_age}",
                                       "access-control-allow-origin": "*",
                                       "x-content-type-options": "nosniff"})


async def widget_asset(request: Request) -> Response:
    return _asset(BUILD / "widget", request.path_params["name"], WIDGET_MAX_AGE)


async def widget_site(request: Request) -> Response:
    """The look of a site's bubble, fetched by the loader at page load (before any socket): colour,
    side, launcher icon, locale, storage and consent modes, colour scheme. Public by nature (it is in
    every page's widget)."""
    papote = request.app.state.papote
    site = await papote.site_by_key(request.path_params["key"])
    if site is None:
        return JSONResponse({"error": {"code": "not_found", "message": "no such site"}}, status_code=404,
                            headers={"access-control-allow-origin": "*"})
    s = settings_of(site)
    look = {k: s[k] for k in ("color", "position", "launcher_icon", "locale", "consent_required", "theme")}
    look["storage"] = widget_storage(s)
    return JSONResponse(look, headers={"cache-control": f"public, max-age={SITE_LOOK_MAX_AGE}",
                                       "access-control-allow-origin": "*"})


async def console_asset(request: Request) -> Response:
    return _asset(BUILD / "console", request.path_params["name"], 60)


async def console_manifest(request: Request) -> Response:
    """The web app manifest: what makes the console installable (name, icons, start URL, standalone)."""
    path = BUILD / "console" / "manifest.webmanifest"
    if not path.is_file():
        return Response("not found", status_code=404)
    return FileResponse(path, media_type="application/manifest+json",
                        headers={"cache-control": "no-cache", "x-content-type-options": "nosniff"})


async def console_worker(request: Request) -> Response:
    """The console's service worker. It lives under /console/ but controls /console itself (the page has
    no trailing slash), which the `Service-Worker-Allowed` header permits; `no-cache` so a new build's
    worker is found at the next visit (browsers also bypass caches for it after a day)."""
    path = BUILD / "console" / "sw.js"
    if not path.is_file():
        return Response("not found", status_code=404)
    return FileResponse(path, media_type="text/javascript", headers={
        "cache-control": "no-cache", "service-worker-allowed": "/console", "x-content-type-options": "nosniff"})


async def console_page(request: Request) -> Response:
    index = BUILD / "console" / "index.html"
    if not index.is_file():
        return HTMLResponse("<h1>The agent console is not built</h1><p>Run <code>make build</code>.</p>",
                            status_code=503)
    return HTMLResponse(index.read_text(), headers={
        "content-security-policy": CONSOLE_CSP, "x-frame-options": "DENY",
        "referrer-policy": "same-origin", "cache-control": "no-cache"})


def demo_csp(nonce: str) -> str:
    """The demo shop's policy: its own inline script and the snippet by nonce, the widget from this
    server, sockets to this server; the widget's Shadow DOM styles are inline."""
    return (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' https: data: blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    )


async def demo_page(request: Request) -> Response:
    """The demo shop of `make run`. Served only when `PAPOTE_DEMO` is on: on a real server it would be a
    page of our origin that embeds any site's widget by its key."""
    papote = request.app.state.papote
    if not papote.config.demo:
        return Response("not found", status_code=404)
    key = request.query_params.get("site") or getattr(papote, "demo_site_key", None)
    site = await papote.site_by_key(key) if key else None
    if site is None:
        return HTMLResponse("<h1>No demo site</h1><p>Start with <code>make run</code>, or pass "
                            "<code>?site=KEY</code>.</p>", status_code=404)
    nonce = secrets.token_urlsafe(16)
    page = (STATIC / "demo" / "shop.html").read_text()
    page = page.replace("<!--PAPOTE_SNIPPET-->", render_snippet(site.key, papote.config.base_url))
    page = page.replace("<script>", f'<script nonce="{nonce}">')
    return HTMLResponse(page, headers={"content-security-policy": demo_csp(nonce), "x-frame-options": "DENY",
                                       "referrer-policy": "same-origin", "cache-control": "no-store",
                                       "x-content-type-options": "nosniff"})


async def root(request: Request) -> Response:
    return RedirectResponse("/console", status_code=302)


def routes() -> list[Route]:
    return [
        Route("/", root),
        Route("/widget/site/{key}", widget_site),
        Route("/widget/{name}", widget_asset),
        Route("/console", console_page),
        Route("/console/manifest.webmanifest", console_manifest),
        Route("/console/sw.js", console_worker),
        Route("/console/{name}", console_asset),
        Route("/demo", demo_page),
    ]

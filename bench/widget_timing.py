"""Row 8's browser half: time from navigation start to a visible chat bubble, in Chromium.

bench/run.py starts a Papote server and a host page (the demo shop with the bench site's snippet,
on its own origin, as a merchant's page would be), then runs this script pinned to the load
generator's core; Chromium and Playwright's driver inherit the pinning.

* ``cold``  a fresh browser context per load: empty HTTP cache, new connections, new renderer
  (in a window that has already shown about:blank, see COLD_SETTLE_SECS).
* ``warm``  one context, reloaded: the loader (max-age 300 s) and the site look come from cache.

Every time is read inside the page, relative to ``performance.timeOrigin`` (navigation start), so
the driver's polling never enters a figure. The bubble counts as visible in the first frame whose
rendering has it attached, non-zero in size and inside the viewport: a requestAnimationFrame check,
then a message posted from it that runs once that frame has been painted.

    python bench/widget_timing.py --url URL [--loads 10] [--chromium /usr/bin/chromium] → JSON
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from playwright.sync_api import Browser, CDPSession, Page, ViewportSize, sync_playwright

# The browser tests' flags (tests/browser/conftest.py): no sandbox in a container, software
# rendering, and none of the browser's own background traffic inside the measurement.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}  # the browser tests' desktop size; the bubble sits bottom right
# A load that has not shown the bubble after this long is a failure, not a slow sample.
LOAD_TIMEOUT_MS = 10_000
# A new window's first navigation makes this Chromium load its omnibox popup (a WebUI renderer,
# ~300 ms of CPU on the shared core) during the page load. A visitor's browser did that when its
# window opened, so a cold load starts from a window that has shown about:blank and settled; its
# HTTP cache is still empty (about:blank fetches nothing).
COLD_SETTLE_SECS = 1.0

# Installed before any page script. The loader appends <papote-widget> (its shadow root already
# holding the .launcher button) to <body>; the observer sees it at the end of the loader's task.
PROBE = """
(() => {
  const t = (window.__papoteBench = {});
  const mark = (name) => { if (!(name in t)) t[name] = performance.now(); };
  function visible(el) {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 &&
      r.top < innerHeight && r.left < innerWidth && getComputedStyle(el).visibility !== "hidden";
  }
  function frame(button) {
    requestAnimationFrame(() => {
      if (!button.isConnected || !visible(button)) return frame(button);
      mark("frame");  // this frame's rendering, which runs right after this callback, draws it
      const channel = new MessageChannel();
      channel.port1.onmessage = () => mark("painted");
      channel.port2.postMessage(null);
    });
  }
  new MutationObserver((records, observer) => {
    const host = document.querySelector("papote-widget");
    const button = host && host.shadowRoot && host.shadowRoot.querySelector(".launcher");
    if (!button) return;
    observer.disconnect();
    mark("attached");
    frame(button);
  }).observe(document, { childList: true, subtree: true });
})();
"""

READY = (
    "() => window.__papoteBench && window.__papoteBench.painted !== undefined"
    " && performance.getEntriesByType('navigation')[0].loadEventEnd > 0"
)

COLLECT = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const resource = (part) => performance.getEntriesByType("resource").find((e) => e.name.includes(part));
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  const loader = resource("/widget/loader.js");
  const look = resource("/widget/site/");
  // Cross-origin entries without Timing-Allow-Origin keep only start and end (transferSize is 0
  // whether cached or not): the cache is read from the DevTools protocol instead, see CacheWatch.
  return {
    ...window.__papoteBench,
    html: nav.responseEnd,
    dcl: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd,
    fcp: fcp ? fcp.startTime : null,
    loader_start: loader ? loader.startTime : null,
    loader_end: loader ? loader.responseEnd : null,
    look_end: look ? look.responseEnd : null,
    panel_fetched: Boolean(resource("/widget/panel.js")),
  };
}
"""


class CacheWatch:
    """Whether the page's loader.js came from the HTTP cache (disk or memory), per load."""

    def __init__(self, page: Page) -> None:
        self.urls: dict[str, str] = {}
        self.cached: set[str] = set()
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        self.cdp.on("Network.requestWillBeSent", lambda e: self.urls.update({e["requestId"]: e["request"]["url"]}))
        self.cdp.on("Network.requestServedFromCache", lambda e: self.cached.add(e["requestId"]))
        self.cdp.on("Network.responseReceived", self.response)
        self.cdp.send("Network.enable")

    def response(self, event: dict[str, Any]) -> None:
        if event["response"].get("fromDiskCache"):
            self.cached.add(event["requestId"])

    def reset(self) -> None:
        self.urls.clear()
        self.cached.clear()

    def loader_cached(self) -> bool | None:
        ids = [i for i, url in self.urls.items() if "/widget/loader.js" in url]
        return any(i in self.cached for i in ids) if ids else None


def one_load(page: Page, watch: CacheWatch, url: str | None) -> dict[str, Any]:
    """Navigate to `url` (or reload), wait until the bubble is painted and the page loaded."""
    watch.reset()
    if url is None:
        page.reload(wait_until="load", timeout=LOAD_TIMEOUT_MS)
    else:
        page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(READY, timeout=LOAD_TIMEOUT_MS)
    sample: dict[str, Any] = page.evaluate(COLLECT)
    sample["loader_cached"] = watch.loader_cached()
    return sample


def cold(browser: Browser, url: str, loads: int) -> list[dict[str, Any]]:
    samples = []
    for _ in range(loads):
        context = browser.new_context(viewport=VIEWPORT, locale="en-US")
        try:
            context.add_init_script(PROBE)
            page = context.new_page()
            page.goto("about:blank")
            time.sleep(COLD_SETTLE_SECS)
            samples.append(one_load(page, CacheWatch(page), url))
        finally:
            context.close()
    return samples


def warm(browser: Browser, url: str, loads: int) -> list[dict[str, Any]]:
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    try:
        context.add_init_script(PROBE)
        page = context.new_page()
        watch = CacheWatch(page)
        one_load(page, watch, url)  # fills the cache; not a warm sample
        return [one_load(page, watch, None) for _ in range(loads)]
    finally:
        context.close()


def summary(values: list[float]) -> dict[str, Any]:
    # With 10 samples p90 is an interpolation between the two slowest: a figure, not a tail.
    p90 = statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]
    return {"median_ms": statistics.median(values), "p90_ms": p90, "all_ms": [round(v, 1) for v in values]}


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"loads": len(samples)}
    for key in ("painted", "frame", "attached", "loader_start", "loader_end", "look_end", "html", "fcp", "dcl", "load"):
        values = [float(s[key]) for s in samples if s.get(key) is not None]
        if values:
            out[key] = summary(values)
    out["loader_cached"] = sum(1 for s in samples if s.get("loader_cached"))
    out["panel_fetched"] = sum(1 for s in samples if s.get("panel_fetched"))
    out["bubble_before_load"] = sum(1 for s in samples if s["painted"] <= s["load"])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the host page holding the snippet")
    parser.add_argument("--loads", type=int, default=10, help="timed loads per mode")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            # One untimed load first: the browser's first navigation pays for its own start-up
            # (network service, first renderer), which is no part of a visitor's page view.
            cold(browser, args.url, 1)
            result = {
                "chromium": browser.version,
                "cold": summarise(cold(browser, args.url, args.loads)),
                "warm": summarise(warm(browser, args.url, args.loads)),
            }
        finally:
            browser.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

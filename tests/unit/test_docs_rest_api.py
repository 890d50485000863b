"""docs/rest-api.md lists every REST route, and only those (a client is written from docs/ alone)."""

from __future__ import annotations

import re

from papote.web.api import all_endpoints
from tests.harness import ROOT


def test_the_route_table_is_the_endpoint_table() -> None:
    text = (ROOT / "docs" / "rest-api.md").read_text()
    documented = set(re.findall(r"^\| `(GET|POST|PATCH|PUT|DELETE) (/api/[^`]*)` \|", text, re.MULTILINE))
    served = {(ep.method, ep.path) for ep in all_endpoints()}
    assert documented == served, f"missing: {served - documented}; gone: {documented - served}"

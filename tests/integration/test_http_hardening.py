"""HTTP defences through a real server: cross-site writes (CSRF), hostile JSON, the CSV file name, the
demo page, and credentials kept out of the log at every level."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.harness import PapoteServer, agent, new_msg_id, visitor

pytestmark = pytest.mark.asyncio


def raw(server: PapoteServer, method: str, path: str, data: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    """A request with exactly these headers (the harness's `http` adds the CSRF header itself)."""
    import json

    req = urllib.request.Request(server.base_url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            body, status, hdrs = r.read(), r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        with e:
            body, status, hdrs = e.read(), e.code, dict(e.headers)
    kind = hdrs.get("content-type", hdrs.get("Content-Type", ""))
    return status, json.loads(body) if "json" in kind else body.decode(errors="replace"), hdrs


def secrets_of(server: PapoteServer, cookie: str) -> list[str]:
    status, body, _ = server.http("GET", f"/api/sites/{server.site_key}", cookie=cookie)
    assert status == 200
    return list(body["secrets"])


async def test_a_body_less_cookie_write_needs_json_or_the_custom_header(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    rotate = f"/api/sites/{server.site_key}/secrets/rotate"
    before = secrets_of(server, cookie)
    # What a page of a sibling origin can send with the cookie: a "simple" POST, no body, no type.
    status, body, _ = raw(server, "POST", rotate, headers={"cookie": cookie})
    assert status == 400 and body["error"]["code"] == "bad_frame"
    status, body, _ = raw(server, "POST", rotate, b"x=1", {"cookie": cookie,
                                                           "content-type": "application/x-www-form-urlencoded"})
    assert status == 400
    assert secrets_of(server, cookie) == before
    # What our clients send: JSON (even empty), or the header when there is no body.
    status, _, _ = raw(server, "POST", rotate, headers={"cookie": cookie, "content-type": "application/json"})
    assert status == 200
    status, _, _ = raw(server, "POST", rotate, headers={"cookie": cookie, "x-papote-request": "1"})
    assert status == 200
    assert secrets_of(server, cookie) != before


async def test_csrf_rules_cover_close_reopen_logout_and_spare_api_keys(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hi"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    for path in (f"/api/conversations/{cid}/close", f"/api/conversations/{cid}/reopen", "/api/logout"):
        status, body, _ = raw(server, "POST", path, headers={"cookie": cookie})
        assert status == 400, path
    status, body, _ = server.http("GET", f"/api/conversations/{cid}", cookie=cookie)
    assert status == 200 and body["status"] == "open"  # nothing was closed, and the session still works
    status, key, _ = server.http("POST", f"/api/sites/{server.site_key}/keys", {"name": "ci"}, cookie=cookie)
    assert status == 201
    # An API key is no ambient credential: a server-to-server call needs no extra header.
    status, body, _ = raw(server, "POST", f"/api/conversations/{cid}/close",
                          headers={"authorization": f"Bearer {key['key']}"})
    assert status == 200 and body["status"] == "closed"


async def test_deeply_nested_json_is_a_coded_400(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    json_headers = {"cookie": cookie, "content-type": "application/json"}
    for payload in (b"[" * 100_000 + b"]" * 100_000,
                    b'{"name": "x", "settings": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}"):
        status, body, _ = raw(server, "PATCH", f"/api/sites/{server.site_key}", payload, json_headers)
        assert status == 400, body
        assert body["error"]["code"] == "bad_frame" and "nested" in body["error"]["message"]
    status, _, _ = server.http("GET", "/api/me", cookie=cookie)
    assert status == 200
    assert "Traceback" not in server.logs()


async def test_a_nul_in_a_body_a_path_or_a_query_is_a_coded_400(papote_server: PapoteServer) -> None:
    """No text with U+0000 reaches a store (PostgreSQL cannot keep it): one answer on every backend."""
    server = papote_server
    cookie = server.login()
    json_headers = {"cookie": cookie, "content-type": "application/json"}
    for method, path, payload in (
        ("PATCH", f"/api/sites/{server.site_key}", b'{"name": "Shop\\u0000"}'),
        ("GET", "/api/conversations/c_abc%00def", None),
        ("GET", "/api/conversations?q=late%00", None),
    ):
        status, body, _ = raw(server, method, path, payload, json_headers)
        assert status == 400, (path, body)
        assert body["error"]["code"] == "bad_field", (path, body)
    status, site, _ = server.http("GET", f"/api/sites/{server.site_key}", cookie=cookie)
    assert status == 200 and "\x00" not in site["name"]
    assert "Traceback" not in server.logs()


async def test_names_and_texts_people_read_may_not_be_blank(papote_server: PapoteServer) -> None:
    """Spaces alone were stored as a site's, an agent's or a key's name, a label, a canned reply:
    each then showed as nothing at all. Each is a coded 400 now, and nothing is stored."""
    server = papote_server
    cookie = server.login()
    site = f"/api/sites/{server.site_key}"
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Hi"})
    conversation = (await v.expect("ack"))["conversation"]
    blank = "  \t "
    for method, path, payload in (
        ("PATCH", site, {"name": blank}),
        ("POST", "/api/sites", {"name": blank}),
        ("PATCH", "/api/me", {"name": blank}),
        ("POST", f"{site}/keys", {"name": blank}),
        ("POST", f"{site}/canned", {"shortcut": "hello", "body": blank}),
        ("POST", f"{site}/views", {"name": blank}),
        ("POST", f"/api/conversations/{conversation}/label", {"add": [blank]}),
        ("POST", f"{site}/channels", {"kind": "telegram", "name": blank, "settings": {
            "bot_token": "123456:" + "A" * 30, "secret_token": "s3cret"}}),
        ("PATCH", site, {"settings": {"rules": [{"id": "r1", "trigger": "time_on_page", "seconds": 5,
                                                 "message": blank}]}}),
    ):
        status, body, _ = server.http(method, path, payload, cookie=cookie)
        assert (status, body["error"]["code"]) == (400, "bad_field"), (method, path, body)
        assert "'settings.bot_token'" not in body["error"]["message"], body  # refused for the blank
    a = await agent(server, cookie)
    await a.send({"t": "label", "ref": 2, "conversation": conversation, "add": [blank]})
    assert (await a.expect("error", ref=2))["code"] == "bad_field"
    _, found, _ = server.http("GET", f"/api/conversations/{conversation}", cookie=cookie)
    assert found["labels"] == []
    assert server.sql("SELECT count(*) FROM canned_responses")[0][0] == 0
    await a.close()
    await v.close()


async def test_the_csv_export_agent_parameter_cannot_shape_the_header(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    path = f"/api/sites/{server.site_key}/reports/csv"
    evil = urllib.parse.quote('x"; filename="evil.html')
    status, body, headers = raw(server, "GET", f"{path}?agent={evil}", headers={"cookie": cookie})
    assert status == 400 and body["error"]["code"] == "bad_field"
    me = server.http("GET", "/api/me", cookie=cookie)[1]["agent"]["id"]
    status, _, headers = raw(server, "GET", f"{path}?agent={me}", headers={"cookie": cookie})
    assert status == 200
    disposition = headers.get("content-disposition") or headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="[A-Za-z0-9_.-]+\.csv"', disposition), disposition


async def test_the_demo_page_is_served_only_in_demo_mode_and_with_a_csp(papote_server: PapoteServer,
                                                                       tmp_path: Path) -> None:
    status, _, _ = raw(papote_server, "GET", f"/demo?site={papote_server.site_key}")
    assert status == 404
    demo = PapoteServer(tmp_path / "demo", env_extra={"PAPOTE_DEMO": "1"})
    demo.workdir.mkdir()
    demo.init()
    demo.start()
    try:
        status, page, headers = raw(demo, "GET", f"/demo?site={demo.site_key}")
        assert status == 200
        csp = headers.get("content-security-policy") or headers["Content-Security-Policy"]
        nonce = re.search(r"'nonce-([A-Za-z0-9_-]+)'", csp)
        assert nonce is not None and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        scripts = re.findall(r"<script[^>]*>", page)
        assert scripts and all(f'nonce="{nonce.group(1)}"' in s for s in scripts)
    finally:
        demo.stop()


async def test_credentials_never_reach_the_log_even_at_debug(tmp_path: Path) -> None:
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_LOG_LEVEL": "debug"})
    server.init()
    server.start()
    try:
        cookie = server.login()
        staff = await agent(server, cookie)
        v = await visitor(server)
        status, key, _ = server.http("POST", f"/api/sites/{server.site_key}/keys", {"name": "ci"}, cookie=cookie)
        assert status == 201
        raw(server, "GET", "/api/sites", headers={"authorization": f"Bearer {key['key']}"})
        await staff.close()
        await v.close()
    finally:
        server.stop()
    log = server.logs()
    assert "< cookie: [redacted]" in log, "the handshake headers are logged at debug, redacted"
    session = cookie.split("=", 1)[1]
    for secret in (session, key["key"], v.welcome["token"], server.site_secret):
        assert secret not in log
    assert not re.search(r"(ps|papi|vt|inv)_[A-Za-z0-9_-]{16,}", log)


async def test_the_openapi_document_says_what_a_write_must_carry(papote_server: PapoteServer) -> None:
    status, doc, _ = papote_server.http("GET", "/api/openapi.json")
    assert status == 200 and "X-Papote-Request" in doc["info"]["description"]
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/"):
            continue  # a provider's webhook (/channels/…): signed on its raw body, no cookie, no CSRF to guard
        for method, op in operations.items():
            headers = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
            assert ("X-Papote-Request" in headers) == (method != "get"), f"{method} {path}"

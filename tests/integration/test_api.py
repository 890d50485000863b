"""The REST API: OpenAPI, API keys, conversation listing and search, site settings, canned responses."""

from __future__ import annotations

import pytest

from tests.harness import PapoteServer, new_msg_id, visitor

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


async def test_openapi_lists_every_route(papote_server: PapoteServer) -> None:
    status, doc, _ = papote_server.http("GET", "/api/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    assert "/api/conversations/{cid}/messages" in doc["paths"]
    assert set(doc["paths"]["/api/conversations/{cid}/messages"]) == {"get", "post"}


async def test_api_key_scoped_to_its_site(papote_server: PapoteServer) -> None:
    owner = papote_server.login()
    v = await visitor(papote_server)
    await v.send({"t": "set", "ref": 1, "name": "Marie Curie", "email": "marie@example.test",
                  "attributes": {"plan": "pro", "cart_value": 49}})
    await v.expect("ok", ref=1)
    await v.send({"t": "send", "ref": 2, "conversation": None, "client_msg_id": new_msg_id(),
                  "body": "My parcel to Lyon is late"})
    cid = (await v.expect("ack", ref=2))["conversation"]
    status, created, _ = papote_server.http("POST", f"/api/sites/{papote_server.site_key}/keys",
                                            {"name": "CRM"}, cookie=owner)
    assert status == 201
    bearer = {"authorization": f"Bearer {created['key']}"}
    status, listing, _ = papote_server.http("GET", "/api/conversations?q=Lyon", headers=bearer)
    assert status == 200 and [c["id"] for c in listing["conversations"]] == [cid]
    status, listing, _ = papote_server.http("GET", "/api/conversations?q=curie", headers=bearer)
    assert [c["id"] for c in listing["conversations"]] == [cid]
    status, listing, _ = papote_server.http("GET", "/api/conversations?q=nothing-like-it", headers=bearer)
    assert listing["conversations"] == []
    status, ack, _ = papote_server.http("POST", f"/api/conversations/{cid}/messages",
                                        {"body": "Sorry! It ships today."}, headers=bearer)
    assert status == 201 and ack["seq"] >= 2
    reply = await v.expect("message", body="Sorry! It ships today.")
    assert reply["author"]["kind"] == "agent"
    status, text, _ = papote_server.http("GET", f"/api/conversations/{cid}/transcript", headers=bearer)
    assert status == 200 and "My parcel to Lyon is late" in text and "ships today" in text
    status, detail, _ = papote_server.http("GET", f"/api/conversations/{cid}", headers=bearer)
    assert detail["visitor"]["attributes"] == {"plan": "pro", "cart_value": 49}
    # API keys cannot manage the site.
    status, body, _ = papote_server.http("GET", f"/api/sites/{papote_server.site_key}/keys", headers=bearer)
    assert status == 401
    status, body, _ = papote_server.http("GET", "/api/conversations", headers={"authorization": "Bearer nope"})
    assert status == 401 and body["error"]["code"] == "unauthorized"


async def test_site_settings_are_validated(papote_server: PapoteServer) -> None:
    owner = papote_server.login()
    path = f"/api/sites/{papote_server.site_key}"
    status, body, _ = papote_server.http("PATCH", path, {"settings": {"color": "not a colour"}}, cookie=owner)
    assert status == 400 and body["error"]["code"] == "bad_field"
    status, body, _ = papote_server.http("PATCH", path, {"origins": ["javascript:alert(1)"]}, cookie=owner)
    assert status == 400
    status, body, _ = papote_server.http("PATCH", path, {
        "settings": {"greeting": "Bonjour !", "hours": {"tz": "Europe/Paris", "days": {"mon": [["09:00", "18:00"]]}}}},
        cookie=owner)
    assert status == 200 and body["settings"]["greeting"] == "Bonjour !"
    v = await visitor(papote_server)
    assert v.welcome["site"]["greeting"] == "Bonjour !"
    assert v.welcome["site"]["hours"]["tz"] == "Europe/Paris"
    assert "secrets" not in v.welcome["site"] and "origins" not in v.welcome["site"]


async def test_secret_rotation_keeps_the_previous_secret_live(papote_server: PapoteServer) -> None:
    from papote.identity import user_hash

    owner = papote_server.login()
    status, body, _ = papote_server.http("POST", f"/api/sites/{papote_server.site_key}/secrets/rotate", {},
                                         cookie=owner)
    assert status == 200 and body["secrets"][1] == papote_server.site_secret
    v = await visitor(papote_server)
    await v.send({"t": "identify", "ref": 1, "user_id": "u-1", "hash": user_hash(papote_server.site_secret, "u-1")})
    assert (await v.expect("identified", ref=1))["visitor"]["verified"]


async def test_canned_responses_and_roles(papote_server: PapoteServer) -> None:
    owner = papote_server.login()
    base = f"/api/sites/{papote_server.site_key}"
    status, item, _ = papote_server.http("POST", base + "/canned", {"shortcut": "hi", "body": "Hello {name}!"},
                                         cookie=owner)
    assert status == 201
    papote_server.cli("agent", "create", "--site", papote_server.site_key, "--email", "agent2@papote.test",
                      "--password", "agent-two-pass", "--role", "agent")
    plain = papote_server.login("agent2@papote.test", "agent-two-pass")
    status, listing, _ = papote_server.http("GET", base + "/canned", cookie=plain)
    assert [c["shortcut"] for c in listing["canned"]] == ["hi"]
    status, body, _ = papote_server.http("POST", base + "/canned", {"shortcut": "x", "body": "y"}, cookie=plain)
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body, _ = papote_server.http("PATCH", base, {"name": "Mine now"}, cookie=plain)
    assert status == 403


async def test_site_create_prints_the_key_then_the_identity_secret(papote_server: PapoteServer) -> None:
    out = papote_server.cli("site", "create", "--name", "Shop B", "--origin", "https://b.example",
                            "--owner", papote_server.agent_email).splitlines()
    assert len(out) == 2 and out[0].startswith("pk_")
    label, secret = out[1].split(": ")
    assert label == "Identity-verification secret" and len(secret) == 64
    status, site, _ = papote_server.http("GET", f"/api/sites/{out[0]}", cookie=papote_server.login())
    assert status == 200 and site["secrets"] == [secret]


async def test_a_method_a_path_lacks_is_405_with_that_paths_methods(papote_server: PapoteServer) -> None:
    # /close, /assign… once shared one `{action}` route with /transcript, whose 405 then said POST.
    status, _, headers = papote_server.http("DELETE", "/api/conversations/c_x/transcript")
    allow = {m.strip() for m in (headers.get("allow") or headers.get("Allow") or "").split(",")}
    assert status == 405 and "GET" in allow and "POST" not in allow
    status, _, headers = papote_server.http("GET", "/api/conversations/c_x/close")
    assert status == 405 and (headers.get("allow") or headers.get("Allow")) == "POST"

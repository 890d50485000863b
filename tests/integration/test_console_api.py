"""The console's REST endpoints (web/console_api.py) against a real server: reports and invitations."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.harness import Client, PapoteServer, agent, new_msg_id, visitor


def test_invitation_is_single_use_and_cannot_take_over_an_account(papote_server: PapoteServer) -> None:
    server = papote_server
    owner = server.login()
    status, invite, _ = server.http("POST", f"/api/sites/{server.site_key}/invites",
                                    {"email": "Dana@Papote.test", "role": "admin"}, cookie=owner)
    assert status == 201
    assert invite["email"] == "dana@papote.test"
    assert invite["url"].endswith("/console#invite=" + invite["token"])

    status, info, _ = server.http("POST", "/api/invites/inspect", {"token": invite["token"]})
    assert status == 200
    assert info == {"email": "dana@papote.test", "role": "admin", "site": "Test shop",
                    "expires_at": invite["expires_at"]}

    status, body, headers = server.http("POST", "/api/invites/accept", {
        "token": invite["token"], "name": "Dana", "password": "dana-password-1"})
    assert status == 200
    assert body["agent"]["name"] == "Dana"
    assert "papote_session=" in headers.get("set-cookie", "")
    status, _, _ = server.http("POST", "/api/invites/accept", {
        "token": invite["token"], "name": "Eve", "password": "eve-password-12"})
    assert status == 404

    # Inviting an email that has an account (on another site): accepting needs that account's password.
    other = server.cli("site", "create", "--name", "Other", "--origin", server.base_url).splitlines()[0]
    server.cli("agent", "create", "--site", other, "--email", "frank@papote.test", "--password",
               "frank-password-1", "--role", "owner")
    status, invite2, _ = server.http("POST", f"/api/sites/{server.site_key}/invites",
                                     {"email": "frank@papote.test", "role": "agent"}, cookie=owner)
    assert status == 201
    status, body, _ = server.http("POST", "/api/invites/accept", {
        "token": invite2["token"], "password": "guessing-wrong"})
    assert status == 401
    status, _, _ = server.http("POST", "/api/invites/accept", {
        "token": invite2["token"], "password": "frank-password-1"})
    assert status == 200
    status, me, _ = server.http("GET", "/api/me", cookie=server.login("frank@papote.test", "frank-password-1"))
    assert sorted(s["role"] for s in me["sites"]) == ["agent", "owner"]
    # A member is not invited twice.
    status, body, _ = server.http("POST", f"/api/sites/{server.site_key}/invites",
                                  {"email": "frank@papote.test", "role": "admin"}, cookie=owner)
    assert status == 409 and body["error"]["code"] == "conflict"


def test_an_agent_cannot_invite_and_an_admin_cannot_invite_an_owner(papote_server: PapoteServer) -> None:
    server = papote_server
    for email, role in (("agent@papote.test", "agent"), ("admin@papote.test", "admin")):
        server.cli("agent", "create", "--site", server.site_key, "--email", email, "--password",
                   "long-enough-pw", "--role", role)
    as_agent = server.login("agent@papote.test", "long-enough-pw")
    status, body, _ = server.http("POST", f"/api/sites/{server.site_key}/invites",
                                  {"email": "x@papote.test", "role": "agent"}, cookie=as_agent)
    assert status == 403
    as_admin = server.login("admin@papote.test", "long-enough-pw")
    status, body, _ = server.http("POST", f"/api/sites/{server.site_key}/invites",
                                  {"email": "x@papote.test", "role": "owner"}, cookie=as_admin)
    assert status == 403
    assert body["error"]["code"] == "forbidden"
    status, _, _ = server.http("POST", "/api/invites/inspect", {"token": "inv_not-a-real-token"})
    assert status == 404


async def _answer(client: Client, ref: int) -> dict[str, Any]:
    """The `ok` or `error` answering the frame sent with `ref`."""
    while True:
        frame = await client.recv(10)
        if frame.get("ref") == ref and frame["t"] in ("ok", "error"):
            return frame


async def _handled_conversation(server: PapoteServer, rating: int | None) -> tuple[str, str]:
    """A visitor asks, the agent claims, answers and closes; the visitor may then rate."""
    a = await agent(server)
    v = await visitor(server)
    try:
        await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(),
                      "body": "hi"})
        cid = str((await v.expect("ack", timeout=10))["conversation"])
        await a.send({"t": "claim", "ref": 9, "conversation": cid})
        answer = await _answer(a, 9)
        assert answer["t"] == "ok", answer
        await a.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),
                      "body": "hello"})
        await a.expect("ack", timeout=10)
        await a.send({"t": "close", "ref": 3, "conversation": cid})
        await a.expect("ok", timeout=10, ref=3)
        if rating is not None:
            await v.send({"t": "rate", "ref": 2, "conversation": cid, "rating": rating})
            await v.expect("ok", timeout=10, ref=2)
    finally:
        await v.close()
        await a.close()
    return cid, str(a.welcome["agent"]["id"])


def test_reports_and_csv(papote_server: PapoteServer) -> None:
    server = papote_server
    _, agent_id = asyncio.run(_handled_conversation(server, None))
    asyncio.run(_handled_conversation(server, 4))
    cookie = server.login()
    status, report, _ = server.http("GET", f"/api/sites/{server.site_key}/reports?tz=Europe/Paris",
                                    cookie=cookie)
    assert status == 200
    assert report["summary"]["conversations"] == 2
    assert report["summary"]["rating_avg"] == 4
    assert report["summary"]["ratings"] == 1
    assert report["summary"]["first_response_median_s"] is not None
    assert report["bucket"] == "day" and len(report["series"]) in (30, 31)
    assert agent_id in [row["agent"] for row in report["agents"]]

    status, mine, _ = server.http("GET", f"/api/sites/{server.site_key}/reports?agent={agent_id}",
                                  cookie=cookie)
    assert mine["summary"]["conversations"] >= 1
    assert mine["summary"]["resolution_median_s"] is not None
    status, csv, headers = server.http("GET", f"/api/sites/{server.site_key}/reports/csv", cookie=cookie)
    assert status == 200
    assert headers.get("content-type", "").startswith("text/csv")
    assert csv.splitlines()[-1].startswith("total,2,")
    status, body, _ = server.http("GET", f"/api/sites/{server.site_key}/reports?bucket=week", cookie=cookie)
    assert status == 400 and body["error"]["code"] == "bad_field"
    status, _, _ = server.http("GET", f"/api/sites/{server.site_key}/reports")
    assert status == 401


def test_rating_a_closed_conversation_keeps_it_closed_and_assigned(papote_server: PapoteServer) -> None:
    server = papote_server
    cid, agent_id = asyncio.run(_handled_conversation(server, 5))
    status, conv, _ = server.http("GET", f"/api/conversations/{cid}", cookie=server.login())
    assert status == 200
    assert conv["status"] == "closed"
    assert conv["assignee"]["id"] == agent_id


def test_report_ranges_are_never_refused_for_their_bounds(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    path = f"/api/sites/{server.site_key}/reports"
    # `from` at or after `to`: an empty range, an empty report.
    status, report, _ = server.http("GET", f"{path}?from=1796000000000&to=1796000000000", cookie=cookie)
    assert status == 200 and report["summary"]["conversations"] == 0 and report["from"] == report["to"]
    # Over 400 buckets: the range starts later, and the answer says where.
    to = 1_796_000_000_000
    status, report, _ = server.http("GET", f"{path}?from=0&to={to}&bucket=hour", cookie=cookie)
    assert status == 200 and report["from"] == to - 400 * 3_600_000 and len(report["series"]) <= 401
    # What is still refused: a value its schema refuses.
    for query in ("from=-1", "to=abc", "bucket=week", "tz=Mars/Olympus", "agent=a%22b", "from=1&from=2"):
        status, body, _ = server.http("GET", f"{path}?{query}", cookie=cookie)
        assert (status, body["error"]["code"]) == (400, "bad_field"), query

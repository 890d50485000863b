"""A site's team against a real server: joining takes consent, ranks hold, ownership moves by hand-over.

Each test is the regression test of a finding of issue 11 (High 1, High 2, the account items of
"Lower"): on the code before the fix, the attack it replays succeeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.harness import Client, PapoteServer, agent

pytestmark = pytest.mark.both_backends

PASSWORD = "long-enough-pw"


def member(server: PapoteServer, site: str, email: str, role: str) -> tuple[str, str]:
    """An account with `role` on `site` (made by the operator's CLI): its id and a session cookie."""
    server.cli("agent", "create", "--site", site, "--email", email, "--password", PASSWORD, "--role", role)
    cookie = server.login(email, PASSWORD)
    _, me, _ = server.http("GET", "/api/me", cookie=cookie)
    return str(me["agent"]["id"]), cookie


def roster(server: PapoteServer, site: str, cookie: str) -> dict[str, dict[str, Any]]:
    status, body, _ = server.http("GET", f"/api/sites/{site}/agents", cookie=cookie)
    assert status == 200, body
    return {a["email"]: a for a in body["agents"]}


def code(body: Any) -> str | None:
    return body["error"]["code"] if isinstance(body, dict) and "error" in body else None


def test_adding_an_existing_account_is_an_invitation_it_must_accept(papote_server: PapoteServer) -> None:
    server = papote_server
    owner = server.login()
    other = server.cli("site", "create", "--name", "Other", "--origin", server.base_url).splitlines()[0]
    member(server, other, "bob@papote.test", "owner")
    # Before: 201 and Bob was on the site, without being asked and without a password.
    answers = {}
    for email in ("bob@papote.test", "nobody@papote.test"):
        status, body, _ = server.http("POST", f"/api/sites/{server.site_key}/agents",
                                      {"email": email, "role": "agent"}, cookie=owner)
        answers[email] = (status, sorted(body))
    # The same answer whether or not the email has an account: nothing to enumerate.
    assert answers["bob@papote.test"] == answers["nobody@papote.test"] == (
        201, ["email", "emailed", "expires_at", "id", "role", "token", "url"])
    assert "bob@papote.test" not in roster(server, server.site_key, owner)
    status, me, _ = server.http("GET", "/api/me", cookie=server.login("bob@papote.test", PASSWORD))
    assert [s["key"] for s in me["sites"]] == [other]
    # A password in the body (the old "create an agent" form) is refused for every email alike.
    for email in ("bob@papote.test", "nobody2@papote.test"):
        status, body, _ = server.http("POST", f"/api/sites/{server.site_key}/agents",
                                      {"email": email, "password": "a-password-1"}, cookie=owner)
        assert (status, code(body)) == (400, "bad_field")


def test_inspecting_an_invitation_does_not_tell_whether_the_email_has_an_account(
        papote_server: PapoteServer) -> None:
    server = papote_server
    owner = server.login()
    other = server.cli("site", "create", "--name", "Other", "--origin", server.base_url).splitlines()[0]
    member(server, other, "bob@papote.test", "owner")
    seen = []
    for email in ("bob@papote.test", "nobody@papote.test"):
        _, invite, _ = server.http("POST", f"/api/sites/{server.site_key}/invites", {"email": email},
                                   cookie=owner)
        status, info, _ = server.http("POST", "/api/invites/inspect", {"token": invite["token"]})
        assert status == 200
        seen.append({k: v for k, v in info.items() if k not in ("email", "expires_at")})
    assert seen[0] == seen[1] == {"role": "agent", "site": "Test shop"}


def test_an_admin_cannot_take_the_site_from_its_owner(papote_server: PapoteServer) -> None:
    server = papote_server
    site = server.site_key
    owner = server.login()
    _, me, _ = server.http("GET", "/api/me", cookie=owner)
    owner_id = me["agent"]["id"]
    admin_id, admin = member(server, site, "admin@papote.test", "admin")
    admin2_id, _ = member(server, site, "admin2@papote.test", "admin")
    agent_id, agent = member(server, site, "agent@papote.test", "agent")
    # Before: an admin could demote the owner (200) or disable them.
    for change in ({"role": "agent"}, {"role": "admin"}, {"disabled": True}):
        status, body, _ = server.http("PATCH", f"/api/sites/{site}/agents/{owner_id}", change, cookie=admin)
        assert (status, code(body)) == (403, "forbidden"), change
        status, body, _ = server.http("PATCH", f"/api/sites/{site}/agents/{admin2_id}", change, cookie=admin)
        assert (status, code(body)) == (403, "forbidden"), change
    for target in (owner_id, admin2_id):
        status, body, _ = server.http("DELETE", f"/api/sites/{site}/agents/{target}", cookie=admin)
        assert (status, code(body)) == (403, "forbidden")
    # Nobody grants ownership by a role change, not even an owner: it is handed over.
    status, body, _ = server.http("PATCH", f"/api/sites/{site}/agents/{admin_id}", {"role": "owner"},
                                  cookie=owner)
    assert (status, code(body)) == (403, "forbidden")
    status, body, _ = server.http("POST", f"/api/sites/{site}/transfer", {"agent": admin_id}, cookie=admin)
    assert (status, code(body)) == (403, "forbidden")
    # An agent has no say at all; an admin does manage agents.
    status, body, _ = server.http("PATCH", f"/api/sites/{site}/agents/{agent_id}", {"role": "admin"},
                                  cookie=agent)
    assert status == 403
    status, body, _ = server.http("PATCH", f"/api/sites/{site}/agents/{agent_id}", {"role": "admin"},
                                  cookie=admin)
    assert status == 200 and body["role"] == "admin"
    team = roster(server, site, owner)
    assert team[server.agent_email]["role"] == "owner" and not team[server.agent_email]["disabled"]


def test_the_last_owner_stays_and_ownership_moves_only_by_hand_over(papote_server: PapoteServer) -> None:
    server = papote_server
    site = server.site_key
    owner = server.login()
    _, me, _ = server.http("GET", "/api/me", cookie=owner)
    owner_id = me["agent"]["id"]
    admin_id, admin = member(server, site, "admin@papote.test", "admin")
    # The last owner can neither leave, nor demote nor disable themselves.
    status, body, _ = server.http("DELETE", f"/api/sites/{site}/agents/{owner_id}", cookie=owner)
    assert (status, code(body)) == (403, "forbidden")
    for change in ({"role": "admin"}, {"disabled": True}):
        status, body, _ = server.http("PATCH", f"/api/sites/{site}/agents/{owner_id}", change, cookie=owner)
        assert (status, code(body)) == (403, "forbidden")
    # The operator's CLI cannot leave a site without an owner either.
    try:
        server.cli("agent", "create", "--site", site, "--email", server.agent_email, "--role", "admin")
    except RuntimeError as exc:
        assert "last owner" in str(exc)
    else:
        raise AssertionError("the CLI demoted the last owner")
    # The owner hands over: the admin becomes owner, the owner an admin, in that order.
    status, body, _ = server.http("POST", f"/api/sites/{site}/transfer", {"agent": admin_id}, cookie=owner)
    assert status == 200, body
    assert [(a["id"], a["role"]) for a in body["agents"]] == [(admin_id, "owner"), (owner_id, "admin")]
    team = roster(server, site, admin)
    assert team["admin@papote.test"]["role"] == "owner" and team[server.agent_email]["role"] == "admin"
    # Now the new owner manages the former one, who may leave.
    status, body, _ = server.http("PATCH", f"/api/sites/{site}/agents/{admin_id}", {"role": "agent"},
                                  cookie=owner)
    assert status == 403
    status, _, _ = server.http("DELETE", f"/api/sites/{site}/agents/{owner_id}", cookie=owner)
    assert status == 200
    assert server.agent_email not in roster(server, site, admin)


def test_an_invitation_dies_with_its_authors_power(papote_server: PapoteServer) -> None:
    server = papote_server
    site = server.site_key
    owner = server.login()
    admin_id, admin = member(server, site, "admin@papote.test", "admin")
    tokens = []
    for email in ("one@papote.test", "two@papote.test"):
        status, invite, _ = server.http("POST", f"/api/sites/{site}/invites", {"email": email, "role": "admin"},
                                        cookie=admin)
        assert status == 201
        tokens.append(invite["token"])
    status, _, _ = server.http("POST", "/api/invites/inspect", {"token": tokens[0]})
    assert status == 200
    # Demoted below the role it grants: the admin's invitations no longer work.
    status, _, _ = server.http("PATCH", f"/api/sites/{site}/agents/{admin_id}", {"role": "agent"}, cookie=owner)
    assert status == 200
    status, body, _ = server.http("POST", "/api/invites/inspect", {"token": tokens[0]})
    assert (status, code(body)) == (404, "not_found")
    status, body, _ = server.http("POST", "/api/invites/accept", {"token": tokens[1], "name": "Two",
                                                                  "password": "two-password-1"})
    assert (status, code(body)) == (404, "not_found")
    assert "two@papote.test" not in roster(server, site, owner)
    # Disabled: the same.
    agent_id, agent = member(server, site, "inviter@papote.test", "admin")
    _, invite, _ = server.http("POST", f"/api/sites/{site}/invites", {"email": "three@papote.test"}, cookie=agent)
    status, _, _ = server.http("PATCH", f"/api/sites/{site}/agents/{agent_id}", {"disabled": True}, cookie=owner)
    assert status == 200
    status, body, _ = server.http("POST", "/api/invites/accept", {"token": invite["token"], "name": "Three",
                                                                  "password": "three-password-1"})
    assert (status, code(body)) == (404, "not_found")


def test_password_guesses_through_a_stolen_session_are_limited(papote_server: PapoteServer) -> None:
    server = papote_server
    cookie = server.login()
    for _ in range(10):
        status, body, _ = server.http("POST", "/api/me/password", {"current": "a-wrong-guess",
                                                                   "new": "a-new-password-1"}, cookie=cookie)
        assert (status, code(body)) == (401, "unauthorized")
    # Before: guesses were unlimited and the right one went through.
    status, body, _ = server.http("POST", "/api/me/password", {"current": server.agent_password,
                                                               "new": "a-new-password-1"}, cookie=cookie)
    assert (status, code(body)) == (423, "locked")


async def closed_with(client: Client, timeout: float = 20) -> int | None:
    """The close code the server ends this socket with (frames before it are skipped)."""
    try:
        while True:
            await client.recv(timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


@pytest.fixture
def checking_server(tmp_path: Path, server_backend: str) -> Iterator[PapoteServer]:
    """Live sockets check their session every second (what the CLI ends, the server learns that way)."""
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_SESSION_CHECK_SECS": "1"}, backend=server_backend)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.close()


@pytest.mark.asyncio
async def test_disabling_a_member_acts_on_that_site_only(papote_server: PapoteServer) -> None:
    server = papote_server
    site_a = server.site_key
    owner = server.login()
    site_b = server.cli("site", "create", "--name", "B", "--origin", server.base_url).splitlines()[0]
    bob_id, bob = member(server, site_b, "bob@papote.test", "owner")
    server.cli("agent", "create", "--site", site_a, "--email", "bob@papote.test", "--role", "agent")
    socket = await agent(server, bob)
    assert sorted(s["key"] for s in socket.welcome["sites"]) == sorted([site_a, site_b])
    # Before: the account was disabled on the whole server (401 everywhere, login refused).
    status, body, _ = server.http("PATCH", f"/api/sites/{site_a}/agents/{bob_id}", {"disabled": True}, cookie=owner)
    assert status == 200 and body["disabled"] is True and body["account_disabled"] is False
    assert await closed_with(socket) == 4012
    status, me, _ = server.http("GET", "/api/me", cookie=bob)
    assert status == 200 and [s["key"] for s in me["sites"]] == [site_b]
    status, body, _ = server.http("GET", f"/api/sites/{site_a}", cookie=bob)
    assert (status, code(body)) == (404, "not_found")
    status, _, _ = server.http("GET", f"/api/sites/{site_b}/agents", cookie=bob)
    assert status == 200
    again = await agent(server, server.login("bob@papote.test", PASSWORD))
    assert [s["key"] for s in again.welcome["sites"]] == [site_b]
    # The team still lists Bob, disabled, so that he can be enabled again.
    assert roster(server, site_a, owner)["bob@papote.test"]["disabled"] is True
    status, body, _ = server.http("PATCH", f"/api/sites/{site_a}/agents/{bob_id}", {"disabled": False}, cookie=owner)
    assert status == 200 and body["disabled"] is False
    status, me, _ = server.http("GET", "/api/me", cookie=bob)
    assert sorted(s["key"] for s in me["sites"]) == sorted([site_a, site_b])


@pytest.mark.asyncio
async def test_a_server_wide_disable_is_the_operators_and_no_site_undoes_it(
        checking_server: PapoteServer) -> None:
    server = checking_server
    site = server.site_key
    owner = server.login()
    bob_id, bob = member(server, site, "bob@papote.test", "agent")
    socket = await agent(server, bob)
    out = server.cli("agent", "disable", "--email", "bob@papote.test")
    assert out == f"disabled {bob_id} bob@papote.test: signed out everywhere, cannot sign in\n"
    assert await closed_with(socket) == 4010
    status, _, _ = server.http("GET", "/api/me", cookie=bob)
    assert status == 401
    # A site's owner "re-enabling" Bob changes his membership, not the operator's decision.
    status, body, _ = server.http("PATCH", f"/api/sites/{site}/agents/{bob_id}", {"disabled": False}, cookie=owner)
    assert status == 200 and body["account_disabled"] is True
    status, body, _ = server.http("POST", "/api/login", {"email": "bob@papote.test", "password": PASSWORD})
    assert (status, code(body)) == (401, "unauthorized")
    assert "disabled" in server.cli("agent", "list", "--site", site)
    out = server.cli("agent", "enable", "--email", "bob@papote.test")
    assert out.startswith(f"enabled {bob_id} bob@papote.test")
    server.login("bob@papote.test", PASSWORD)


def test_creating_sites_is_a_server_level_permission(papote_server: PapoteServer) -> None:
    server = papote_server
    _, agent_cookie = member(server, server.site_key, "agent@papote.test", "agent")
    # Before: any signed-in account, even an agent of another site, could own new sites.
    status, body, _ = server.http("POST", "/api/sites", {"name": "Mine", "origins": []}, cookie=agent_cookie)
    assert (status, code(body)) == (403, "forbidden")
    status, me, _ = server.http("GET", "/api/me", cookie=agent_cookie)
    assert (me["operator"], me["can_create_sites"]) == (False, False)
    # `papote init` made its account an operator; `papote operator grant` makes others.
    owner = server.login()
    status, me, _ = server.http("GET", "/api/me", cookie=owner)
    assert (me["operator"], me["can_create_sites"]) == (True, True)
    status, _, _ = server.http("POST", "/api/sites", {"name": "Second"}, cookie=owner)
    assert status == 201
    assert server.cli("operator", "grant", "--email", "agent@papote.test") == "agent@papote.test is a server operator\n"
    status, _, _ = server.http("POST", "/api/sites", {"name": "Mine"}, cookie=agent_cookie)
    assert status == 201
    assert "agent@papote.test" in server.cli("operator", "list")


def test_anyone_may_create_sites_when_the_server_says_so(tmp_path: Path, server_backend: str) -> None:
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_SITE_CREATION": "anyone"}, backend=server_backend)
    try:
        server.init()
        server.start()
        _, cookie = member(server, server.site_key, "agent@papote.test", "agent")
        status, _, _ = server.http("POST", "/api/sites", {"name": "Mine"}, cookie=cookie)
        assert status == 201
    finally:
        server.close()


def test_pending_invitations_are_listed_accepted_declined_and_withdrawn(papote_server: PapoteServer) -> None:
    server = papote_server
    site = server.site_key
    owner = server.login()
    other = server.cli("site", "create", "--name", "Other", "--origin", server.base_url).splitlines()[0]
    _, bob = member(server, other, "bob@papote.test", "owner")
    _, carol = member(server, other, "carol@papote.test", "agent")
    sent = {}
    for email in ("bob@papote.test", "carol@papote.test", "dan@papote.test"):
        status, invite, _ = server.http("POST", f"/api/sites/{site}/invites", {"email": email, "role": "admin"},
                                        cookie=owner)
        sent[email] = invite["id"]
    status, listing, _ = server.http("GET", f"/api/sites/{site}/invites", cookie=owner)
    assert [(i["email"], i["role"], i["valid"]) for i in listing["invites"]] == [
        ("bob@papote.test", "admin", True), ("carol@papote.test", "admin", True), ("dan@papote.test", "admin", True)]
    # Each account sees its own invitation, and nobody else's.
    status, mine, _ = server.http("GET", "/api/me/invites", cookie=bob)
    assert [(i["id"], i["site"]["key"], i["site"]["name"]) for i in mine["invites"]] == [
        (sent["bob@papote.test"], site, "Test shop")]
    status, body, _ = server.http("POST", f"/api/me/invites/{sent['carol@papote.test']}/accept", {}, cookie=bob)
    assert (status, code(body)) == (404, "not_found")
    status, body, _ = server.http("POST", f"/api/me/invites/{sent['bob@papote.test']}/accept", {}, cookie=bob)
    assert status == 200 and body["site"]["role"] == "admin"
    assert roster(server, site, owner)["bob@papote.test"]["role"] == "admin"
    status, _, _ = server.http("POST", f"/api/me/invites/{sent['carol@papote.test']}/decline", {}, cookie=carol)
    assert status == 200
    status, _, _ = server.http("DELETE", f"/api/sites/{site}/invites/{sent['dan@papote.test']}", cookie=owner)
    assert status == 200
    status, listing, _ = server.http("GET", f"/api/sites/{site}/invites", cookie=owner)
    assert listing["invites"] == []
    assert "carol@papote.test" not in roster(server, site, owner)

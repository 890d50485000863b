"""A site's team against a real server: joining takes consent, ranks hold, ownership moves by hand-over.

Each test is the regression test of a finding of issue 11 (High 1, High 2, the account items of
"Lower"): on the code before the fix, the attack it replays succeeded.
"""

from __future__ import annotations

from typing import Any

from tests.harness import PapoteServer

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
        201, ["email", "expires_at", "role", "token", "url"])
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

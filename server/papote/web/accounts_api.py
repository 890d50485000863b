"""My account: signing in and out (the session and device cookies), who I am, my profile and my password."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from papote.accounts import DEVICE_TTL_MS, Attempt, LoginResult
from papote.addresses import stored_address
from papote.authz import Principal
from papote.conversations import agent_topic
from papote.errors import AuthError
from papote.events import Revoked
from papote.ids import digest
from papote.node import Papote
from papote.store import AgentChanges
from papote.web import api_schemas as shapes
from papote.web.http import Endpoint, agent_json, field_str, json_body, need, papote_of, site_json


async def login(request: Request, _: Principal | None) -> Response:
    papote = papote_of(request)
    body = await json_body(request)
    email = need(field_str(body, "email", max_len=254))
    password = need(field_str(body, "password", max_len=256))
    return await signed_in(papote, await papote.accounts.login(email, password, attempt_of(request)))


def attempt_of(request: Request) -> Attempt:
    """Where this request comes from, for the lockout: its client address (as much of it as
    PAPOTE_CLIENT_ADDRESSES lets the database keep) and its device cookie."""
    papote = papote_of(request)
    return Attempt(stored_address(request.client.host if request.client else None, papote.config.client_addresses),
                   request.cookies.get(papote.accounts.device_cookie_name))


async def signed_in(papote: Papote, result: LoginResult) -> Response:
    """The answer to a successful sign-in (login, accepted invitation): the agent, and the cookie."""
    memberships = await papote.team.memberships(result.agent.id)
    response = JSONResponse({"agent": agent_json(result.agent),
                             "sites": [{"id": m.site_id, "role": m.role} for m in memberships]})
    response.set_cookie(
        papote.accounts.cookie_name, result.session_token, max_age=papote.config.session_hours * 3600,
        path="/", secure=papote.config.secure_cookies, httponly=True, samesite="strict",
    )
    response.set_cookie(
        papote.accounts.device_cookie_name, result.device_token, max_age=DEVICE_TTL_MS // 1000,
        path="/", secure=papote.config.secure_cookies, httponly=True, samesite="strict",
    )
    return response


async def logout(request: Request, principal: Principal | None) -> Response:
    papote = papote_of(request)
    token = request.cookies.get(papote.accounts.cookie_name)
    if token:
        await papote.accounts.logout(token)
        if principal is not None:
            papote.bus.publish(agent_topic(principal.id), Revoked(digest(token)))
    response = JSONResponse({"ok": True})
    response.delete_cookie(papote.accounts.cookie_name, path="/")
    return response


async def me(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    agent = await papote.accounts.agent(principal.id)
    if agent is None:
        raise AuthError("sign in first")  # the account went between the session check and here
    sites = await papote.sites.of_agent(principal.id)
    operator = await papote.accounts.is_operator(principal.id)
    return {"agent": agent_json(agent),
            "sites": [{**site_json(s), "role": principal.roles[s.id].value} for s in sites],
            "operator": operator, "can_create_sites": operator or papote.config.site_creation == "anyone"}


async def update_me(request: Request, principal: Principal | None) -> Any:
    """An agent's own display name, avatar URL and default capacity."""
    assert principal is not None
    papote = papote_of(request)
    body = await json_body(request)
    changes = AgentChanges()
    if "name" in body:
        changes.name = body["name"]
    if "avatar" in body:
        changes.avatar = body["avatar"]
    if "capacity" in body:
        changes.capacity = body["capacity"]
    agent = await papote.accounts.update_agent(principal.id, changes)
    papote.chat.agent_changed(agent)
    for conn in papote.hub.connections_of(agent.id):  # live sockets write under the new name at once
        conn.principal.name, conn.principal.avatar = agent.name, agent.avatar
    await papote.announce_presence(agent.id)
    return {"agent": agent_json(agent)}


async def change_password(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    body = await json_body(request)
    agent = await papote.accounts.agent(principal.id)
    if agent is None:
        raise AuthError("sign in first")
    token = request.cookies.get(papote.accounts.cookie_name) or ""
    await papote.accounts.change_password(
        agent, need(field_str(body, "current", max_len=256)), need(field_str(body, "new", max_len=256)),
        attempt_of(request), token,
    )
    # The other sessions' sockets close; this one's stay open, as this session does.
    papote.bus.publish(agent_topic(principal.id), Revoked(keep=digest(token)))
    return {"ok": True}


ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/login", "Sign in; sets the session cookie", login, "none",
             body=shapes.LOGIN, response=shapes.SIGNED_IN),
    Endpoint("POST", "/api/logout", "Sign out; closes this session's sockets", logout),
    Endpoint("GET", "/api/me", "The signed-in agent and their sites", me, response=shapes.ME),
    Endpoint("PATCH", "/api/me", "Change my name, avatar or capacity", update_me,
             body=shapes.UPDATE_ME, response=shapes.AGENT_ONLY),
    Endpoint("POST", "/api/me/password", "Change my password (ends my other sessions)", change_password,
             body=shapes.CHANGE_PASSWORD),
]

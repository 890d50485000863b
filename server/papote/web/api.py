"""The REST API (JSON) for the console, site owners and integrations. OpenAPI at /api/openapi.json.

Authentication: the agent session cookie (set by `POST /api/login`), or `Authorization: Bearer <API key>`
for server-to-server calls scoped to one site. Every conversation access goes through `authz.authorize`
like the WebSocket does; what a principal may not see is `404 not_found`, as if it did not exist.
Every write (POST, PUT, PATCH, DELETE) that is not authenticated by an API key — the cookie's, and the
unauthenticated sign-in ones — must say `Content-Type: application/json` (even with no body) or carry an
`X-Papote-Request` header. A page of another origin, a sibling subdomain included (the same *site* to
SameSite=Strict), can send neither without a CORS preflight, which this server never grants: so no other
page can make a signed-in browser write (docs/operations.md, "Security model").
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from papote.accounts import DEVICE_TTL_MS, Accounts, Attempt, LoginResult
from papote.addresses import address_key
from papote.authz import Action, Principal, authorize
from papote.config import Config
from papote.conversations import agent_author, agent_topic, message_dict, visitor_summary
from papote.errors import AuthError, ErrorCode, Forbidden, NotFound, PapoteError
from papote.events import Revoked
from papote.ids import digest, new_id
from papote.members import (
    Seat,
    check_acts_on,
    check_change_role,
    check_grant,
    check_leave,
    check_transfer,
    parse_role,
)
from papote.sites import normalise_origin, validate_settings
from papote.snippet import render_snippet
from papote.store import Agent, AgentChanges, ConversationQuery, Site
from papote.types import ConversationStatus, MessageKind, PrincipalKind, Role
from papote.web import api_schemas as shapes
from papote.web.api_schemas import ref
from papote.web.schema import Schema, check_supported, query_value, validate

Handler = Callable[[Request, Principal | None], Awaitable[Any]]

#: A JSON body larger than this is refused before parsing (settings with custom CSS fit easily).
MAX_JSON_BYTES = 256 * 1024
#: The header a client without a JSON body may send instead, to show it is not a cross-site form.
CSRF_HEADER = "x-papote-request"
CSRF_RULE = ("Every write (POST, PUT, PATCH, DELETE) not authenticated by an API key must carry "
             "`Content-Type: application/json` (even with no body, which counts as {}) or an "
             "`X-Papote-Request` header with any value; otherwise it is refused 400 bad_frame. "
             "Writes with `Authorization: Bearer <API key>` need neither.")

log = logging.getLogger("papote.api")


@dataclass
class Endpoint:
    """One REST route: what it does, who may call it, and the schemas it accepts and answers.

    The schemas are both the OpenAPI document and the validation `_wrap` runs before the handler: a body
    or query parameter that does not fit is refused with `bad_field` and the handler never sees it."""

    method: str
    path: str
    summary: str
    handler: Handler
    auth: str = "agent"  # "none", "agent" (cookie), "any" (cookie or API key)
    #: The JSON request body's schema, or a function of the configuration that gives it.
    body: Schema | Callable[[Config], Schema] | None = None
    #: Query parameters: name → schema (typed: integers and booleans are read from their text).
    query: dict[str, Schema] = field(default_factory=dict)
    #: The success answer: its schema (JSON) and status, or a media type for text answers.
    response: Schema = field(default_factory=lambda: ref("Ok"))
    status: int = 200
    media_type: str = "application/json"
    #: OpenAPI's operationId when the handler's name is taken (one handler behind two paths).
    operation_id: str | None = None

    def body_schema(self, config: Config) -> Schema | None:
        return self.body(config) if callable(self.body) else self.body


def error_response(exc: PapoteError) -> JSONResponse:
    # A shed request may come back soon: say when, as RFC 9110 lets a 503 do.
    headers = {"retry-after": "1"} if exc.code is ErrorCode.BUSY else None
    return JSONResponse({"error": {"code": exc.code.value, "message": exc.message}},
                        status_code=exc.code.http_status, headers=headers)


def papote_of(request: Request) -> Any:
    return request.app.state.papote


async def principal_of(request: Request, auth: str) -> Principal | None:
    papote = papote_of(request)
    accounts: Accounts = papote.accounts
    if auth == "none":
        return None
    header = request.headers.get("authorization", "")
    if auth == "any" and header.lower().startswith("bearer "):
        site_id = await accounts.site_for_api_key(header[7:].strip())
        if site_id is None:
            raise AuthError("unknown API key")
        return Principal(PrincipalKind.API_KEY, f"key:{site_id}", "API", site_id=site_id)
    agent = await accounts.agent_for_session(request.cookies.get(accounts.cookie_name))
    if agent is None:
        raise AuthError("sign in first")
    memberships = await papote.store.memberships(agent.id)
    return Principal(PrincipalKind.AGENT, agent.id, agent.name,
                     roles={m.site_id: Role(m.role) for m in memberships}, avatar=agent.avatar)


#: Nesting deeper than any schema here describes is refused before anything walks it.
MAX_JSON_DEPTH = 32


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """Bytes → a JSON value, or a coded error: never an uncaught exception, whatever the bytes."""
    if len(raw) > MAX_JSON_BYTES:
        raise PapoteError("body too large", ErrorCode.TOO_LARGE)
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise PapoteError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", ErrorCode.BAD_FRAME) from None
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise PapoteError("malformed JSON", ErrorCode.BAD_FRAME) from None
    _check_plain(value)
    return value


def _check_plain(value: Any) -> None:
    """Depth within MAX_JSON_DEPTH, and text that is valid Unicode (JSON lets `\\ud800` through, and
    a lone surrogate fails later, when the store encodes it)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise PapoteError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", ErrorCode.BAD_FRAME)
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, dict):
            for k, v in item.items():
                _check_text(k)
                stack.append((v, depth + 1))


def _check_text(text: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:
        raise PapoteError("JSON text holds an unpaired surrogate", ErrorCode.BAD_FRAME) from None


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, checked against its Endpoint's body schema (once, then kept).

    Handlers call it after they have found the resource they act on, so that a principal who may not
    see a site or a conversation gets `not_found` whatever the body holds."""
    checked = getattr(request.state, "json_body", None)
    if checked is not None:
        return checked  # type: ignore[no-any-return]
    ep: Endpoint | None = getattr(request.state, "endpoint", None)
    schema = ep.body_schema(papote_of(request).config) if ep is not None else None
    raw = await request.body()
    if not raw and schema is not None and "required" not in schema:
        body: Any = {}  # every field is optional: no body is an empty change
    else:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise PapoteError("send application/json", ErrorCode.BAD_FRAME)
        body = parse_json(raw or b"{}")
        if not isinstance(body, dict):
            raise PapoteError("the body must be a JSON object", ErrorCode.BAD_FRAME)
    if schema is not None:
        body = validate(schema, body)
    request.state.json_body = body
    return body  # type: ignore[no-any-return]


def params(request: Request) -> dict[str, Any]:
    """The query parameters its Endpoint declares, validated and typed; a declared default stands in
    for one not sent. Parameters it does not declare are not read."""
    checked = getattr(request.state, "query", None)
    if checked is not None:
        return checked  # type: ignore[no-any-return]
    ep: Endpoint = request.state.endpoint
    out: dict[str, Any] = {}
    for name, schema in ep.query.items():
        values = request.query_params.getlist(name)
        if len(values) > 1:
            raise PapoteError(f"'{name}' is given more than once", ErrorCode.BAD_FIELD)
        out[name] = query_value(schema, values[0], name) if values else schema.get("default")
    request.state.query = out
    return out



def field_str(body: dict[str, Any], name: str, *, required: bool = True, max_len: int = 1000,
              min_len: int = 0) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise PapoteError(f"field '{name}' is required", ErrorCode.BAD_FIELD)
        return None
    if not isinstance(value, str) or not min_len <= len(value) <= max_len:
        raise PapoteError(f"field '{name}' must be text of {min_len} to {max_len} characters",
                          ErrorCode.BAD_FIELD)
    return value


def need(value: str | None) -> str:
    assert value is not None
    return value


def int_param(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PapoteError(f"'{name}' must be an integer", ErrorCode.BAD_FIELD) from None
    if not low <= value <= high:
        raise PapoteError(f"'{name}' must be between {low} and {high}", ErrorCode.BAD_FIELD)
    return value


# -- serialisers -----------------------------------------------------------------------------------


def site_json(site: Site, *, secrets: bool = False) -> dict[str, Any]:
    from papote.sites import settings_of

    out: dict[str, Any] = {"id": site.id, "key": site.key, "name": site.name, "origins": site.origins,
                           "settings": settings_of(site), "created_at": site.created_at}
    if secrets:
        out["secrets"] = site.secrets
    return out


def agent_json(agent: Agent, role: str | None = None, *, disabled: bool = False) -> dict[str, Any]:
    """`disabled`: on the site listed (a membership's own state); `account_disabled`: on the whole
    server, by its operator (the CLI), which no site's admin can undo."""
    return {**agent_author(agent), "email": agent.email, "disabled": disabled,
            "account_disabled": agent.disabled, "status": agent.status, "capacity": agent.capacity,
            "role": role}


# -- helpers -----------------------------------------------------------------------------------------


async def site_for(request: Request, principal: Principal | None, action: Action) -> Site:
    assert principal is not None
    papote = papote_of(request)
    site: Site | None = await papote.site_by_key(request.path_params["key"])
    if site is None:
        raise NotFound("no such site")
    authorize(principal, action, site.id)
    return site


# -- handlers ----------------------------------------------------------------------------------------


async def login(request: Request, _: Principal | None) -> Response:
    papote = papote_of(request)
    body = await json_body(request)
    email = need(field_str(body, "email", max_len=254))
    password = need(field_str(body, "password", max_len=256))
    return await signed_in(papote, await papote.accounts.login(email, password, attempt_of(request)))


def attempt_of(request: Request) -> Attempt:
    """Where this request comes from, for the lockout: its client address and its device cookie."""
    papote = papote_of(request)
    return Attempt(address_key(request.client.host if request.client else None),
                   request.cookies.get(papote.accounts.device_cookie_name))


async def signed_in(papote: Any, result: LoginResult) -> Response:
    """The answer to a successful sign-in (login, accepted invitation): the agent, and the cookie."""
    memberships = await papote.store.memberships(result.agent.id)
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
    agent = await papote.store.get_agent(principal.id)
    sites = await papote.store.list_sites(principal.id)
    operator = await papote.store.is_operator(principal.id)
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
    agent = await papote.store.update_agent(principal.id, changes)
    papote.chat.agent_changed(agent)
    for conn in papote.hub.connections_of(agent.id):  # live sockets write under the new name at once
        conn.principal.name, conn.principal.avatar = agent.name, agent.avatar
    await papote.announce_presence(agent.id)
    return {"agent": agent_json(agent)}


async def change_password(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    body = await json_body(request)
    agent = await papote.store.get_agent(principal.id)
    token = request.cookies.get(papote.accounts.cookie_name) or ""
    await papote.accounts.change_password(
        agent, need(field_str(body, "current", max_len=256)), need(field_str(body, "new", max_len=256)),
        attempt_of(request), token,
    )
    # The other sessions' sockets close; this one's stay open, as this session does.
    papote.bus.publish(agent_topic(principal.id), Revoked(keep=digest(token)))
    return {"ok": True}


async def list_sites(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    if principal.kind is PrincipalKind.API_KEY:
        site = await papote.site_by_id(principal.site_id)
        return {"sites": [site_json(site)] if site else []}
    sites = await papote.store.list_sites(principal.id)
    return {"sites": [{**site_json(s), "role": principal.roles[s.id].value} for s in sites]}


async def create_site(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    if papote.config.site_creation != "anyone" and not await papote.store.is_operator(principal.id):
        # A shared server's tenants do not get to multiply themselves (PAPOTE_SITE_CREATION).
        raise Forbidden("creating sites is reserved to this server's operators")
    body = await json_body(request)
    name = need(field_str(body, "name", max_len=120, min_len=1))
    origins = [normalise_origin(o) for o in _str_list(body.get("origins") or [], "origins")]
    settings = validate_settings(body.get("settings") or {})
    site = await papote.store.create_site(name, origins, settings)
    await papote.store.set_membership(site.id, principal.id, Role.OWNER)
    # My console sockets reconnect, and their new welcome carries the site.
    papote.bus.publish(agent_topic(principal.id), Revoked(site=site.id, joined=True))
    return JSONResponse(site_json(site, secrets=True), status_code=201)


async def get_site(request: Request, principal: Principal | None) -> Any:
    site = await site_for(request, principal, Action.VIEW_SITE)
    assert principal is not None
    admin = principal.kind is PrincipalKind.AGENT and principal.roles[site.id].rank >= Role.ADMIN.rank
    return site_json(site, secrets=admin)


async def update_site(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = need(field_str(body, "name", max_len=120, min_len=1))
    if "origins" in body:
        changes["origins"] = [normalise_origin(o) for o in _str_list(body["origins"], "origins")]
    if "settings" in body:
        if not isinstance(body["settings"], dict):
            raise PapoteError("settings must be an object", ErrorCode.BAD_FIELD)
        changes["settings"] = validate_settings(body["settings"], site.settings)
    site = await papote.store.update_site(site.id, **changes)
    papote.site_changed(site)
    return site_json(site, secrets=True)


async def rotate_secret(request: Request, principal: Principal | None) -> Any:
    """A new secret becomes current; the previous one stays valid until the next rotation."""
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    fresh = secrets.token_hex(32)
    site = await papote.store.update_site(site.id, secrets=[fresh, *site.secrets[:1]])
    papote.site_changed(site)
    return {"secrets": site.secrets}


async def snippet(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    return {"snippet": render_snippet(site.key, papote.config.base_url)}


async def list_site_agents(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    members = await papote.store.team(site.id)
    loads = await papote.store.agent_loads([a.id for a, _ in members])
    return {"agents": [{**agent_json(a, m.role, disabled=m.disabled), "presence": papote.presence.effective(a.id),
                        "load": loads.get(a.id, 0)} for a, m in members]}


async def _seats(papote: Any, site: Site, principal: Principal | None) -> tuple[Seat, dict[str, Seat]]:
    """The acting member's seat and every member's, read fresh (a role may have changed since sign-in)."""
    assert principal is not None
    seats = {a.id: Seat(a.id, Role(m.role), m.disabled) for a, m in await papote.store.team(site.id)}
    me = seats.get(principal.id)
    if me is None:
        raise NotFound("no such site")
    return me, seats


def _target(request: Request, seats: dict[str, Seat]) -> Seat:
    target = seats.get(request.path_params["agent_id"])
    if target is None:
        raise NotFound("no such agent on this site")
    return target


async def update_site_agent(request: Request, principal: Principal | None) -> Any:
    """Change a member's role or disable them: only on a member of lower rank than mine (members.py)."""
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    role = parse_role(body["role"]) if "role" in body else None
    disabled = body.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise PapoteError("disabled must be true or false", ErrorCode.BAD_FIELD)
    me, seats = await _seats(papote, site, principal)
    target = _target(request, seats)
    check_acts_on(me, target)
    if role is not None:
        check_change_role(me, target, role)
        await papote.store.set_membership(site.id, target.agent_id, role)
    agent = await papote.store.get_agent(target.agent_id)
    assert agent is not None
    if disabled is not None and disabled != target.disabled:
        # On this site only: the member's sockets that carry this site close (4012) and reconnect
        # without it (or, enabled again, with it); the account, its sessions and its other sites go on.
        await papote.store.set_member_disabled(site.id, agent.id, disabled)
        papote.bus.publish(agent_topic(agent.id), Revoked(site=site.id, joined=not disabled))
        papote.spawn(papote.announce_presence(agent.id))
    return agent_json(agent, (role or target.role).value,
                      disabled=target.disabled if disabled is None else disabled)


async def remove_site_agent(request: Request, principal: Principal | None) -> Any:
    """Remove a member of lower rank from the site, or leave it myself (not as its last owner)."""
    assert principal is not None
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    me, seats = await _seats(papote, site, principal)
    target = _target(request, seats)
    if target.agent_id == me.agent_id:
        check_leave(me, list(seats.values()))
    else:
        authorize(principal, Action.MANAGE_SITE, site.id)
        check_acts_on(me, target)
    await papote.store.set_membership(site.id, target.agent_id, None)
    papote.bus.publish(agent_topic(target.agent_id), Revoked(site=site.id))
    return {"ok": True}


async def transfer_site(request: Request, principal: Principal | None) -> Any:
    """An owner hands the site over: the member named becomes owner, and the owner becomes an admin.
    The new owner is promoted before the old one steps down, so the site is never without an owner."""
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    target_id = need(field_str(body, "agent", max_len=64, min_len=1))
    me, seats = await _seats(papote, site, principal)
    target = seats.get(target_id)
    if target is None:
        raise NotFound("no such agent on this site")
    check_transfer(me, target)
    await papote.store.set_membership(site.id, target.agent_id, Role.OWNER)
    await papote.store.set_membership(site.id, me.agent_id, Role.ADMIN)
    agents = {a.id: (a, m) for a, m in await papote.store.team(site.id)}
    return {"agents": [agent_json(a, m.role, disabled=m.disabled)
                       for a, m in (agents[target.agent_id], agents[me.agent_id])]}


def grantable_role(value: Any, principal: Principal | None, site: Site) -> Role:
    """The role an invitation from `principal` may carry (admin or agent, up to their own rank)."""
    assert principal is not None
    role = parse_role(value)
    mine = principal.roles.get(site.id)
    if mine is None:
        raise NotFound("no such site")
    check_grant(mine, role)
    return role


def _str_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or len(value) > 50 or not all(isinstance(v, str) for v in value):
        raise PapoteError(f"'{name}' must be a list of at most 50 strings", ErrorCode.BAD_FIELD)
    return value


async def list_keys(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    keys = await papote.store.list_api_keys(site.id)
    return {"keys": [{"id": k.id, "name": k.name, "created_at": k.created_at} for k in keys]}


async def create_key(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    key_id, secret = await papote.accounts.create_api_key(
        site.id, need(field_str(body, "name", max_len=80, min_len=1))
    )
    # The secret is shown once: only its digest is kept.
    return JSONResponse({"id": key_id, "key": secret}, status_code=201)


async def delete_key(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    if not await papote.store.delete_api_key(site.id, request.path_params["key_id"]):
        raise NotFound("no such key")
    return {"ok": True}


async def list_canned(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    items = await papote.store.list_canned(site.id)
    return {"canned": [{"id": c.id, "shortcut": c.shortcut, "body": c.body} for c in items]}


async def save_canned(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    shortcut = need(field_str(body, "shortcut", max_len=40, min_len=1))
    if not re.fullmatch(r"[A-Za-z0-9_-]+", shortcut):
        raise PapoteError("a shortcut is letters, digits, _ or -", ErrorCode.BAD_FIELD)
    item = await papote.store.save_canned(site.id, shortcut,
                                          need(field_str(body, "body", max_len=4000, min_len=1)))
    return JSONResponse({"id": item.id, "shortcut": item.shortcut, "body": item.body}, status_code=201)


async def delete_canned(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    if not await papote.store.delete_canned(site.id, request.path_params["canned_id"]):
        raise NotFound("no such canned response")
    return {"ok": True}


async def list_conversations(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    site_ids = principal.site_ids
    q = params(request)
    if q["site"]:
        site = await papote.site_by_key(q["site"])
        if site is None or site.id not in site_ids:
            raise NotFound("no such site")
        site_ids = [site.id]
    assignee = principal.id if q["assignee"] == "me" else q["assignee"]
    query = ConversationQuery(
        site_ids=site_ids, status=ConversationStatus(q["status"]) if q["status"] else None,
        assignee_id=assignee, unassigned=bool(q["unassigned"]), visitor_id=q["visitor"], text=q["q"] or None,
        limit=q["limit"], before_updated_at=q["before"],
    )
    convs = await papote.store.list_conversations(query)
    return {"conversations": await papote.chat.summaries(convs, principal)}


async def get_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    conv = await papote.chat.conversation_for(principal, request.path_params["cid"], Action.READ)
    [summary] = await papote.chat.summaries([conv], principal)
    visitor = await papote.store.get_visitor(conv.visitor_id)
    summary["visitor"] = visitor_summary(visitor, full=True) if visitor else None
    summary["events"] = [{"name": e.name, "data": e.data, "at": e.at}
                         for e in await papote.store.visitor_events(conv.visitor_id)]
    return summary


async def get_messages(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    cid = request.path_params["cid"]
    q = params(request)
    if q["after_seq"] is not None:
        await papote.chat.conversation_for(principal, cid, Action.READ)
        msgs = await papote.store.messages_after(cid, q["after_seq"], q["limit"], include_notes=True)
        return {"messages": [message_dict(m) for m in msgs]}
    frame = await papote.chat.page(principal, cid, q["before_seq"], q["limit"])
    return {"messages": frame["messages"], "more": frame["more"], "last_seq": frame["last_seq"]}


async def post_message(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    body = await json_body(request)
    ack, _ = await papote.chat.send(principal, request.path_params["cid"],
                                    body.get("client_msg_id") or new_id("api"), body["body"],
                                    note=body.get("note", False))
    del ack["t"]
    return JSONResponse(ack, status_code=201)


async def close_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    chat = papote_of(request).chat
    conv = await chat.close(principal, request.path_params["cid"])
    [summary] = await chat.summaries([conv], principal)
    return summary


async def reopen_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    chat = papote_of(request).chat
    conv = await chat.reopen(principal, request.path_params["cid"])
    [summary] = await chat.summaries([conv], principal)
    return summary


async def assign_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    chat = papote_of(request).chat
    body = await json_body(request)
    conv = await chat.assign(principal, request.path_params["cid"], body["agent"], note=body.get("note"))
    [summary] = await chat.summaries([conv], principal)
    return summary


async def label_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    chat = papote_of(request).chat
    body = await json_body(request)
    conv = await chat.label(principal, request.path_params["cid"], body.get("add") or [], body.get("remove") or [])
    [summary] = await chat.summaries([conv], principal)
    return summary


async def transcript(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    papote = papote_of(request)
    conv = await papote.chat.conversation_for(principal, request.path_params["cid"], Action.READ)
    lines = []
    after = 0
    while True:
        msgs = await papote.store.messages_after(conv.id, after, 500, include_notes=False)
        if not msgs:
            break
        for m in msgs:
            if m.kind == MessageKind.TEXT:
                when = datetime.fromtimestamp(m.created_at / 1000, UTC).strftime("%Y-%m-%d %H:%M")
                who = m.author_name or ("Visitor" if m.author_kind == "visitor" else "Agent")
                lines.append(f"[{when} UTC] {who}: {m.body}")
        after = msgs[-1].seq
    return PlainTextResponse("\n".join(lines) + "\n", headers={
        "content-disposition": f'attachment; filename="conversation-{conv.id}.txt"'})


async def get_visitor(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    visitor = await papote.store.get_visitor(request.path_params["vid"])
    if visitor is None:
        raise NotFound()
    authorize(principal, Action.READ, visitor.site_id)
    convs = await papote.store.list_conversations(
        ConversationQuery(site_ids=[visitor.site_id], visitor_id=visitor.id, limit=50))
    return {"visitor": visitor_summary(visitor, full=True),
            "conversations": await papote.chat.summaries(convs, principal),
            "events": [{"name": e.name, "data": e.data, "at": e.at}
                       for e in await papote.store.visitor_events(visitor.id)]}


async def openapi(request: Request, _: Principal | None) -> Any:
    from papote.web.openapi import openapi_document

    return openapi_document(papote_of(request).config)


ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/login", "Sign in; sets the session cookie", login, "none",
             body=shapes.LOGIN, response=shapes.SIGNED_IN),
    Endpoint("POST", "/api/logout", "Sign out; closes this session's sockets", logout),
    Endpoint("GET", "/api/me", "The signed-in agent and their sites", me, response=shapes.ME),
    Endpoint("PATCH", "/api/me", "Change my name, avatar or capacity", update_me,
             body=shapes.UPDATE_ME, response=shapes.AGENT_ONLY),
    Endpoint("POST", "/api/me/password", "Change my password (ends my other sessions)", change_password,
             body=shapes.CHANGE_PASSWORD),
    Endpoint("GET", "/api/sites", "Sites I belong to", list_sites, "any", response=shapes.SITES),
    Endpoint("POST", "/api/sites", "Create a site (I become its owner)", create_site,
             body=shapes.CREATE_SITE, response=ref("SiteWithSecrets"), status=201),
    Endpoint("GET", "/api/sites/{key}", "A site (with its secrets for admins and owners)", get_site,
             response=ref("Site")),
    Endpoint("PATCH", "/api/sites/{key}", "Change a site's name, origins or settings", update_site,
             body=shapes.UPDATE_SITE, response=ref("SiteWithSecrets")),
    Endpoint("POST", "/api/sites/{key}/secrets/rotate", "Rotate the identity-verification secret",
             rotate_secret, response=shapes.SECRETS),
    Endpoint("GET", "/api/sites/{key}/snippet", "The embed snippet", snippet, response=shapes.SNIPPET),
    Endpoint("GET", "/api/sites/{key}/agents", "Agents of a site", list_site_agents,
             response=shapes.SITE_AGENTS),
    Endpoint("PATCH", "/api/sites/{key}/agents/{agent_id}",
             "Change the role of a member of lower rank, or disable them on this site",
             update_site_agent, body=shapes.UPDATE_AGENT, response=ref("Agent")),
    Endpoint("DELETE", "/api/sites/{key}/agents/{agent_id}",
             "Remove a member of lower rank from the site, or leave it (my own id)", remove_site_agent),
    Endpoint("POST", "/api/sites/{key}/transfer",
             "Hand the site's ownership to a member (an owner only; I become an admin)", transfer_site,
             body=shapes.TRANSFER, response=shapes.TRANSFERRED),
    Endpoint("GET", "/api/sites/{key}/keys", "API keys of a site", list_keys, response=shapes.KEYS),
    Endpoint("POST", "/api/sites/{key}/keys", "Create an API key (shown once)", create_key,
             body=shapes.CREATE_KEY, response=shapes.NEW_KEY, status=201),
    Endpoint("DELETE", "/api/sites/{key}/keys/{key_id}", "Revoke an API key", delete_key),
    Endpoint("GET", "/api/sites/{key}/canned", "Canned responses", list_canned, response=shapes.CANNED),
    Endpoint("POST", "/api/sites/{key}/canned", "Create or replace a canned response", save_canned,
             body=shapes.SAVE_CANNED, response=shapes.CANNED_ITEM, status=201),
    Endpoint("DELETE", "/api/sites/{key}/canned/{canned_id}", "Delete a canned response", delete_canned),
    Endpoint("GET", "/api/conversations", "List, filter and search conversations", list_conversations,
             "any", query=shapes.LIST_CONVERSATIONS_QUERY, response=shapes.CONVERSATIONS),
    Endpoint("GET", "/api/conversations/{cid}", "A conversation with its visitor's context",
             get_conversation, "any", response=ref("ConversationDetail")),
    Endpoint("GET", "/api/conversations/{cid}/messages", "Messages, by page or after a seq",
             get_messages, "any", query=shapes.MESSAGES_QUERY, response=shapes.MESSAGES),
    Endpoint("POST", "/api/conversations/{cid}/messages", "Send a message or a private note",
             post_message, "any", body=lambda config: shapes.post_message(config.max_body_chars),
             response=shapes.ACK, status=201),
    Endpoint("POST", "/api/conversations/{cid}/close", "Close a conversation", close_conversation, "any",
             response=ref("Conversation")),
    Endpoint("POST", "/api/conversations/{cid}/reopen", "Reopen a closed conversation", reopen_conversation,
             "any", response=ref("Conversation")),
    Endpoint("POST", "/api/conversations/{cid}/assign", "Assign a conversation to an agent of its site",
             assign_conversation, "any", body=shapes.ASSIGN, response=ref("Conversation")),
    Endpoint("POST", "/api/conversations/{cid}/label", "Add and remove labels", label_conversation, "any",
             body=shapes.LABEL_CHANGE, response=ref("Conversation")),
    Endpoint("GET", "/api/conversations/{cid}/transcript", "Plain-text transcript", transcript, "any",
             media_type="text/plain"),
    Endpoint("GET", "/api/visitors/{vid}", "A visitor, their conversations and tracked events",
             get_visitor, "any", response=shapes.VISITOR_DETAIL),
    Endpoint("GET", "/api/openapi.json", "This document", openapi, "none", response={"type": "object"}),
]


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def check_write(request: Request, ep: Endpoint) -> None:
    """Refuse a write another origin's page could have made a signed-in browser send (CSRF)."""
    if request.method not in WRITES:
        return
    content_type = request.headers.get("content-type", "").lower()
    json_type = content_type.startswith("application/json")
    if content_type and not json_type:
        # A cross-site HTML form can only send form or text bodies.
        raise PapoteError("send application/json", ErrorCode.BAD_FRAME)
    if ep.auth == "any" and request.headers.get("authorization", "").lower().startswith("bearer "):
        return  # an API key is not something a browser attaches by itself
    if not json_type and CSRF_HEADER not in request.headers:
        # A body-less POST is a "simple" request a page of a sibling origin can send with the cookie.
        raise PapoteError("a write needs Content-Type: application/json (even with no body) or an "
                          "X-Papote-Request header", ErrorCode.BAD_FRAME)


def _wrap(ep: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        request.state.endpoint = ep
        try:
            check_write(request, ep)
            principal = await principal_of(request, ep.auth)
            if ep.query:
                params(request)
            result = await ep.handler(request, principal)
        except PapoteError as exc:
            return error_response(exc)
        except Exception:
            # A bug, not bad input: logged, and answered with a code like any other error.
            log.exception("%s %s failed", request.method, ep.path)
            return error_response(PapoteError("internal error", ErrorCode.INTERNAL))
        if isinstance(result, Response):
            return result
        return JSONResponse(result, status_code=ep.status)

    endpoint.__name__ = ep.handler.__name__
    return endpoint


def all_endpoints() -> list[Endpoint]:
    """The core endpoints plus the console's (reports, invites), in matching order."""
    from papote.web import console_api

    return [*console_api.ENDPOINTS, *ENDPOINTS]


def routes(config: Config | None = None) -> list[Route]:
    by_path: dict[str, list[Endpoint]] = {}
    for ep in all_endpoints():
        # A schema may only say what `validate` enforces: checked once, at start-up.
        body = ep.body_schema(config or Config())
        if body is not None:
            check_supported(body, f"{ep.method} {ep.path} body")
        for name, schema in ep.query.items():
            check_supported(schema, f"{ep.method} {ep.path} ?{name}")
        by_path.setdefault(ep.path, []).append(ep)
    out = []
    for path, eps in by_path.items():
        if len(eps) == 1:
            out.append(Route(path, _wrap(eps[0]), methods=[eps[0].method]))
            continue
        table = {ep.method: _wrap(ep) for ep in eps}

        async def dispatch(request: Request, table: dict[str, Any] = table) -> Response:
            return await table[request.method](request)  # type: ignore[no-any-return]

        out.append(Route(path, dispatch, methods=list(table)))
    return out

"""A site's team: its members with their presence and load, changing a role or disabling a member (only
one of lower rank, members.py), removing or leaving, and handing the ownership over."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from papote.authz import Action, Principal, authorize
from papote.conversations import agent_topic
from papote.errors import ErrorCode, NotFound, PapoteError
from papote.events import Revoked
from papote.members import (
    Seat,
    check_acts_on,
    check_change_role,
    check_grant,
    check_leave,
    check_transfer,
    parse_role,
)
from papote.node import Papote
from papote.privacy import AuditAction
from papote.store import Site
from papote.types import Role
from papote.web import api_schemas as shapes
from papote.web.api_schemas import ref
from papote.web.http import Endpoint, agent_json, field_str, json_body, need, papote_of, site_for


async def list_site_agents(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    members = await papote.team.members(site.id)
    loads = await papote.team.loads([a.id for a, _ in members])
    return {"agents": [{**agent_json(a, m.role, disabled=m.disabled), "presence": papote.presence.effective(a.id),
                        "load": loads.get(a.id, 0)} for a, m in members]}


async def _seats(papote: Papote, site: Site, principal: Principal | None) -> tuple[Seat, dict[str, Seat]]:
    """The acting member's seat and every member's, read fresh (a role may have changed since sign-in)."""
    assert principal is not None
    return await papote.team.seat_of(site.id, principal.id)


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
        await papote.team.set_role(site.id, target.agent_id, role)
        if role is not target.role:
            await papote.privacy.record(site.id, principal, AuditAction.ROLE_CHANGED, target.agent_id,
                                        {"from": target.role.value, "to": role.value})
    agent = await papote.accounts.agent(target.agent_id)
    assert agent is not None
    if disabled is not None and disabled != target.disabled:
        # On this site only: the member's sockets that carry this site close (4012) and reconnect
        # without it (or, enabled again, with it); the account, its sessions and its other sites go on.
        await papote.team.set_disabled(site.id, agent.id, disabled)
        await papote.privacy.record(site.id, principal, AuditAction.MEMBER_DISABLED if disabled
                                    else AuditAction.MEMBER_ENABLED, agent.id)
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
    await papote.team.set_role(site.id, target.agent_id, None)
    await papote.privacy.record(site.id, principal, AuditAction.MEMBER_REMOVED, target.agent_id,
                                {"left": target.agent_id == me.agent_id})
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
    await papote.team.transfer(site.id, me.agent_id, target.agent_id)
    await papote.privacy.record(site.id, principal, AuditAction.OWNERSHIP_TRANSFERRED, target.agent_id)
    agents = {a.id: (a, m) for a, m in await papote.team.members(site.id)}
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


ENDPOINTS: list[Endpoint] = [
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
]

"""REST endpoints that serve the agent console beyond the core: reports, CSV export, invitations.

Declared with the same `Endpoint` records as the other resources; web/api.py mounts them and lists them
in OpenAPI.

Invitations: an owner or admin invites an email with a role (admin or agent) and gets a one-time link
`/console#invite=TOKEN`. The token travels in the fragment, so it never reaches a server log or a
Referer header; the console posts it in a JSON body. Only its digest is stored. Accepting creates the
agent (name + password) or, when the email already has an account, adds the role after checking that
account's password — an invitation link must never be a way into someone else's account. Joining a
site always takes the account's own consent: nobody is made a member by someone else.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from papote.authz import Action, Principal
from papote.conversations import agent_topic
from papote.errors import AuthError, ErrorCode, NotFound, PapoteError
from papote.events import Revoked
from papote.ids import now_ms
from papote.members import check_grant
from papote.node import Papote
from papote.privacy import AuditAction
from papote.reports import MAX_BUCKETS, Report, to_csv
from papote.sites import settings_of
from papote.store import Invite, Site
from papote.types import Role
from papote.web import api_schemas as shapes
from papote.web.accounts_api import attempt_of, signed_in
from papote.web.http import Endpoint, field_str, json_body, need, papote_of, params, site_for
from papote.web.members_api import grantable_role

DAY_MS = 24 * 3600 * 1000
#: Without `from`, a report covers the last 30 days.
DEFAULT_RANGE_MS = 30 * DAY_MS


# -- reports -----------------------------------------------------------------------------------------


async def _report(request: Request, principal: Principal | None) -> tuple[Report, Site, dict[str, Any]]:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    now = now_ms()
    q = params(request)
    until = now if q["to"] is None else q["to"]
    since = max(0, until - DEFAULT_RANGE_MS) if q["from"] is None else q["from"]
    # A `from` at or after `to` is an empty range: its report counts nothing.
    since = min(since, until)
    bucket = q["bucket"] or ("hour" if until - since <= 2 * DAY_MS else "day")
    span = 3_600_000 if bucket == "hour" else DAY_MS
    # At most MAX_BUCKETS buckets: an older `from` moves up to fit, and the answer's `from` says so.
    since = max(since, until - MAX_BUCKETS * span)
    hours = settings_of(site).get("hours") or {}
    tz = q["tz"] or hours.get("tz") or "UTC"
    report = await papote.reports.build(site.id, since, until, now, bucket=bucket, tz=tz, agent_id=q["agent"])
    meta = {"site": site.key, "from": since, "to": until, "bucket": bucket, "tz": tz, "agent": q["agent"]}
    return report, site, meta


async def get_report(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    report, site, meta = await _report(request, principal)
    names = await papote.team.names(site.id)
    return {
        **meta,
        "summary": report.summary.as_dict(),
        "series": [{"start": start, **s.as_dict()} for start, s in report.series],
        "agents": [{"agent": agent_id, "name": names.get(agent_id, "") if agent_id else "",
                    **s.as_dict()} for agent_id, s in report.agents.items()],
        "nps_comments": report.nps_comments,
        "bot": report.bot.as_dict(),
    }


async def get_report_csv(request: Request, principal: Principal | None) -> Response:
    report, _, meta = await _report(request, principal)
    name = f"papote-report-{meta['site']}" + (f"-{meta['agent']}" if meta["agent"] else "") + ".csv"
    # Both parts are ids ([A-Za-z0-9_-]); this keeps the header safe should that ever change.
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return PlainTextResponse(to_csv(report, meta["tz"]), media_type="text/csv", headers={
        "content-disposition": f'attachment; filename="{name}"'})


# -- invitations -------------------------------------------------------------------------------------


async def create_invite(request: Request, principal: Principal | None) -> Any:
    """Invite an email to the site. The answer is the same whether or not the email has an account:
    an account joins a site only by accepting, and an inviter learns nothing about other tenants."""
    assert principal is not None
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    if "password" in body:
        # The old "add an agent with a password" form: people now choose their own when they accept.
        raise PapoteError("an invitation carries no password: the person sets theirs when accepting",
                          ErrorCode.BAD_FIELD)
    email = need(field_str(body, "email", max_len=254, min_len=3)).strip().lower()
    if "@" not in email:
        raise PapoteError("an invitation needs a valid email", ErrorCode.BAD_FIELD)
    role = grantable_role(body.get("role", "agent"), principal, site)
    invite, token = await papote.invites.create(site.id, email, role, principal.id)
    # The invitation's id, never its email: the log copies no personal data.
    await papote.privacy.record(site.id, principal, AuditAction.INVITE_SENT, invite.id, {"role": role.value})
    # Mailed to the invitee when the server sends mail; the link is in the answer either way (the
    # owner may still pass it on by hand).
    emailed = await papote.agent_mail.invitation(invite, token, principal.name, site)
    return JSONResponse({"id": invite.id, "email": email, "role": role, "expires_at": invite.expires_at,
                         "token": token, "url": f"{papote.config.base_url.rstrip('/')}/console#invite={token}",
                         "emailed": emailed}, status_code=201)


async def _invite_json(papote: Papote, invite: Invite, *, site: bool = False) -> dict[str, Any]:
    author = await papote.accounts.agent(invite.created_by)
    out: dict[str, Any] = {
        "id": invite.id, "email": invite.email, "role": invite.role,
        "invited_by": {"id": invite.created_by, "name": author.name if author else ""},
        "created_at": invite.created_at, "expires_at": invite.expires_at,
        "valid": await papote.invites.author_may_grant(invite),
    }
    if site:
        found = await papote.site_by_id(invite.site_id)
        out["site"] = {"id": invite.site_id, "key": found.key if found else "", "name": found.name if found else ""}
    return out


async def list_site_invites(request: Request, principal: Principal | None) -> Any:
    """The site's pending invitations; `valid: false` when its author lost the power to grant it."""
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    invites = await papote.invites.of_site(site.id)
    return {"invites": [await _invite_json(papote, i) for i in invites]}


async def withdraw_invite(request: Request, principal: Principal | None) -> Any:
    """Withdraw a pending invitation: any admin or owner, for a role they could grant themselves."""
    assert principal is not None
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    invite = await papote.invites.by_id(request.path_params["invite_id"])
    if invite is None or invite.site_id != site.id:
        raise NotFound("no such invitation")
    check_grant(principal.roles[site.id], Role(invite.role))
    await papote.invites.withdraw(invite)
    await papote.privacy.record(site.id, principal, AuditAction.INVITE_WITHDRAWN, invite.id)
    return {"ok": True}


async def _my_invite(request: Request, principal: Principal | None) -> tuple[Papote, Invite, str]:
    assert principal is not None
    papote = papote_of(request)
    agent = await papote.accounts.agent(principal.id)
    invite = await papote.invites.by_id(request.path_params["invite_id"])
    # Another email's invitation looks exactly like none.
    if invite is None or agent is None or invite.email != agent.email:
        raise NotFound("no such invitation")
    return papote, invite, agent.id


async def my_invites(request: Request, principal: Principal | None) -> Any:
    """Invitations to my email that still work: the console offers to accept or decline them."""
    assert principal is not None
    papote = papote_of(request)
    agent = await papote.accounts.agent(principal.id)
    invites = await papote.invites.to_email(agent.email) if agent else []
    listed = [await _invite_json(papote, i, site=True) for i in invites]
    return {"invites": [i for i in listed if i["valid"]]}


async def accept_my_invite(request: Request, principal: Principal | None) -> Any:
    """Accept, signed in: no password to type again, the session is the consent."""
    papote, invite, agent_id = await _my_invite(request, principal)
    if not await papote.invites.author_may_grant(invite):
        raise NotFound("this invitation has expired or was withdrawn")
    await papote.invites.accept(invite, agent_id)
    # My console sockets reconnect, and their new welcome carries the site.
    papote.bus.publish(agent_topic(agent_id), Revoked(site=invite.site_id, joined=True))
    site = await papote.site_by_id(invite.site_id)
    role = await papote.team.role_of(agent_id, invite.site_id)
    return {"site": {"id": invite.site_id, "key": site.key if site else "", "name": site.name if site else "",
                     "role": role}}


async def decline_my_invite(request: Request, _principal: Principal | None) -> Any:
    papote, invite, _ = await _my_invite(request, _principal)
    await papote.invites.withdraw(invite)
    return {"ok": True}


async def inspect_invite(request: Request, _: Principal | None) -> Any:
    """What an invitation is for. It does not say whether the email has an account (that would let
    any admin probe emails by inviting them): the console offers both "create" and "sign in"."""
    papote = papote_of(request)
    body = await json_body(request)
    invite = await papote.invites.live(need(field_str(body, "token", max_len=128, min_len=8)))
    site = await papote.site_by_id(invite.site_id)
    return {"email": invite.email, "role": invite.role, "site": site.name if site else "",
            "expires_at": invite.expires_at}


async def accept_invite(request: Request, _: Principal | None) -> Response:
    papote = papote_of(request)
    body = await json_body(request)
    token = need(field_str(body, "token", max_len=128, min_len=8))
    password = need(field_str(body, "password", max_len=256))
    invite = await papote.invites.live(token)
    agent = await papote.accounts.agent_by_email(invite.email)
    if agent is None:
        name = (field_str(body, "name", required=False, max_len=120) or "").strip()
        agent = await papote.accounts.create_agent(invite.email, password, name)
    # Logging in checks the password of an existing account (with the lockout) and mints the session.
    try:
        result = await papote.accounts.login(invite.email, password, attempt_of(request))
    except AuthError as exc:
        if exc.code is ErrorCode.UNAUTHORIZED:
            raise AuthError("this email already has an account: enter its password") from None
        raise
    await papote.invites.accept(invite, agent.id, token=token)
    return await signed_in(papote, result)


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/sites/{key}/reports", "Reports of a site or one agent, with a series over time",
             get_report, query=shapes.REPORT_QUERY, response=shapes.REPORT),
    Endpoint("GET", "/api/sites/{key}/reports/csv", "The same report as CSV", get_report_csv,
             query=shapes.REPORT_QUERY, media_type="text/csv"),
    Endpoint("POST", "/api/sites/{key}/invites", "Invite someone by email (mailed; also returns the one-time link)",
             create_invite, body=shapes.CREATE_INVITE, response=shapes.INVITE, status=201),
    Endpoint("POST", "/api/sites/{key}/agents", "Add a member: the same invitation as …/invites",
             create_invite, body=shapes.CREATE_INVITE, response=shapes.INVITE, status=201,
             operation_id="add_site_agent"),
    Endpoint("GET", "/api/sites/{key}/invites", "Pending invitations of a site", list_site_invites,
             response=shapes.SITE_INVITES),
    Endpoint("DELETE", "/api/sites/{key}/invites/{invite_id}", "Withdraw a pending invitation", withdraw_invite),
    Endpoint("GET", "/api/me/invites", "Invitations to my email, to accept or decline", my_invites,
             response=shapes.MY_INVITES),
    Endpoint("POST", "/api/me/invites/{invite_id}/accept", "Accept an invitation (signed in)", accept_my_invite,
             response=shapes.ACCEPTED),
    Endpoint("POST", "/api/me/invites/{invite_id}/decline", "Decline an invitation", decline_my_invite),
    Endpoint("POST", "/api/invites/inspect", "What an invitation is for (before accepting it)",
             inspect_invite, "none", body=shapes.INSPECT_INVITE, response=shapes.INVITE_INFO),
    Endpoint("POST", "/api/invites/accept", "Accept an invitation: set name and password, sign in",
             accept_invite, "none", body=shapes.ACCEPT_INVITE, response=shapes.SIGNED_IN),
]

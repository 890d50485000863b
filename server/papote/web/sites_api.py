"""Sites: the ones I belong to, creating one (I become its owner), its settings, origins and secrets, and
the embed snippet."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from papote.authz import Action, Principal
from papote.conversations import agent_topic
from papote.errors import ErrorCode, Forbidden, PapoteError
from papote.events import Revoked
from papote.node import Papote
from papote.privacy import AuditAction
from papote.sites import normalise_origin, settings_of, validate_settings
from papote.snippet import render_snippet
from papote.store import Site
from papote.types import PrincipalKind, Role
from papote.web import api_schemas as shapes
from papote.web.api_schemas import ref
from papote.web.http import Endpoint, field_str, json_body, need, papote_of, site_for, site_json, str_list


async def list_sites(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    if principal.kind is PrincipalKind.API_KEY:
        site = await papote.site_by_id(principal.site_id) if principal.site_id else None
        return {"sites": [site_json(site)] if site else []}
    sites = await papote.sites.of_agent(principal.id)
    return {"sites": [{**site_json(s), "role": principal.roles[s.id].value} for s in sites]}


async def create_site(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    if papote.config.site_creation != "anyone" and not await papote.accounts.is_operator(principal.id):
        # A shared server's tenants do not get to multiply themselves (PAPOTE_SITE_CREATION).
        raise Forbidden("creating sites is reserved to this server's operators")
    body = await json_body(request)
    name = need(field_str(body, "name", max_len=120, min_len=1))
    origins = [normalise_origin(o) for o in str_list(body.get("origins") or [], "origins")]
    settings = validate_settings(body.get("settings") or {})
    await papote.sites.check_support_address(None, settings)
    site = await papote.sites.create(name, origins, settings, principal.id)
    # My console sockets reconnect, and their new welcome carries the site.
    papote.bus.publish(agent_topic(principal.id), Revoked(site=site.id, joined=True))
    return JSONResponse(site_json(site, secrets=True), status_code=201)


async def get_site(request: Request, principal: Principal | None) -> Any:
    site = await site_for(request, principal, Action.VIEW_SITE)
    assert principal is not None
    admin = principal.kind is PrincipalKind.AGENT and principal.roles[site.id].rank >= Role.ADMIN.rank
    return {**site_json(site, secrets=admin), "email_available": papote_of(request).config.email_enabled}


async def update_site(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = need(field_str(body, "name", max_len=120, min_len=1))
    if "origins" in body:
        changes["origins"] = [normalise_origin(o) for o in str_list(body["origins"], "origins")]
    if "settings" in body:
        if not isinstance(body["settings"], dict):
            raise PapoteError("settings must be an object", ErrorCode.BAD_FIELD)
        changes["settings"] = validate_settings(body["settings"], site.settings)
        await papote.sites.check_support_address(site.id, changes["settings"])
    before = site
    site = await papote.sites.update(site.id, **changes)
    papote.site_changed(site)
    await _audit_update(papote, before, site, principal)
    return {**site_json(site, secrets=True), "email_available": papote.config.email_enabled}


async def _audit_update(papote: Papote, before: Site, after: Site, principal: Principal | None) -> None:
    """What a PATCH changed, by name (a setting's value may be long, and the names say what to look at)."""
    old, new = settings_of(before), settings_of(after)
    names = sorted(k for k in new if old.get(k) != new[k])
    if names:
        await papote.privacy.record(after.id, principal, AuditAction.SETTINGS_CHANGED, "", {"settings": names})
    if before.name != after.name:
        await papote.privacy.record(after.id, principal, AuditAction.SITE_RENAMED, "", {"name": after.name})
    if before.origins != after.origins:
        await papote.privacy.record(after.id, principal, AuditAction.ORIGINS_CHANGED, "",
                                    {"origins": after.origins})


async def rotate_secret(request: Request, principal: Principal | None) -> Any:
    """A new secret becomes current; the previous one stays valid until the next rotation."""
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    site = await papote.sites.rotate_secret(site)
    papote.site_changed(site)
    await papote.privacy.record(site.id, principal, AuditAction.SECRET_ROTATED)
    return {"secrets": site.secrets}


async def snippet(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    return {"snippet": render_snippet(site.key, papote.config.base_url)}


ENDPOINTS: list[Endpoint] = [
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
]

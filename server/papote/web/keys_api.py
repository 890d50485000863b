"""A site's API keys, for server-to-server calls scoped to that site: listed, created (the secret is
shown once, only its digest is kept) and revoked."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from papote.authz import Action, Principal
from papote.errors import NotFound
from papote.privacy import AuditAction
from papote.web import api_schemas as shapes
from papote.web.http import Endpoint, field_str, json_body, need, papote_of, site_for


async def list_keys(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    keys = await papote.sites.api_keys(site.id)
    return {"keys": [{"id": k.id, "name": k.name, "created_at": k.created_at} for k in keys]}


async def create_key(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    name = need(field_str(body, "name", max_len=80, min_len=1))
    key_id, secret = await papote.accounts.create_api_key(site.id, name)
    await papote.privacy.record(site.id, principal, AuditAction.API_KEY_CREATED, key_id, {"name": name})
    # The secret is shown once: only its digest is kept.
    return JSONResponse({"id": key_id, "key": secret}, status_code=201)


async def delete_key(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    if not await papote.sites.revoke_api_key(site.id, request.path_params["key_id"]):
        raise NotFound("no such key")
    await papote.privacy.record(site.id, principal, AuditAction.API_KEY_REVOKED, request.path_params["key_id"])
    return {"ok": True}


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/sites/{key}/keys", "API keys of a site", list_keys, response=shapes.KEYS),
    Endpoint("POST", "/api/sites/{key}/keys", "Create an API key (shown once)", create_key,
             body=shapes.CREATE_KEY, response=shapes.NEW_KEY, status=201),
    Endpoint("DELETE", "/api/sites/{key}/keys/{key_id}", "Revoke an API key", delete_key),
]

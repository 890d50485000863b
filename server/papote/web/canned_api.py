"""A site's canned responses: the replies its agents insert by shortcut."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from papote.authz import Action, Principal
from papote.errors import NotFound
from papote.web import api_schemas as shapes
from papote.web.http import Endpoint, field_str, json_body, need, papote_of, site_for


async def list_canned(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    items = await papote.sites.canned(site.id)
    return {"canned": [{"id": c.id, "shortcut": c.shortcut, "body": c.body} for c in items]}


async def save_canned(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    shortcut = need(field_str(body, "shortcut", max_len=40, min_len=1))
    item = await papote.sites.save_canned(site.id, shortcut, need(field_str(body, "body", max_len=4000, min_len=1)))
    return JSONResponse({"id": item.id, "shortcut": item.shortcut, "body": item.body}, status_code=201)


async def delete_canned(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    if not await papote.sites.delete_canned(site.id, request.path_params["canned_id"]):
        raise NotFound("no such canned response")
    return {"ok": True}


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/sites/{key}/canned", "Canned responses", list_canned, response=shapes.CANNED),
    Endpoint("POST", "/api/sites/{key}/canned", "Create or replace a canned response", save_canned,
             body=shapes.SAVE_CANNED, response=shapes.CANNED_ITEM, status=201),
    Endpoint("DELETE", "/api/sites/{key}/canned/{canned_id}", "Delete a canned response", delete_canned),
]

"""Contacts over REST (contacts.py): a contact's timeline across channels, finding a site's contacts, and
an agent's explicit merge of two of them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from papote.authz import Action, Principal
from papote.web import api_schemas as shapes
from papote.web.http import Endpoint, json_body, papote_of, params, site_for


async def timeline(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    return await papote_of(request).contacts.timeline(principal, request.path_params["vid"])


async def search_contacts(request: Request, principal: Principal | None) -> Any:
    site = await site_for(request, principal, Action.READ)
    assert principal is not None
    q = params(request)
    return {"contacts": await papote_of(request).contacts.search(principal, site.id, q["q"] or "")}


async def merge_contacts(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    body = await json_body(request)
    return await papote_of(request).contacts.merge(principal, request.path_params["vid"], body["from"])


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/visitors/{vid}/timeline",
             "A contact across channels: their identities and every conversation, with its channel",
             timeline, "any", response=shapes.TIMELINE),
    Endpoint("GET", "/api/sites/{key}/contacts", "Find a site's contacts by name, email or channel address",
             search_contacts, "any", query=shapes.CONTACTS_QUERY, response=shapes.CONTACTS),
    Endpoint("POST", "/api/visitors/{vid}/merge", "Merge another contact of the site into this one",
             merge_contacts, "agent", body=shapes.MERGE, response=shapes.MERGED),
]

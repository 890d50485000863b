"""The REST API (JSON) for the console, site owners and integrations. OpenAPI at /api/openapi.json.

Authentication: the agent session cookie (set by `POST /api/login`), or `Authorization: Bearer <API key>`
for server-to-server calls scoped to one site. Every conversation access goes through `authz.authorize`
like the WebSocket does; what a principal may not see is `404 not_found`, as if it did not exist.
Every write (POST, PUT, PATCH, DELETE) that is not authenticated by an API key — the cookie's, and the
unauthenticated sign-in ones — must say `Content-Type: application/json` (even with no body) or carry an
`X-Papote-Request` header. A page of another origin, a sibling subdomain included (the same *site* to
SameSite=Strict), can send neither without a CORS preflight, which this server never grants: so no other
page can make a signed-in browser write (docs/operations.md, "Security model").

One module per resource declares its endpoints (web/*_api.py; what they share is in web/http.py); this one
mounts them all, in one order, and serves the OpenAPI document built from the same records.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from papote.authz import Principal
from papote.config import Config
from papote.web import (
    accounts_api,
    bot_api,
    canned_api,
    channel_hooks,
    channels_api,
    console_api,
    contacts_api,
    conversations_api,
    files_api,
    inbound_mail_api,
    keys_api,
    mail_api,
    members_api,
    moderation_api,
    privacy_api,
    push_api,
    sites_api,
    webhooks_api,
)
from papote.web.http import Endpoint, papote_of, wrap
from papote.web.openapi import openapi_document
from papote.web.schema import check_supported


async def openapi(request: Request, _: Principal | None) -> Any:
    document = openapi_document(papote_of(request).config, all_endpoints())
    document["paths"].update(channel_hooks.openapi_paths())  # providers' webhooks: not JSON API routes
    return document


#: This document's own endpoint.
OPENAPI = Endpoint("GET", "/api/openapi.json", "This document", openapi, "none", response={"type": "object"})


def all_endpoints() -> list[Endpoint]:
    """Every resource's endpoints, in matching order (the console's reports and invitations first)."""
    return [*console_api.ENDPOINTS, *accounts_api.ENDPOINTS, *sites_api.ENDPOINTS, *members_api.ENDPOINTS,
            *keys_api.ENDPOINTS, *canned_api.ENDPOINTS, *conversations_api.ENDPOINTS, *contacts_api.ENDPOINTS,
            *files_api.ENDPOINTS,
            OPENAPI, *push_api.ENDPOINTS, *webhooks_api.ENDPOINTS, *moderation_api.ENDPOINTS,
            *privacy_api.ENDPOINTS, *mail_api.ENDPOINTS, *inbound_mail_api.ENDPOINTS, *channels_api.ENDPOINTS,
            *bot_api.ENDPOINTS]


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
            out.append(Route(path, wrap(eps[0]), methods=[eps[0].method]))
            continue
        table = {ep.method: wrap(ep) for ep in eps}

        async def dispatch(request: Request, table: dict[str, Any] = table) -> Response:
            return await table[request.method](request)  # type: ignore[no-any-return]

        out.append(Route(path, dispatch, methods=list(table)))
    return out + files_api.preflight_routes()


"""A site's messaging channels (connect, list, disconnect: the secrets are never shown again after
saving, only their last characters), and what the composer of a conversation needs to know about its
channel before the agent writes (channels/messaging/service.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from papote.authz import Action, Principal
from papote.channels.messaging.service import ADAPTERS
from papote.web.api_schemas import named
from papote.web.http import Endpoint, json_body, papote_of, site_for
from papote.web.schema import Schema, array, boolean, enum, nullable, obj, string

_STR = string(0, 100000)
_MS = {"type": "integer", "minimum": 0, "description": "epoch milliseconds"}
KINDS = list(ADAPTERS)



def _connect(kind: str) -> Schema:
    """One provider's connect body: its fields, each with the form `Messaging.connect` checks."""
    fields = ADAPTERS[kind].fields
    settings = obj({f.name: string(0 if not f.required else 1, 1000,
                                   pattern=f"^(?:{f.pattern}){'' if f.required else '?'}$", description=f.label)
                    for f in fields}, required=[f.name for f in fields if f.required], closed=True)
    return obj({"kind": {"const": kind}, "name": named(80), "settings": settings},
               required=["kind", "name", "settings"], closed=True)


CONNECT: Schema = {"type": "object", "required": ["kind", "name", "settings"],
                   "oneOf": [_connect(kind) for kind in KINDS]}
CHANNEL: Schema = obj({
    "id": _STR, "kind": enum(*KINDS), "name": _STR,
    "config": obj({}, description="the settings shown back"),
    "secrets": obj({}, description="each secret as a hint: its last 4 characters"),
    "webhook_url": _STR, "created_at": _MS,
}, required=["id", "kind", "name", "config", "secrets", "webhook_url", "created_at"])
CHANNELS: Schema = obj({
    "channels": array(CHANNEL, 1000),
    "providers": array(obj({"kind": enum(*KINDS), "fields": array(obj({
        "name": _STR, "label": _STR, "secret": boolean(), "required": boolean()}), 20)}), 10),
}, required=["channels", "providers"])
STATE = enum("queued", "sent", "delivered", "read", "failed")
CONVERSATION_CHANNEL: Schema = obj({
    "channel": enum("web", *KINDS),
    "account": nullable(obj({"id": _STR, "name": _STR})),
    "address": nullable(_STR),
    "window": nullable(obj({"open": boolean(), "closes_at": nullable(_MS), "fallback": nullable(_STR)})),
    "can_send": boolean(),
    "reason": nullable(_STR),
    "email": nullable(_STR),
    "deliveries": obj({}, description="{seq: {state, error}} of the agents' replies on the channel"),
}, required=["channel", "account", "address", "window", "can_send", "reason", "email", "deliveries"])


async def list_channels(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    accounts = await papote.store.channel_accounts(site.id)
    return {"channels": [papote.messaging.view(a) for a in accounts], "providers": papote.messaging.providers()}


async def connect_channel(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    account = await papote.messaging.connect(site.id, body["kind"], body["name"], body["settings"])
    return JSONResponse(papote.messaging.view(account), status_code=201)


async def disconnect_channel(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    await papote.messaging.disconnect(site.id, request.path_params["channel_id"])
    return {"ok": True}


async def conversation_channel(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    return await papote_of(request).messaging.channel_view(principal, request.path_params["cid"])


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/sites/{key}/channels", "Messaging channels of a site, and the providers one may connect",
             list_channels, response=CHANNELS),
    Endpoint("POST", "/api/sites/{key}/channels", "Connect a messaging channel (its secrets are never shown again)",
             connect_channel, body=CONNECT, response=CHANNEL, status=201),
    Endpoint("DELETE", "/api/sites/{key}/channels/{channel_id}", "Disconnect a messaging channel",
             disconnect_channel),
    Endpoint("GET", "/api/conversations/{cid}/channel",
             "A conversation's channel: whether a reply can go now (and why not), where each reply stands",
             conversation_channel, "any", response=CONVERSATION_CHANNEL),
]

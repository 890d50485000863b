"""A site's outgoing webhooks (endpoints, secret rotation, the delivery log, re-sending) and the inbound API
channel (a customer's message posted by the site's own systems). docs/channels.md explains both.

Endpoints are the site's settings: the admin role (MANAGE_SITE) and a console session. The inbound API
is for servers: the site's API key only (auth "key": an agent's session is no customer's word)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from papote.authz import Action, Principal
from papote.channels.webhooks import EVENT_TYPES
from papote.channels.webhooks.service import endpoint_json, log_json
from papote.config import Config
from papote.web.api_schemas import CLIENT_MSG_ID, EMAIL, ID
from papote.web.http import Endpoint, json_body, papote_of, params, site_for
from papote.web.schema import Schema, array, boolean, enum, integer, nullable, obj, string

# -- shapes ------------------------------------------------------------------------------------------

_STR = string(0, 100000)
_MS = {"type": "integer", "minimum": 0, "description": "epoch milliseconds"}
_EVENTS = array(enum(*EVENT_TYPES), len(EVENT_TYPES), 1, description="the event types this endpoint receives")
#: A port from 0 to 65535 (a larger one is no URL at all).
_PORT = "(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
_URL = string(10, 2000, pattern=f"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+{_PORT}([/?#][!-~]*)?$",
              description="an http(s) URL with a host name or IPv4 address (no credentials); a host that "
                          "does not resolve, or resolves to a non-public address, is 403 unless "
                          "PAPOTE_WEBHOOK_ALLOW_PRIVATE")


def _record(properties: dict[str, Schema], **extra: Any) -> Schema:
    return obj(properties, required=list(properties), **extra)


CREATE_ENDPOINT = obj({"url": _URL, "events": _EVENTS, "description": string(0, 200)}, required=["url", "events"])
UPDATE_ENDPOINT = obj({"url": _URL, "events": _EVENTS, "description": string(0, 200)})
_ENDPOINT_FIELDS: dict[str, Schema] = {
    "id": _STR, "url": _STR, "events": array(_STR, len(EVENT_TYPES)), "description": _STR, "created_at": _MS,
    "rotating_until": nullable({**_MS, "description": "while the previous secret still signs (after a rotation)"}),
}
ENDPOINT = _record(_ENDPOINT_FIELDS)
ENDPOINT_WITH_SECRET = _record({**_ENDPOINT_FIELDS, "secret": string(
    0, 200, description="whsec_…: shown when created and when rotated, never again")})
ENDPOINT_LIST = _record({"endpoints": array(ENDPOINT, 100)})
ATTEMPT = _record({"attempt": {"type": "integer"}, "at": _MS,
                   "status_code": nullable({"type": "integer", "description": "null: no HTTP answer"}),
                   "latency_ms": {"type": "integer"}, "error": _STR})
DELIVERY = _record({
    "id": _STR, "webhook_id": _STR, "type": _STR, "conversation": nullable(_STR),
    "status": enum("queued", "sending", "sent", "failed"), "body": _STR, "attempts": array(ATTEMPT, 1000),
    "error": _STR, "created_at": _MS, "sent_at": nullable(_MS), "next_attempt_at": nullable(_MS),
})
DELIVERIES = _record({"deliveries": array(DELIVERY, 200)})
LOG_QUERY: dict[str, Schema] = {
    "limit": integer(1, 200, default=50),
    "before": {**integer(0, 2**53 - 1), "description": "only deliveries queued before this (epoch ms): the next page"},
}
def inbound_message_schema(config: Config) -> Schema:
    return obj({
        "contact": obj({"external_id": string(1, 200, description="your system's id for the customer"),
                        "name": string(0, 200), "email": EMAIL}, required=["external_id"]),
        "client_msg_id": CLIENT_MSG_ID,
        "body": string(1, config.max_body_chars),
        "conversation": {**ID, "description": "a conversation of this contact; by default their latest (a "
                                              "closed one reopens), or a new one if they have none"},
        "new_conversation": boolean(description="start a new conversation even if the contact has one"),
    }, required=["contact", "client_msg_id", "body"])
INBOUND_ACK = _record({"client_msg_id": _STR, "conversation": _STR, "seq": {"type": "integer"}, "ts": _MS,
                       "visitor": _STR, "duplicate": boolean(description="a retry: the first answer again")})


# -- handlers ----------------------------------------------------------------------------------------

async def list_endpoints(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    return {"endpoints": [endpoint_json(e) for e in await papote.webhooks.endpoints(site)]}


async def create_endpoint(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    endpoint = await papote.webhooks.create(site, body["url"], body["events"], body.get("description", ""))
    return JSONResponse(endpoint_json(endpoint, secret=True), status_code=201)


async def update_endpoint(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    endpoint = await papote.webhooks.update(site, request.path_params["endpoint_id"], url=body.get("url"),
                                            events=body.get("events"), description=body.get("description"))
    return endpoint_json(endpoint)


async def delete_endpoint(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    await papote.webhooks.delete(site, request.path_params["endpoint_id"])
    return {"ok": True}


async def rotate_secret(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    return endpoint_json(await papote.webhooks.rotate(site, request.path_params["endpoint_id"]), secret=True)


async def delivery_log(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    q = params(request)
    entries = await papote.webhooks.log(site, request.path_params["endpoint_id"], q["limit"], q["before"])
    return {"deliveries": [log_json(e) for e in entries]}


async def resend_delivery(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    copy = await papote.webhooks.resend(site, request.path_params["endpoint_id"],
                                        request.path_params["delivery_id"])
    return JSONResponse({"id": copy.id, "webhook_id": copy.payload.get("webhook_id")}, status_code=202)


async def inbound_message(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    site = await site_for(request, principal, Action.WRITE)
    body = await json_body(request)
    contact = body["contact"]
    answer = await papote.inbound.post(
        site, external_id=contact["external_id"], name=contact.get("name"), email=contact.get("email"),
        client_msg_id=body["client_msg_id"], body=body["body"], conversation=body.get("conversation"),
        new_conversation=bool(body.get("new_conversation")))
    return JSONResponse(answer, status_code=201)  # a retry too, with the first answer (as POST …/messages)


_ONE = "/api/sites/{key}/webhooks/{endpoint_id}"

ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/sites/{key}/webhooks", "Webhook endpoints of a site", list_endpoints, response=ENDPOINT_LIST),
    Endpoint("POST", "/api/sites/{key}/webhooks", "Add a webhook endpoint (its secret is shown once)",
             create_endpoint, body=CREATE_ENDPOINT, response=ENDPOINT_WITH_SECRET, status=201),
    Endpoint("PATCH", _ONE, "Change a webhook endpoint's URL, events or description", update_endpoint,
             body=UPDATE_ENDPOINT, response=ENDPOINT),
    Endpoint("DELETE", _ONE, "Remove a webhook endpoint and its deliveries", delete_endpoint),
    Endpoint("POST", f"{_ONE}/rotate", "Rotate an endpoint's secret (the previous one signs for 24 h more)",
             rotate_secret, response=ENDPOINT_WITH_SECRET),
    Endpoint("GET", f"{_ONE}/deliveries", "An endpoint's delivery log, newest first", delivery_log,
             query=LOG_QUERY, response=DELIVERIES),
    Endpoint("POST", f"{_ONE}/deliveries/{{delivery_id}}/resend", "Send a delivery of the log again",
             resend_delivery, response=_record({"id": _STR, "webhook_id": _STR}), status=202),
    Endpoint("POST", "/api/sites/{key}/inbound/messages", "Post a customer's message (inbound API channel)",
             inbound_message, "key", body=inbound_message_schema, response=INBOUND_ACK, status=201),
]

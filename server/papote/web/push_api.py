"""My devices' alerts (Web Push): the server's public key, subscribing this browser, choosing its
alerts, and turning a device off. An agent only ever sees and changes their own devices: another
agent's device id is answered like one that does not exist."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from papote.authz import Principal
from papote.store.push import ALERTS, PushSubscription
from papote.web import api_schemas as shapes
from papote.web.http import Endpoint, json_body, papote_of


def device_json(sub: PushSubscription) -> dict[str, Any]:
    """A device as its owner sees it: never the keys; the endpoint, which identifies this browser's
    subscription to the console that holds it."""
    return {"id": sub.id, "endpoint": sub.endpoint, "label": sub.label, "created_at": sub.created_at,
            "alerts": {a: sub.wants(a) for a in ALERTS}}


async def push_key(request: Request, principal: Principal | None) -> Any:
    return {"public_key": papote_of(request).alerts.public_key()}


async def my_devices(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    return {"devices": [device_json(s) for s in await papote_of(request).alerts.devices(principal.id)]}


async def subscribe(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    body = await json_body(request)
    sub = await papote_of(request).alerts.subscribe(
        principal.id, body["endpoint"], body["keys"]["p256dh"], body["keys"]["auth"], body.get("label") or "",
        body.get("alerts") or {})
    return JSONResponse(device_json(sub), status_code=201)


async def choose_alerts(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    body = await json_body(request)
    sub = await papote_of(request).alerts.choose(principal.id, request.path_params["device_id"], body["alerts"])
    return device_json(sub)


async def unsubscribe(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    await papote_of(request).alerts.unsubscribe(principal.id, request.path_params["device_id"])
    return {"ok": True}


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/push/key", "The server's VAPID public key (null when alerts are off)", push_key,
             response=shapes.PUSH_KEY),
    Endpoint("GET", "/api/me/devices", "My devices that get alerts, and which", my_devices,
             response=shapes.DEVICES),
    Endpoint("POST", "/api/me/devices", "Subscribe this browser to alerts (replaces its previous subscription)",
             subscribe, body=shapes.SUBSCRIBE_DEVICE, response=shapes.DEVICE, status=201),
    Endpoint("PATCH", "/api/me/devices/{device_id}", "Choose a device's alerts", choose_alerts,
             body=shapes.CHOOSE_ALERTS, response=shapes.DEVICE),
    Endpoint("DELETE", "/api/me/devices/{device_id}", "Stop a device's alerts", unsubscribe),
]

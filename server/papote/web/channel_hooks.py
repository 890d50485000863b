"""Messaging providers' webhooks: `GET|POST /channels/{kind}/{channel_id}`.

Not part of the JSON API: the provider, not a browser, calls these, with its own body types (JSON, or a
form for Twilio) and its own signature. This route moves bytes only: the raw body, the headers and the
public URL the provider called go to the messaging service, which verifies, stores, and decides the
answer (2xx only once what the request carries is committed)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from papote.channels.messaging.base import Hook
from papote.web.http import papote_of

log = logging.getLogger("papote.messaging")

#: Providers send small bodies (a batch of a few messages); a bigger one is not theirs.
MAX_HOOK_BYTES = 1_000_000


async def channel_hook(request: Request) -> Response:
    papote = papote_of(request)
    body = await request.body()
    if len(body) > MAX_HOOK_BYTES:
        return Response("too large", status_code=413, media_type="text/plain")
    # The URL the provider called, as the site owner gave it to them (Twilio signs it): the public one.
    url = papote.config.base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    hook = Hook(request.method, url, {k.lower(): v for k, v in request.headers.items()},
                dict(request.query_params), body)
    try:
        answer = await papote.messaging.webhook(request.path_params["kind"], request.path_params["channel_id"],
                                                hook)
    except Exception:  # not stored: the provider delivers again later
        log.exception("channel webhook %s failed", request.url.path)
        return Response("try again", status_code=503, media_type="text/plain")
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)


def openapi_paths() -> dict[str, Any]:
    """The webhook route in the OpenAPI document: not a JSON API operation (the provider's own bodies and
    signatures), described so that integrators see it beside the rest."""
    text = {"text/plain": {"schema": {"type": "string"}}}
    answers = {
        "200": {"description": "stored (or a Meta handshake's challenge); Twilio gets an empty TwiML "
                               "`<Response></Response>` as text/xml",
                "content": {**text, "text/xml": {"schema": {"type": "string"}}}},
        "400": {"description": "a signed body that cannot be read", "content": text},
        "401": {"description": "no signature header", "content": text},
        "403": {"description": "a wrong signature, or a handshake with a wrong verify token", "content": text},
        "404": {"description": "no such channel (or one of another kind)", "content": text},
        "405": {"description": "a GET that is no handshake", "content": text},
        "413": {"description": "a body over 1 MB", "content": text},
        "503": {"description": "not stored this time: the provider delivers again", "content": text},
    }
    params = [
        {"name": "kind", "in": "path", "required": True,
         "schema": {"type": "string", "enum": ["whatsapp", "telegram", "twilio", "messenger", "instagram"]}},
        {"name": "channel_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}},
    ]
    summary = ("A messaging provider's webhook (docs/channels.md): signed with the channel's secret "
               "(X-Hub-Signature-256, X-Telegram-Bot-Api-Secret-Token or X-Twilio-Signature) on the raw body")
    return {"/channels/{kind}/{channel_id}": {
        "get": {"operationId": "channel_handshake", "summary": "Meta's subscription check (hub.challenge)",
                "parameters": [*params, *({"name": name, "in": "query", "required": False,
                                           "schema": {"type": "string"}}
                                          for name in ("hub.mode", "hub.verify_token", "hub.challenge"))],
                "responses": {k: v for k, v in answers.items() if k in ("200", "403", "404", "405")}},
        "post": {"operationId": "channel_webhook", "summary": summary, "parameters": params,
                 "requestBody": {"required": False, "content": {
                     "application/json": {"schema": {}},
                     "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
                 "responses": answers},
    }}


def routes() -> list[Route]:
    return [Route("/channels/{kind}/{channel_id}", channel_hook, methods=["GET", "POST"])]

"""Messaging providers' webhooks: `GET|POST /channels/{kind}/{channel_id}`.

Not part of the JSON API: the provider, not a browser, calls these, with its own body types (JSON, or a
form for Twilio) and its own signature. This route moves bytes only: the raw body, the headers and the
public URL the provider called go to the messaging service, which verifies, stores, and decides the
answer (2xx only once what the request carries is committed)."""

from __future__ import annotations

import logging

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


def routes() -> list[Route]:
    return [Route("/channels/{kind}/{channel_id}", channel_hook, methods=["GET", "POST"])]

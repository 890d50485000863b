"""The REST side of agents' mail: asking for a password reset link, using it, and my mail preferences.

`POST /api/password/forgot` answers `202 {"ok": true}` whatever the address — an account or not,
enabled or not, mail configured or not — and does the work after answering, so neither the answer nor
its timing tells who has an account. Only the client address's budget shows (429): it is about the
caller, not the address. The link the mail carries opens the page of web/email_pages.py, which posts
here (`POST /api/password/reset`) or its own form.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from papote.addresses import address_key
from papote.authz import Principal
from papote.conversations import agent_topic
from papote.errors import RateLimited
from papote.events import Revoked
from papote.node import Papote
from papote.web import api_schemas as shapes
from papote.web.http import Endpoint, field_str, json_body, need, papote_of


def client_key(request: Request) -> str:
    return address_key(request.client.host if request.client else None)


async def forgot_password(request: Request, _: Principal | None) -> Response:
    papote = papote_of(request)
    body = await json_body(request)
    email = need(field_str(body, "email", max_len=254))
    if not papote.agent_mail.reset_allowed(client_key(request)):
        raise RateLimited("too many reset requests from your network; try again later")
    papote.spawn(papote.agent_mail.request_reset(email))
    return JSONResponse({"ok": True}, status_code=202)


async def apply_reset(papote: Papote, request: Request, token: str, password: str) -> None:
    """Shared by the JSON route and the page's form: the budget, the reset, the sockets closed."""
    if not papote.agent_mail.reset_allowed(client_key(request)):
        raise RateLimited("too many attempts from your network; try again later")
    agent_id = await papote.accounts.reset_password(token, password)
    papote.bus.publish(agent_topic(agent_id), Revoked())  # every session ended: every socket closes


async def reset_password(request: Request, _: Principal | None) -> Any:
    papote = papote_of(request)
    body = await json_body(request)
    await apply_reset(papote, request, need(field_str(body, "token", max_len=128, min_len=8)),
                      need(field_str(body, "password", max_len=256)))
    return {"ok": True}


async def my_mail(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    wants = await papote_of(request).store.waiting_emails([principal.id])
    return {"waiting": wants[principal.id]}


async def update_my_mail(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    body = await json_body(request)
    if "waiting" in body:
        await papote.store.set_waiting_emails(principal.id, bool(body["waiting"]))
    return await my_mail(request, principal)


ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/password/forgot", "Ask for a password reset link by email (the same answer for any "
             "address)", forgot_password, "none", body=shapes.FORGOT_PASSWORD, status=202),
    Endpoint("POST", "/api/password/reset", "Set a new password with a reset link's token (ends every session)",
             reset_password, "none", body=shapes.RESET_PASSWORD),
    Endpoint("GET", "/api/me/mail", "The mail I want from Papote", my_mail, response=shapes.MY_MAIL),
    Endpoint("PATCH", "/api/me/mail", "Choose the mail I want from Papote", update_my_mail,
             body=shapes.UPDATE_MY_MAIL, response=shapes.MY_MAIL),
]

"""Inbound webhooks of mail providers: Postmark's inbound (channels/email/postmark.py). (Outgoing webhooks
are another module, web/webhooks_api.py.)

`POST /api/webhooks/postmark/inbound` is authenticated by HTTP Basic credentials that the operator writes
into the webhook's URL at Postmark (`https://postmark:<secret>@chat.example/api/webhooks/postmark/inbound`):
the password must equal `PAPOTE_POSTMARK_INBOUND_SECRET` (compared in constant time; the user name is not
checked). Without the setting the route answers 404, as if it did not exist; wrong or missing
credentials are 401 and nothing is read. The site is the one the mail is addressed to: a signed reply
address or a site's support address — any other is 403, which tells Postmark to stop retrying.

The answer is 200 only once the message is committed (or deliberately dropped: an automatic mail, a
bounce, a duplicate): a failure to store answers 500 and Postmark retries; the Message-ID dedupe makes
its retry harmless.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from papote.authz import Principal
from papote.channels.email.listener import MAX_MAIL_BYTES
from papote.channels.email.postmark import PayloadError, read_postmark
from papote.errors import AuthError, ErrorCode, Forbidden, NotFound, PapoteError
from papote.web.http import Endpoint, papote_of
from papote.web.schema import obj, string

#: Postmark posts attachments base64-encoded in the JSON: a mail the listener takes, plus a third.
MAX_WEBHOOK_BYTES = MAX_MAIL_BYTES * 4 // 3 + 64 * 1024


def _password(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


async def postmark_inbound(request: Request, _: Principal | None) -> Any:
    papote = papote_of(request)
    secret = papote.config.postmark_inbound_secret
    if not secret:
        raise NotFound("no such route")
    given = _password(request)
    if given is None or not hmac.compare_digest(given.encode(), secret.encode()):
        raise AuthError("the webhook's credentials are wrong or missing")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_WEBHOOK_BYTES:
            raise PapoteError("this mail is too large", ErrorCode.TOO_LARGE)
    try:
        mail = read_postmark(json.loads(raw or b"null"))
    except (PayloadError, ValueError) as exc:
        raise PapoteError(f"not a Postmark inbound message: {exc}", ErrorCode.BAD_FRAME) from None
    accepted = [a for a in mail.recipients if await papote.email.accepts(a)]
    if not accepted:
        raise Forbidden("no recipient of this mail is a reply or support address here")
    answer = await papote.email.receive(accepted, mail.envelope_sender, mail.raw)
    if answer.startswith("550"):
        raise Forbidden(answer[4:])
    if not answer.startswith("250"):
        raise PapoteError("the mail could not be stored; retry", ErrorCode.INTERNAL)
    outcome = answer.removeprefix("250 ").removeprefix("OK").lstrip(": ") or "stored"
    return JSONResponse({"ok": True, "outcome": outcome})


ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/webhooks/postmark/inbound", "Postmark's inbound webhook: a mail to a reply or support "
             "address (HTTP Basic: PAPOTE_POSTMARK_INBOUND_SECRET)", postmark_inbound, "none",
             raw_body="application/json",
             response=obj({"ok": {"const": True}, "outcome": string(0, 200)}, required=["ok", "outcome"])),
]

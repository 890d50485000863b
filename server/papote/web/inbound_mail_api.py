"""Inbound webhooks of mail providers: Postmark's inbound (channels/email/postmark.py) and Mailgun's
routes (channels/email/mailgun.py). (Outgoing webhooks are another module, web/webhooks_api.py.)

`POST /api/webhooks/postmark/inbound` is authenticated by HTTP Basic credentials that the operator writes
into the webhook's URL at Postmark (`https://postmark:<secret>@chat.example/api/webhooks/postmark/inbound`):
the password must equal `PAPOTE_POSTMARK_INBOUND_SECRET` (compared in constant time; the user name is not
checked). Without the setting the route answers 404, as if it did not exist; wrong or missing
credentials are 401 and nothing is read. The site is the one the mail is addressed to: a signed reply
address or a site's support address — any other is 403, which tells Postmark to stop retrying.

The answer is 200 only once the message is committed (or deliberately dropped: an automatic mail, a
bounce, a duplicate): a failure to store answers 500 and Postmark retries; the Message-ID dedupe makes
its retry harmless.

`POST /api/webhooks/mailgun/inbound` takes Mailgun's form (url-encoded, or multipart with attachments),
signed in its own fields: HMAC-SHA256 of `timestamp` + `token` under `PAPOTE_MAILGUN_SIGNING_KEY`
(constant time), a timestamp at most 15 minutes old, a token never seen before (replays.py: across
nodes like the rate limits). A bad or stale signature is 401 (Mailgun retries, re-signed); a replayed
token, or a recipient that is none of ours, is 406, the one answer that makes Mailgun stop retrying. The
form is read before the signature can be checked (Mailgun puts it in the body): its size is capped
first, and its files (`attachment-N`) are only read once the signature holds, then kept as a mail's by
SMTP are (channels/email/mail_files.py).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from typing import Any

from starlette.datastructures import UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse

from papote import inbound_limits
from papote.authz import Principal
from papote.channels.email import mailgun
from papote.channels.email.listener import MAX_MAIL_BYTES
from papote.channels.email.postmark import PayloadError, read_postmark
from papote.errors import AuthError, Conflict, ErrorCode, Forbidden, NotFound, PapoteError, RateLimited
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


async def _read_capped(request: Request) -> bytes:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_WEBHOOK_BYTES:
            raise PapoteError("this mail is too large", ErrorCode.TOO_LARGE)
    return raw


async def _deliver(request: Request, recipients: list[str], envelope_sender: str | None, raw: bytes,
                   refused: int = 403) -> JSONResponse:
    """Hand a provider's mail to the same reading as SMTP; the answer once it is stored or dropped."""
    papote = papote_of(request)
    accepted = [a for a in recipients if await papote.email.accepts(a)]
    if not accepted:
        return _refuse(refused, Forbidden("no recipient of this mail is a reply or support address here"))
    answer = await papote.email.receive(accepted, envelope_sender, raw)
    if answer.startswith("550"):
        return _refuse(refused, Forbidden(answer[4:]))
    retry = inbound_limits.retry_of(answer)
    if retry is not None:  # the sender is over budget: the provider retries later, as an SMTP server would
        raise RateLimited("too many messages from this sender; retry later", retry)
    if not answer.startswith("250"):
        raise PapoteError("the mail could not be stored; retry", ErrorCode.INTERNAL)
    outcome = answer.removeprefix("250 ").removeprefix("OK").lstrip(": ") or "stored"
    return JSONResponse({"ok": True, "outcome": outcome})


def _refuse(status: int, exc: PapoteError) -> JSONResponse:
    if status == 403:
        raise exc
    return JSONResponse({"error": {"code": exc.code.value, "message": exc.message}}, status_code=status)


#: Mailgun stops retrying a post answered 406 (any other non-200 is retried for 8 hours).
MAILGUN_FINAL = 406
#: A Mailgun form's bounds: its fields are a mail's parts and headers, its files the mail's attachments
#: (the reading keeps the first 10 of them: channels/email/inbound.py).
MAILGUN_MAX_FIELDS = 1000
MAILGUN_MAX_FILES = 100


async def _mailgun_form(request: Request, raw: bytes) -> tuple[dict[str, str], list[tuple[str, UploadFile]]]:
    """The form's text fields (the first of each name), and its `attachment-N` files by field, unread
    (other files are closed: Mailgun posts none)."""
    async def body() -> Any:
        yield raw

    content_type = request.headers.get("content-type", "").lower()
    try:
        if content_type.startswith("multipart/form-data"):
            # A field may hold a whole mail (`body-mime`, `body-html`): up to the body's own cap.
            form = await MultiPartParser(request.headers, body(), max_files=MAILGUN_MAX_FILES,
                                         max_fields=MAILGUN_MAX_FIELDS, max_part_size=MAX_WEBHOOK_BYTES).parse()
        elif content_type.startswith("application/x-www-form-urlencoded"):
            form = await FormParser(request.headers, body(), max_fields=MAILGUN_MAX_FIELDS,
                                    max_part_size=MAX_WEBHOOK_BYTES).parse()
        else:
            raise PapoteError("send Mailgun's form (url-encoded or multipart)", ErrorCode.BAD_FRAME)
    except MultiPartException as exc:
        raise PapoteError(f"not a Mailgun form: {exc.message}", ErrorCode.BAD_FRAME) from None
    fields: dict[str, str] = {}
    files: list[tuple[str, UploadFile]] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if mailgun.ATTACHMENT_FIELD.fullmatch(name):
                files.append((name, value))
            else:
                await value.close()
        elif name not in fields:
            fields[name] = value
    return fields, files


async def _mailgun_files(form: dict[str, str], files: list[tuple[str, UploadFile]]) -> list[mailgun.MailgunFile]:
    """The form's files as the mail's (none for a `body-mime` post: its mail carries them). Their bytes
    are bounded by the body's cap, read already."""
    if form.get("body-mime"):
        return []
    return [mailgun.MailgunFile(name, upload.filename or "", upload.content_type or "", await upload.read())
            for name, upload in files]


async def mailgun_inbound(request: Request, _: Principal | None) -> Any:
    papote = papote_of(request)
    key = papote.config.mailgun_signing_key
    if not key:
        raise NotFound("no such route")
    form, uploads = await _mailgun_form(request, await _read_capped(request))
    try:
        return await _mailgun_post(request, key, form, uploads)
    finally:
        for _field, upload in uploads:
            await upload.close()


async def _mailgun_post(request: Request, key: str, form: dict[str, str],
                        uploads: list[tuple[str, UploadFile]]) -> Any:
    papote = papote_of(request)
    try:
        token = mailgun.check_signature(key, form, time.time())
    except mailgun.SignatureError as exc:
        raise AuthError(f"not signed by Mailgun: {exc}") from None
    if not await papote.replays.first("mailgun", token):
        return _refuse(MAILGUN_FINAL, Conflict("this post was received already (its token is spent)"))
    try:
        try:
            mail = mailgun.read_mailgun(form, await _mailgun_files(form, uploads))
        except mailgun.PayloadError as exc:
            return _refuse(MAILGUN_FINAL, PapoteError(f"not a Mailgun inbound message: {exc}", ErrorCode.BAD_FRAME))
        return await _deliver(request, mail.recipients, mail.envelope_sender, mail.raw, refused=MAILGUN_FINAL)
    except BaseException:
        await papote.replays.forget("mailgun", token)  # not stored: Mailgun's retry must get through
        raise


async def postmark_inbound(request: Request, _: Principal | None) -> Any:
    papote = papote_of(request)
    secret = papote.config.postmark_inbound_secret
    if not secret:
        raise NotFound("no such route")
    given = _password(request)
    if given is None or not hmac.compare_digest(given.encode(), secret.encode()):
        raise AuthError("the webhook's credentials are wrong or missing")
    raw = await _read_capped(request)
    try:
        mail = read_postmark(json.loads(raw or b"null"))
    except (PayloadError, ValueError) as exc:
        raise PapoteError(f"not a Postmark inbound message: {exc}", ErrorCode.BAD_FRAME) from None
    return await _deliver(request, mail.recipients, mail.envelope_sender, mail.raw)


ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/webhooks/postmark/inbound", "Postmark's inbound webhook: a mail to a reply or support "
             "address (HTTP Basic: PAPOTE_POSTMARK_INBOUND_SECRET)", postmark_inbound, "none",
             raw_body="application/json",
             response=obj({"ok": {"const": True}, "outcome": string(0, 200)}, required=["ok", "outcome"])),
    Endpoint("POST", "/api/webhooks/mailgun/inbound", "Mailgun's inbound route (forward()): a mail to a reply or "
             "support address (signed in the form: PAPOTE_MAILGUN_SIGNING_KEY)", mailgun_inbound, "none",
             raw_body="multipart/form-data",
             response=obj({"ok": {"const": True}, "outcome": string(0, 200)}, required=["ok", "outcome"])),
]

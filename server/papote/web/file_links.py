"""`GET /files/{attachment_id}?e=&s=`: a sent file by its signed, expiring link (papote/attachments/links.py).

Not part of the JSON API: the callers are a provider fetching an agent's file (Twilio's MediaUrl) and a
mail's reader, neither with a session. Served like every download (web/files_api.py): nosniff, a
sandbox, an attachment unless it is a re-encoded image. Every refusal is the same plain 404."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from papote.attachments import links
from papote.attachments.sniff import IMAGE_TYPES
from papote.errors import NotFound
from papote.ids import now_ms
from papote.web.files_api import FILE_CACHE, _disposition
from papote.web.http import papote_of


def _missing() -> Response:
    return Response("not found", status_code=404, media_type="text/plain")


async def file_link(request: Request) -> Response:
    papote = papote_of(request)
    attachment = await papote.store.get_attachment(request.path_params["attachment_id"])
    site = await papote.site_by_id(attachment.site_id) if attachment is not None else None
    if (attachment is None or site is None or attachment.conversation_id is None
            or not links.verify(site.secrets, attachment.id, request.query_params.get("e", ""),
                                request.query_params.get("s", ""), now_ms())):
        return _missing()
    try:
        data, content_type = await papote.attachments.read(attachment, thumbnail=False)
    except NotFound:
        return _missing()
    inline = content_type in IMAGE_TYPES
    headers = {
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox" if inline else "sandbox; default-src 'none'",
        "content-disposition": _disposition("inline" if inline else "attachment", attachment.name),
        "cache-control": FILE_CACHE,
        "referrer-policy": "no-referrer",
    }
    media = content_type + ("; charset=utf-8" if content_type.startswith("text/") else "")
    return Response(data, media_type=media, headers=headers)


def routes() -> list[Route]:
    return [Route("/files/{attachment_id}", file_link, methods=["GET"])]

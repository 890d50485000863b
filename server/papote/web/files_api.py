"""Attachments over HTTP: uploading a file to send, and fetching one that was sent.

Two doors to the same service (papote.attachments), one per kind of principal:

* the console and integrations — `/api/sites/{key}/attachments` and `/api/attachments/{id}`, with the
  session cookie or an API key (the console shows images with a plain `<img src>`: same origin);
* the widget — `/api/widget/{key}/attachments…`, with `Authorization: Bearer <visitor token>` and CORS
  for the site's allowed origins. The token stays out of URLs (they end up in logs, histories and
  Referer headers): the widget fetches with the header and shows what it got as a `blob:` URL.

An upload's body is the file's raw bytes (`X-Papote-Request` shows it is no cross-site form; the
declared Content-Type is read only to catch a file that lies about being an image). Downloads are
served so that no file can act as a page of this origin: `X-Content-Type-Options: nosniff`,
`Content-Security-Policy: sandbox`, and `Content-Disposition: attachment` for everything but the
re-encoded raster images (JPEG, PNG, GIF, WebP), which are the only ones shown inline.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from papote.attachments import limits_of, too_large
from papote.attachments.sniff import IMAGE_TYPES
from papote.authz import Action, Principal, authorize
from papote.errors import NotFound
from papote.sites import ATTACHMENTS_MAX_MB
from papote.store import Attachment
from papote.store.rules import attachment_view
from papote.web.api_schemas import ref
from papote.web.http import Endpoint, papote_of, params, preflight
from papote.web.schema import boolean, string

#: Bytes read of an upload before the site's own limit is known to be passed: the largest any site
#: may allow, plus the slack of one read.
MAX_UPLOAD = ATTACHMENTS_MAX_MB * 1024 * 1024
#: Bytes of an over-limit upload read and dropped before the refusal (see `_body`).
DRAIN = 8 * 1024 * 1024
#: Files never change once stored (a new upload is a new id): a browser may keep them, privately.
FILE_CACHE = "private, max-age=86400, immutable"

UPLOAD_QUERY = {"name": {**string(1, 255, description="the file's name, as the sender's device gave it"),
                         "default": "file"}}
DOWNLOAD_QUERY = {"download": {**boolean(description="an image too is sent as a download, not shown"),
                               "default": False}}


async def _body(request: Request, limit: int) -> bytes:
    """The upload's bytes, at most `limit`, or `too_large`. Past the limit the rest is read and
    dropped (up to DRAIN more bytes), so the client gets the coded answer instead of a connection
    reset mid-upload (which a browser reports as a network error); a bigger body is cut off."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > limit + DRAIN:
            break
    if size > limit:
        raise too_large(limit)
    return b"".join(chunks)


async def _upload(request: Request, principal: Principal) -> Response:
    papote = papote_of(request)
    site = await papote.site_by_key(request.path_params["key"])
    if site is None:
        raise NotFound("no such site")
    authorize(principal, Action.WRITE, site.id)  # a foreign principal learns nothing, reads nothing
    data = await _body(request, min(limits_of(site).max_bytes, MAX_UPLOAD))
    attachment = await papote.attachments.upload(principal, site, params(request)["name"],
                                                 request.headers.get("content-type", ""), data)
    return JSONResponse(attachment_view(attachment), status_code=201)


async def upload(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    return await _upload(request, principal)


async def upload_visitor(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    return await _upload(request, principal)


def _disposition(kind: str, name: str) -> str:
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name) or "file"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _file(request: Request, principal: Principal, thumbnail: bool) -> Response:
    papote = papote_of(request)
    attachment: Attachment = await papote.attachments.visible(principal, request.path_params["attachment_id"])
    if "key" in request.path_params:
        site = await papote.site_by_key(request.path_params["key"])
        if site is None or site.id != attachment.site_id:
            raise NotFound("no such attachment")
    data, content_type = await papote.attachments.read(attachment, thumbnail)
    inline = content_type in IMAGE_TYPES and not (not thumbnail and params(request).get("download"))
    headers = {
        "x-content-type-options": "nosniff",
        # An image is only ever shown; anything else may not run, style or load a thing as a page here.
        "content-security-policy": "sandbox" if inline else "sandbox; default-src 'none'",
        "content-disposition": _disposition("inline" if inline else "attachment", attachment.name),
        "cache-control": FILE_CACHE,
        "referrer-policy": "no-referrer",
    }
    if request.path_params.get("key") is None:
        headers["cross-origin-resource-policy"] = "same-origin"
    media = content_type + ("; charset=utf-8" if content_type.startswith("text/") else "")
    return Response(data, media_type=media, headers=headers)


async def get_file(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    return await _file(request, principal, thumbnail=False)


async def get_thumbnail(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    return await _file(request, principal, thumbnail=True)


async def get_file_visitor(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    return await _file(request, principal, thumbnail=False)


async def get_thumbnail_visitor(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    return await _file(request, principal, thumbnail=True)


_RAW = "application/octet-stream"
ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/sites/{key}/attachments", "Upload a file to send with a message", upload, "any",
             query=UPLOAD_QUERY, raw_body=_RAW, response=ref("Attachment"), status=201),
    Endpoint("GET", "/api/attachments/{attachment_id}", "A file sent in a conversation", get_file, "any",
             query=DOWNLOAD_QUERY, media_type="*/*"),
    Endpoint("GET", "/api/attachments/{attachment_id}/thumbnail", "An image's thumbnail", get_thumbnail,
             "any", media_type="*/*"),
    Endpoint("POST", "/api/widget/{key}/attachments", "The visitor uploads a file to send", upload_visitor,
             "visitor", query=UPLOAD_QUERY, raw_body=_RAW, response=ref("Attachment"), status=201),
    Endpoint("GET", "/api/widget/{key}/attachments/{attachment_id}", "A file of the visitor's conversation",
             get_file_visitor, "visitor", query=DOWNLOAD_QUERY, media_type="*/*"),
    Endpoint("GET", "/api/widget/{key}/attachments/{attachment_id}/thumbnail", "An image's thumbnail, for "
             "the visitor", get_thumbnail_visitor, "visitor", media_type="*/*"),
]


def preflight_routes() -> list[Route]:
    """The widget's routes answer CORS preflights (they are not API operations: no OpenAPI entry)."""
    paths = dict.fromkeys(ep.path for ep in ENDPOINTS if ep.auth == "visitor")
    return [Route(path, preflight, methods=["OPTIONS"]) for path in paths]

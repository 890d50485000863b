"""What every REST endpoint shares: the `Endpoint` record and the wrapper that runs one (CSRF rule,
principal, validated body and query, coded errors), the typed node of a request, and the JSON views of
sites and agents. The resources live in web/*_api.py; web/api.py mounts them."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from papote.accounts import Accounts
from papote.authz import Action, Principal, authorize
from papote.config import Config
from papote.conversations import agent_author
from papote.errors import AuthError, ErrorCode, NotFound, PapoteError
from papote.node import Papote
from papote.store import Agent, Site
from papote.store.rules import NUL_REFUSED, holds_nul
from papote.types import PrincipalKind
from papote.web.api_schemas import ref
from papote.web.schema import Schema, query_value, validate

Handler = Callable[[Request, Principal | None], Awaitable[Any]]

#: A JSON body larger than this is refused before parsing (settings with custom CSS fit easily).
MAX_JSON_BYTES = 256 * 1024

#: The header a client without a JSON body may send instead, to show it is not a cross-site form.
CSRF_HEADER = "x-papote-request"

CSRF_RULE = ("Every write (POST, PUT, PATCH, DELETE) not authenticated by an API key must carry "
             "`Content-Type: application/json` (even with no body, which counts as {}) or an "
             "`X-Papote-Request` header with any value; otherwise it is refused 400 bad_frame. "
             "Writes with `Authorization: Bearer <API key>` need neither.")

log = logging.getLogger("papote.api")


@dataclass
class Endpoint:
    """One REST route: what it does, who may call it, and the schemas it accepts and answers.

    The schemas are both the OpenAPI document and the validation `_wrap` runs before the handler: a body
    or query parameter that does not fit is refused with `bad_field` and the handler never sees it."""

    method: str
    path: str
    summary: str
    handler: Handler
    #: "none", "agent" (cookie), "any" (cookie or API key), "key" (API key only: a site's servers, as the
    #: inbound API channel), "visitor" (`Authorization: Bearer <visitor token>` for the site named by the
    #: path's {key}: the widget's routes, answered with CORS)
    auth: str = "agent"
    #: The JSON request body's schema, or a function of the configuration that gives it.
    body: Schema | Callable[[Config], Schema] | None = None
    #: Query parameters: name → schema (typed: integers and booleans are read from their text).
    query: dict[str, Schema] = field(default_factory=dict)
    #: The success answer: its schema (JSON) and status, or a media type for text answers.
    response: Schema = field(default_factory=lambda: ref("Ok"))
    status: int = 200
    media_type: str = "application/json"
    #: OpenAPI's operationId when the handler's name is taken (one handler behind two paths).
    operation_id: str | None = None
    #: A request body that is not JSON but raw bytes of any type (a file): its media type in the
    #: OpenAPI document. The handler reads it (web/files_api.py); the CSRF rule still holds.
    raw_body: str | None = None

    def body_schema(self, config: Config) -> Schema | None:
        return self.body(config) if callable(self.body) else self.body


def error_response(exc: PapoteError) -> JSONResponse:
    # A shed request may come back soon: say when, as RFC 9110 lets a 503 do.
    headers = {"retry-after": "1"} if exc.code is ErrorCode.BUSY else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"retry-after": str(retry_after)}  # a budget says when it opens again
    return JSONResponse({"error": {"code": exc.code.value, "message": exc.message}},
                        status_code=exc.code.http_status, headers=headers)


def papote_of(request: Request) -> Papote:
    """The node serving this request (create_app keeps it on the application's state)."""
    papote: Papote = request.app.state.papote
    return papote


async def principal_of(request: Request, auth: str) -> Principal | None:
    papote = papote_of(request)
    accounts: Accounts = papote.accounts
    if auth == "none":
        return None
    header = request.headers.get("authorization", "")
    if auth == "visitor":
        return await visitor_principal(request, header)
    if auth == "key" and not header.lower().startswith("bearer "):
        raise AuthError("send the site's API key: Authorization: Bearer <key>")
    if auth in ("any", "key") and header.lower().startswith("bearer "):
        site_id = await accounts.site_for_api_key(header[7:].strip())
        if site_id is None:
            raise AuthError("unknown API key")
        return Principal(PrincipalKind.API_KEY, f"key:{site_id}", "API", site_id=site_id)
    agent = await accounts.agent_for_session(request.cookies.get(accounts.cookie_name))
    if agent is None:
        raise AuthError("sign in first")
    return await accounts.principal(agent)

async def visitor_principal(request: Request, header: str) -> Principal:
    """The visitor whose token the widget sent (`Authorization: Bearer <token>`) for the site in the
    path. The token never travels in a URL. An unknown site is `unauthorized` too: no token is valid
    for it, and the answer does not say which sites exist."""
    papote = papote_of(request)
    site = await papote.site_by_key(request.path_params.get("key", ""))
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    visitor = await papote.visitors.by_token(site, token) if site is not None and token else None
    if site is None or visitor is None:
        raise AuthError("send the visitor's token: Authorization: Bearer <token>")
    return Principal(PrincipalKind.VISITOR, visitor.id, visitor.name, site_id=site.id)


#: Nesting deeper than any schema here describes is refused before anything walks it.
MAX_JSON_DEPTH = 32


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """Bytes → a JSON value, or a coded error: never an uncaught exception, whatever the bytes."""
    if len(raw) > MAX_JSON_BYTES:
        raise PapoteError("body too large", ErrorCode.TOO_LARGE)
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise PapoteError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", ErrorCode.BAD_FRAME) from None
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise PapoteError("malformed JSON", ErrorCode.BAD_FRAME) from None
    _check_plain(value)
    return value


def _check_plain(value: Any) -> None:
    """Depth within MAX_JSON_DEPTH, and text that is valid Unicode (JSON lets `\\ud800` through, and
    a lone surrogate fails later, when the store encodes it)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise PapoteError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", ErrorCode.BAD_FRAME)
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, dict):
            for k, v in item.items():
                _check_text(k)
                stack.append((v, depth + 1))


def _check_text(text: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:
        raise PapoteError("JSON text holds an unpaired surrogate", ErrorCode.BAD_FRAME) from None
    if "\x00" in text:
        raise PapoteError(NUL_REFUSED, ErrorCode.BAD_FIELD)


def _check_url_text(request: Request) -> None:
    """Path and query parameters are text for the store too: a NUL (`%00`) is refused as in a body."""
    if holds_nul(list(request.path_params.values())) or holds_nul(list(request.query_params.values())):
        raise PapoteError(NUL_REFUSED, ErrorCode.BAD_FIELD)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, checked against its Endpoint's body schema (once, then kept).

    Handlers call it after they have found the resource they act on, so that a principal who may not
    see a site or a conversation gets `not_found` whatever the body holds."""
    checked = getattr(request.state, "json_body", None)
    if checked is not None:
        return checked  # type: ignore[no-any-return]
    ep: Endpoint | None = getattr(request.state, "endpoint", None)
    schema = ep.body_schema(papote_of(request).config) if ep is not None else None
    raw = await request.body()
    if not raw and schema is not None and "required" not in schema:
        body: Any = {}  # every field is optional: no body is an empty change
    else:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise PapoteError("send application/json", ErrorCode.BAD_FRAME)
        body = parse_json(raw or b"{}")
        if not isinstance(body, dict):
            raise PapoteError("the body must be a JSON object", ErrorCode.BAD_FRAME)
    if schema is not None:
        body = validate(schema, body)
    request.state.json_body = body
    return body  # type: ignore[no-any-return]


def params(request: Request) -> dict[str, Any]:
    """The query parameters its Endpoint declares, validated and typed; a declared default stands in
    for one not sent. Parameters it does not declare are not read."""
    checked = getattr(request.state, "query", None)
    if checked is not None:
        return checked  # type: ignore[no-any-return]
    ep: Endpoint = request.state.endpoint
    out: dict[str, Any] = {}
    for name, schema in ep.query.items():
        values = request.query_params.getlist(name)
        if len(values) > 1:
            raise PapoteError(f"'{name}' is given more than once", ErrorCode.BAD_FIELD)
        out[name] = query_value(schema, values[0], name) if values else schema.get("default")
    request.state.query = out
    return out


def field_str(body: dict[str, Any], name: str, *, required: bool = True, max_len: int = 1000,
              min_len: int = 0) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise PapoteError(f"field '{name}' is required", ErrorCode.BAD_FIELD)
        return None
    if not isinstance(value, str) or not min_len <= len(value) <= max_len:
        raise PapoteError(f"field '{name}' must be text of {min_len} to {max_len} characters",
                          ErrorCode.BAD_FIELD)
    return value


def need(value: str | None) -> str:
    assert value is not None
    return value


def int_param(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PapoteError(f"'{name}' must be an integer", ErrorCode.BAD_FIELD) from None
    if not low <= value <= high:
        raise PapoteError(f"'{name}' must be between {low} and {high}", ErrorCode.BAD_FIELD)
    return value


def site_json(site: Site, *, secrets: bool = False) -> dict[str, Any]:
    from papote.sites import settings_of

    out: dict[str, Any] = {"id": site.id, "key": site.key, "name": site.name, "origins": site.origins,
                           "settings": settings_of(site), "created_at": site.created_at}
    if secrets:
        out["secrets"] = site.secrets
    return out


def agent_json(agent: Agent, role: str | None = None, *, disabled: bool = False) -> dict[str, Any]:
    """`disabled`: on the site listed (a membership's own state); `account_disabled`: on the whole
    server, by its operator (the CLI), which no site's admin can undo."""
    return {**agent_author(agent), "email": agent.email, "disabled": disabled,
            "account_disabled": agent.disabled, "status": agent.status, "capacity": agent.capacity,
            "role": role}


async def site_for(request: Request, principal: Principal | None, action: Action) -> Site:
    assert principal is not None
    papote = papote_of(request)
    site: Site | None = await papote.site_by_key(request.path_params["key"])
    if site is None:
        raise NotFound("no such site")
    authorize(principal, action, site.id)
    return site


def str_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or len(value) > 50 or not all(isinstance(v, str) for v in value):
        raise PapoteError(f"'{name}' must be a list of at most 50 strings", ErrorCode.BAD_FIELD)
    return value

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Body types of a provider's form post; an endpoint without authentication may declare one.
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def check_write(request: Request, ep: Endpoint) -> None:
    """Refuse a write another origin's page could have made a signed-in browser send (CSRF)."""
    if request.method not in WRITES:
        return
    content_type = request.headers.get("content-type", "").lower()
    json_type = content_type.startswith("application/json")
    bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
    if ep.auth == "visitor" or (ep.raw_body is not None and ep.auth == "any" and bearer):
        return  # a token in a header: nothing a browser sends by itself
    if ep.auth == "none" and ep.raw_body in FORM_TYPES:
        return  # a provider's signed form (Mailgun): no cookie is read, the signature in it authenticates
    if ep.raw_body is not None:
        # A file's bytes come with their own type: the custom header shows it is no cross-site form (a
        # page of another origin cannot set it, nor a JSON type, without a preflight, never granted).
        if CSRF_HEADER not in request.headers and not json_type:
            raise PapoteError("an upload needs an X-Papote-Request header", ErrorCode.BAD_FRAME)
        return
    if content_type and not json_type:
        # A cross-site HTML form can only send form or text bodies.
        raise PapoteError("send application/json", ErrorCode.BAD_FRAME)
    if ep.auth in ("any", "key") and request.headers.get("authorization", "").lower().startswith("bearer "):
        return  # an API key is not something a browser attaches by itself
    if not json_type and CSRF_HEADER not in request.headers:
        # A body-less POST is a "simple" request a page of a sibling origin can send with the cookie.
        raise PapoteError("a write needs Content-Type: application/json (even with no body) or an "
                          "X-Papote-Request header", ErrorCode.BAD_FRAME)


#: What the widget's routes let a page of an allowed origin send and read.
CORS_ALLOW_HEADERS = "authorization, content-type, x-papote-request"
CORS_EXPOSE_HEADERS = "content-disposition, content-length"
#: A preflight is remembered this long by the browser (Chromium caps it at 2 hours).
CORS_MAX_AGE = 600


async def cors_headers(request: Request) -> dict[str, str]:
    """CORS headers for the widget's routes: the page's origin echoed when it is one of the site's
    allowed origins (as the visitor socket checks), else none (the browser then keeps the answer
    from the page). No credentials mode: the widget authenticates with its token header, not a cookie."""
    from papote.sites import normalise_origin

    origin = request.headers.get("origin", "")
    site = await papote_of(request).site_by_key(request.path_params.get("key", ""))
    try:
        allowed = site is not None and bool(origin) and normalise_origin(origin) in site.origins
    except Exception:
        allowed = False
    if not allowed:
        return {"vary": "origin"}
    return {"access-control-allow-origin": origin, "vary": "origin",
            "access-control-expose-headers": CORS_EXPOSE_HEADERS}


async def _cors(request: Request, ep: Endpoint, response: Response) -> Response:
    if ep.auth == "visitor":
        response.headers.update(await cors_headers(request))
    return response


async def preflight(request: Request) -> Response:
    """`OPTIONS` on a widget route: which methods and headers a page of an allowed origin may use."""
    headers = await cors_headers(request)
    if "access-control-allow-origin" in headers:
        headers.update({"access-control-allow-methods": "GET, POST, OPTIONS",
                        "access-control-allow-headers": CORS_ALLOW_HEADERS,
                        "access-control-max-age": str(CORS_MAX_AGE)})
    return Response(status_code=204, headers=headers)


def wrap(ep: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        request.state.endpoint = ep
        try:
            _check_url_text(request)
            check_write(request, ep)
            principal = await principal_of(request, ep.auth)
            if ep.query:
                params(request)
            result = await ep.handler(request, principal)
        except PapoteError as exc:
            return await _cors(request, ep, error_response(exc))
        except Exception:
            # A bug, not bad input: logged, and answered with a code like any other error.
            log.exception("%s %s failed", request.method, ep.path)
            return await _cors(request, ep, error_response(PapoteError("internal error", ErrorCode.INTERNAL)))
        if isinstance(result, Response):
            return await _cors(request, ep, result)
        return await _cors(request, ep, JSONResponse(result, status_code=ep.status))

    endpoint.__name__ = ep.handler.__name__
    return endpoint


"""The OpenAPI 3.1 document of the REST API, built from the Endpoint tables (served at /api/openapi.json).

Each operation carries the schemas its Endpoint declares — the same objects the server validates
requests with — its success answer, and the coded error answer every refusal uses.
"""

from __future__ import annotations

import re
from typing import Any

from papote.accounts import SECURE_SESSION_COOKIE, SESSION_COOKIE
from papote.config import Config
from papote.web.api_schemas import COMPONENTS, ID, ref
from papote.web.http import CSRF_RULE, WRITES, Endpoint

#: Path parameters are opaque ids; one that names nothing (or nothing the caller may see) is `not_found`.
PATH_PARAMETER = ID

ERROR_ANSWER = {"description": "Refused: `error.code` says why (docs/protocol.md, error codes)",
                "content": {"application/json": {"schema": ref("Error")}}}


def _success(ep: Endpoint) -> dict[str, Any]:
    if ep.media_type == "*/*":
        return {"description": "The file's bytes, of the type it was sniffed as",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
    if ep.media_type != "application/json":
        return {"description": "OK", "content": {ep.media_type: {"schema": {"type": "string"}}}}
    return {"description": "Created" if ep.status == 201 else "OK",
            "content": {"application/json": {"schema": ep.response}}}


def operation(ep: Endpoint, config: Config) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": ep.summary,
        "operationId": ep.operation_id or ep.handler.__name__,
        "responses": {str(ep.status): _success(ep), "4XX": {"$ref": "#/components/responses/Error"}},
    }
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETER}
        for name in re.findall(r"{(\w+)}", ep.path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": schema,
         **({"description": schema["description"]} if "description" in schema else {})}
        for name, schema in ep.query.items()
    ]
    if ep.method in WRITES:
        parameters.append({"name": "X-Papote-Request", "in": "header", "required": False,
                           "schema": {"type": "string"}, "description": CSRF_RULE})
    if parameters:
        op["parameters"] = parameters
    body = ep.body_schema(config)
    if body is not None:
        op["requestBody"] = {"required": "required" in body or "anyOf" in body,
                             "content": {"application/json": {"schema": body}}}
    if ep.raw_body is not None:
        op["requestBody"] = {"required": True, "description": "the file's bytes (its type is sniffed from "
                             "them; the declared one is not trusted)",
                             "content": {ep.raw_body: {"schema": {"type": "string", "format": "binary"}}}}
    if ep.auth == "visitor":
        op["security"] = [{"visitorToken": []}]
    elif ep.auth == "key":
        op["security"] = [{"apiKey": []}]
    elif ep.auth != "none":
        op["security"] = [{"session": []}] + ([{"apiKey": []}] if ep.auth == "any" else [])
    return op


#: Not expressible per field in JSON Schema for keys a body does not describe, so said once for all.
NUL_RULE = ("No text in a request (a body's strings and keys, described or not, path and query parameters) "
            "may hold U+0000: 400 bad_field.")


def openapi_document(config: Config, endpoints: list[Endpoint]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for ep in endpoints:
        paths.setdefault(ep.path, {})[ep.method.lower()] = operation(ep, config)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Papote API", "version": "1",
                 "description": "Sign in with POST /api/login (the session cookie), or send "
                                "`Authorization: Bearer <API key>` where an operation allows it. "
                                + CSRF_RULE + " " + NUL_RULE},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie",
                            "name": SECURE_SESSION_COOKIE if config.secure_cookies else SESSION_COOKIE},
                "apiKey": {"type": "http", "scheme": "bearer"},
                "visitorToken": {"type": "http", "scheme": "bearer",
                                 "description": "the widget's visitor token, from the socket's `welcome`"},
            },
            "schemas": COMPONENTS,
            "responses": {"Error": ERROR_ANSWER},
        },
    }

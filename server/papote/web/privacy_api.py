"""Privacy (docs/privacy.md): export and erase a visitor, run the site's retention now (admins and
owners), and read the audit log (owners). API keys may do none of it: these are a person's acts, and
the audit log names the member who did them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from papote.authz import Action, Principal
from papote.web.http import Endpoint, papote_of, params, site_for
from papote.web.schema import Schema, any_json, array, enum, integer, obj, string

_STR = string(0, 100000)
_COUNT = integer(0, 2**53)

AUDIT_QUERY: dict[str, Schema] = {
    "limit": integer(1, 200, default=50),
    "before": integer(0, 2**62, description="`at` of the last entry of the previous page"),
}
AUDIT_ENTRY = obj({
    "id": _STR, "at": integer(0, 2**62), "actor": obj({"kind": enum("agent", "api_key", "system"), "id": _STR},
                                                     required=["kind", "id"]),
    "action": _STR, "target": _STR, "details": obj({}),
}, required=["id", "at", "actor", "action", "target", "details"])
AUDIT = obj({"entries": array(AUDIT_ENTRY, 200)}, required=["entries"])
EXPORT = obj({
    "format": {"const": "papote.visitor-export/1"}, "exported_at": integer(0, 2**62),
    "site": obj({"id": _STR, "name": _STR}, required=["id", "name"]), "visitor_id": _STR,
    "tables": obj({}, additionalProperties=array(obj({}, additionalProperties=any_json()), 10**9),
                  description="one list of rows per table of the personal-data registry"),
    "files": array(obj({"id": _STR, "name": _STR, "download": _STR}, required=["id", "name", "download"]), 10**9),
}, required=["format", "exported_at", "site", "visitor_id", "tables", "files"])
ERASED = obj({"erased": _STR, "rows": obj({}, additionalProperties=_COUNT,
                                          description="rows deleted per table, and `files` deleted")},
             required=["erased", "rows"])
RETENTION = obj({"visitors": _COUNT, "messages": _COUNT, "conversations": _COUNT, "attachments": _COUNT},
                required=["visitors", "messages", "conversations", "attachments"])


async def export_visitor(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.PRIVACY)
    export = await papote.privacy.export(site, request.path_params["vid"], principal)
    return JSONResponse(export, headers={
        "content-disposition": f'attachment; filename="visitor-{export["visitor_id"]}.json"'})


async def erase_visitor(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.PRIVACY)
    vid = request.path_params["vid"]
    rows = await papote.privacy.erase(site, vid, principal)
    return {"erased": vid, "rows": rows}


async def run_retention(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.PRIVACY)
    return await papote.privacy.apply_retention(site)


async def audit_log(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.AUDIT)
    query = params(request)
    entries = await papote.privacy.audit(site.id, query["limit"], query["before"])
    return {"entries": [{"id": e.id, "at": e.at, "actor": {"kind": e.actor_kind, "id": e.actor_id},
                         "action": e.action, "target": e.target, "details": e.details} for e in entries]}


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/sites/{key}/visitors/{vid}/export",
             "Everything stored about a visitor, as JSON (admins and owners; audited)", export_visitor,
             response=EXPORT),
    Endpoint("DELETE", "/api/sites/{key}/visitors/{vid}",
             "Erase a visitor: every row, their files, their open sockets (admins and owners; audited)",
             erase_visitor, response=ERASED),
    Endpoint("POST", "/api/sites/{key}/retention/run", "Apply the site's retention settings now (admins and "
             "owners; audited when anything is deleted)", run_retention, response=RETENTION),
    Endpoint("GET", "/api/sites/{key}/audit", "The site's audit log of admin actions, newest first (owners)",
             audit_log, query=AUDIT_QUERY, response=AUDIT),
]

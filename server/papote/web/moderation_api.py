"""REST endpoints of moderation and insight: blocked visitors, held messages, saved inbox views, and the
export of conversations with their labels. Declared as `Endpoint` records; web/api.py mounts them.

Who may do what: any agent of the site blocks and unblocks visitors and reviews held messages (the
people in the inbox meet the abuse first); saved views are each agent's own; the export, which carries
every conversation of a period, is for owners and admins (`manage_site`).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from papote.authz import Action, Principal
from papote.errors import NotFound
from papote.ids import new_id, now_ms
from papote.store.moderation import Block, HeldMessage, SavedView
from papote.web.api_schemas import ID, LABEL, MAX_REPORT_MS, SOME_TEXT
from papote.web.http import Endpoint, json_body, papote_of, params, site_for
from papote.web.schema import Schema, array, enum, integer, nullable, obj, string

DAY_MS = 86_400_000
#: Without `from`, an export covers the last 30 days (like reports).
DEFAULT_RANGE_MS = 30 * DAY_MS
#: Conversations one export carries at most: a year of a busy shop; a longer period is several exports.
EXPORT_MAX = 100_000
EXPORT_COLUMNS = ("id", "created_at", "closed_at", "status", "labels", "visitor_id", "assignee_id", "rating",
                  "messages")

_STR = string(0, 100000)
_MS = {"type": "integer", "minimum": 0, "description": "epoch milliseconds"}
_INT = {"type": "integer"}


def _record(properties: dict[str, Schema], **extra: Any) -> Schema:
    return obj(properties, required=list(properties), **extra)


BLOCK = _record({"visitor": _STR, "blocked_by": _STR, "reason": _STR, "created_at": _MS})
HELD = _record({"id": _STR, "conversation": nullable(_STR), "visitor": _STR, "author_name": _STR,
                "client_msg_id": _STR, "body": _STR,
                "reasons": array(enum("words", "links", "rate"), 3,
                                 description="why the filter held it: listed words, too many links, too fast"),
                "created_at": _MS})
VIEW = _record({"id": _STR, "name": _STR, "labels": array(_STR, 20), "status": nullable(enum("open", "closed"))})
CREATE_BLOCK = obj({"visitor": ID, "reason": string(0, 500)}, required=["visitor"])
SAVE_VIEW = obj({"name": string(1, 60, pattern=SOME_TEXT, description="not blank"), "labels": array(LABEL, 20),
                 "status": nullable(enum("open", "closed"))},
                required=["name"])
EXPORT_QUERY: dict[str, Schema] = {
    "from": integer(0, MAX_REPORT_MS, description="conversations created from, epoch ms (default: 30 days "
                                                 "before `to`)"),
    "to": integer(0, MAX_REPORT_MS, description="conversations created before, epoch ms (default: now)"),
}


def _block_json(block: Block) -> dict[str, Any]:
    return {"visitor": block.visitor_id, "blocked_by": block.blocked_by, "reason": block.reason,
            "created_at": block.created_at}


def _held_json(held: HeldMessage) -> dict[str, Any]:
    return {"id": held.id, "conversation": held.conversation_id, "visitor": held.visitor_id,
            "author_name": held.author_name, "client_msg_id": held.client_msg_id, "body": held.body,
            "reasons": held.reasons, "created_at": held.created_at}


def _view_json(view: SavedView) -> dict[str, Any]:
    return {"id": view.id, "name": view.name, "labels": view.labels, "status": view.status}


# -- blocks ------------------------------------------------------------------------------------------

async def list_blocks(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.HANDLE)
    return {"blocks": [_block_json(b) for b in await papote.store.blocked_visitors(site.id)]}


async def block_visitor(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    site = await site_for(request, principal, Action.HANDLE)
    body = await json_body(request)
    block = await papote.moderation.block(principal, site, body["visitor"], body.get("reason", ""))
    return JSONResponse(_block_json(block), status_code=201)


async def unblock_visitor(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    site = await site_for(request, principal, Action.HANDLE)
    if not await papote.moderation.unblock(principal, site, request.path_params["vid"]):
        raise NotFound("this visitor is not blocked")
    return {"ok": True}


# -- held messages -----------------------------------------------------------------------------------

async def list_held(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.HANDLE)
    return {"held": [_held_json(h) for h in await papote.moderation.held(site)]}


async def release_held(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.HANDLE)
    return await papote.moderation.release(site, request.path_params["held_id"])


async def delete_held(request: Request, principal: Principal | None) -> Any:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.HANDLE)
    await papote.moderation.delete(site, request.path_params["held_id"])
    return {"ok": True}


# -- saved views -------------------------------------------------------------------------------------

async def list_views(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    return {"views": [_view_json(v) for v in await papote.store.saved_views(site.id, principal.id)]}


async def save_view(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    body = await json_body(request)
    labels = list(dict.fromkeys(body.get("labels") or []))
    view = await papote.store.save_view(SavedView(new_id("w"), site.id, principal.id, body["name"].strip(),
                                                  labels, body.get("status"), now_ms()))
    return _view_json(view)


async def delete_view(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    site = await site_for(request, principal, Action.VIEW_SITE)
    if not await papote.store.delete_view(site.id, principal.id, request.path_params["view_id"]):
        raise NotFound("no such view")
    return {"ok": True}


# -- the insight export ------------------------------------------------------------------------------

async def _exported(request: Request, principal: Principal | None) -> tuple[str, int, int, list[dict[str, Any]]]:
    papote = papote_of(request)
    site = await site_for(request, principal, Action.MANAGE_SITE)
    q = params(request)
    until = now_ms() if q["to"] is None else q["to"]
    since = max(0, until - DEFAULT_RANGE_MS) if q["from"] is None else min(q["from"], until)
    return site.key, since, until, await papote.store.labelled_conversations(site.id, since, until, EXPORT_MAX)


async def export_conversations_json(request: Request, principal: Principal | None) -> Response:
    key, since, until, rows = await _exported(request, principal)
    return Response(json.dumps({"site": key, "from": since, "to": until, "conversations": rows}),
                    media_type="application/json",
                    headers={"content-disposition": f'attachment; filename="papote-conversations-{key}.json"'})


async def export_conversations(request: Request, principal: Principal | None) -> Response:
    key, _, _, rows = await _exported(request, principal)
    name = f"papote-conversations-{key}"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for r in rows:
        # Labels joined by "|": a label is free text but never holds one (the console splits on commas).
        writer.writerow([r["id"], r["created_at"], r["closed_at"] or "", r["status"], "|".join(r["labels"]),
                         r["visitor_id"], r["assignee_id"] or "", "" if r["rating"] is None else r["rating"],
                         r["messages"]])
    return PlainTextResponse(out.getvalue(), media_type="text/csv",
                             headers={"content-disposition": f'attachment; filename="{name}.csv"'})


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/sites/{key}/blocks", "Visitors blocked on the site", list_blocks,
             response=_record({"blocks": array(BLOCK, 100000)})),
    Endpoint("POST", "/api/sites/{key}/blocks", "Block a visitor: their new messages are refused (`blocked`)",
             block_visitor, body=CREATE_BLOCK, response=BLOCK, status=201),
    Endpoint("DELETE", "/api/sites/{key}/blocks/{vid}", "Unblock a visitor", unblock_visitor),
    Endpoint("GET", "/api/sites/{key}/held", "Messages the spam filter held for review, oldest first", list_held,
             response=_record({"held": array(HELD, 200)})),
    Endpoint("POST", "/api/sites/{key}/held/{held_id}/release", "Deliver a held message as its visitor sent it",
             release_held, response=_record({"conversation": _STR, "seq": _INT})),
    Endpoint("DELETE", "/api/sites/{key}/held/{held_id}", "Delete a held message (never delivered)", delete_held),
    Endpoint("GET", "/api/sites/{key}/views", "My saved inbox views on the site", list_views,
             response=_record({"views": array(VIEW, 1000)})),
    Endpoint("POST", "/api/sites/{key}/views", "Save an inbox view (labels and status) under a name; the same "
             "name replaces it", save_view, body=SAVE_VIEW, response=VIEW),
    Endpoint("DELETE", "/api/sites/{key}/views/{view_id}", "Delete one of my saved views", delete_view),
    Endpoint("GET", "/api/sites/{key}/export/conversations", "Conversations with their labels, for insight "
             "(CSV; owners and admins)", export_conversations, query=EXPORT_QUERY, media_type="text/csv"),
    Endpoint("GET", "/api/sites/{key}/export/conversations/json", "The same export as JSON",
             export_conversations_json, query=EXPORT_QUERY, response=_record({
                 "site": _STR, "from": _MS, "to": _MS, "conversations": array(_record({
                     "id": _STR, "created_at": _MS, "closed_at": nullable(_MS), "status": enum("open", "closed"),
                     "labels": array(_STR, 20), "visitor_id": _STR, "assignee_id": nullable(_STR),
                     "rating": nullable(_INT), "messages": _INT}), EXPORT_MAX)})),
]

"""Conversations and visitors over REST: list and search, one with its visitor's context, its messages
(by page or after a seq), sending, closing, reopening, assigning, labels, the transcript; a visitor
with their conversations and tracked events. Each goes through `Chat`, authorized like the WebSocket."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from papote import quick_replies
from papote.authz import Action, Principal, authorize
from papote.conversations import Chat, message_dict, visitor_summary
from papote.errors import ErrorCode, NotFound, PapoteError
from papote.ids import new_id
from papote.store import Conversation, ConversationQuery
from papote.types import ConversationStatus, MessageKind
from papote.web import api_schemas as shapes
from papote.web.api_schemas import ref
from papote.web.http import Endpoint, json_body, papote_of, params

#: A visitor's most recent conversations listed with them.
VISITOR_CONVERSATIONS = 50


async def list_conversations(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    site_ids = principal.site_ids
    q = params(request)
    if q["site"]:
        site = await papote.site_by_key(q["site"])
        if site is None or site.id not in site_ids:
            raise NotFound("no such site")
        site_ids = [site.id]
    assignee = principal.id if q["assignee"] == "me" else q["assignee"]
    query = ConversationQuery(
        site_ids=site_ids, status=ConversationStatus(q["status"]) if q["status"] else None,
        assignee_id=assignee, unassigned=bool(q["unassigned"]), visitor_id=q["visitor"], text=q["q"] or None,
        limit=q["limit"], before_updated_at=q["before"], snoozed=q["snoozed"],
    )
    convs = await papote.chat.find(query)
    return {"conversations": await papote.chat.summaries(convs, principal)}


async def get_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    conv = await papote.chat.conversation_for(principal, request.path_params["cid"], Action.READ)
    [summary] = await papote.chat.summaries([conv], principal)
    visitor = await papote.visitors.get(conv.visitor_id)
    summary["visitor"] = visitor_summary(visitor, full=True) if visitor else None
    summary["events"] = [{"name": e.name, "data": e.data, "at": e.at}
                         for e in await papote.visitors.events(conv.visitor_id)]
    return summary


async def get_messages(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    cid = request.path_params["cid"]
    q = params(request)
    if q["after_seq"] is not None:
        msgs = await papote.chat.messages_after(principal, cid, q["after_seq"], q["limit"])
        return {"messages": [message_dict(m) for m in msgs]}
    frame = await papote.chat.page(principal, cid, q["before_seq"], q["limit"])
    return {"messages": frame["messages"], "more": frame["more"], "last_seq": frame["last_seq"]}


async def post_message(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    body = await json_body(request)
    if not body.get("body") and not body.get("attachments"):
        raise PapoteError("field 'body' is required (unless the message carries attachments)", ErrorCode.BAD_FIELD)
    note = body.get("note", False)
    files = body.get("attachments") or None
    ack, _ = await papote.chat.send(principal, request.path_params["cid"],
                                    body.get("client_msg_id") or new_id("api"), body.get("body") or "",
                                    note=note, data=quick_replies.options_data(body.get("quick_replies"), note=note),
                                    attachments=files, mentions=body.get("mentions") or None)
    del ack["t"]
    return JSONResponse(ack, status_code=201)


async def _summary(chat: Chat, conv: Conversation, principal: Principal) -> Any:
    """A conversation's state after an agent's action, as the caller sees it (the REST answer)."""
    [summary] = await chat.summaries([conv], principal)
    return summary


async def close_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    chat = papote_of(request).chat
    return await _summary(chat, await chat.close(principal, request.path_params["cid"]), principal)


async def reopen_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    chat = papote_of(request).chat
    return await _summary(chat, await chat.reopen(principal, request.path_params["cid"]), principal)


async def snooze_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    chat = papote_of(request).chat
    body = await json_body(request)
    return await _summary(chat, await chat.snooze(principal, request.path_params["cid"], body["until"]), principal)


async def unsnooze_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    chat = papote_of(request).chat
    return await _summary(chat, await chat.unsnooze(principal, request.path_params["cid"]), principal)


async def assign_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    chat = papote_of(request).chat
    body = await json_body(request)
    conv = await chat.assign(principal, request.path_params["cid"], body["agent"], note=body.get("note"))
    return await _summary(chat, conv, principal)


async def label_conversation(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    chat = papote_of(request).chat
    body = await json_body(request)
    conv = await chat.label(principal, request.path_params["cid"], body.get("add") or [], body.get("remove") or [])
    return await _summary(chat, conv, principal)


async def transcript(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    papote = papote_of(request)
    conv, messages = await papote.chat.transcript(principal, request.path_params["cid"])
    lines = []
    for m in messages:
        if m.kind == MessageKind.TEXT:
            when = datetime.fromtimestamp(m.created_at / 1000, UTC).strftime("%Y-%m-%d %H:%M")
            who = m.author_name or ("Visitor" if m.author_kind == "visitor" else "Agent")
            files = "".join(f" [{a['name']}]" for a in m.attachments)
            lines.append(f"[{when} UTC] {who}: {m.body}{files}")
    return PlainTextResponse("\n".join(lines) + "\n", headers={
        "content-disposition": f'attachment; filename="conversation-{conv.id}.txt"'})


async def get_visitor(request: Request, principal: Principal | None) -> Any:
    assert principal is not None
    papote = papote_of(request)
    visitor = await papote.visitors.get(request.path_params["vid"])
    if visitor is None:
        raise NotFound()
    authorize(principal, Action.READ, visitor.site_id)
    convs = await papote.visitors.conversations(visitor, VISITOR_CONVERSATIONS)
    return {"visitor": visitor_summary(visitor, full=True),
            "conversations": await papote.chat.summaries(convs, principal),
            "events": [{"name": e.name, "data": e.data, "at": e.at}
                       for e in await papote.visitors.events(visitor.id)]}


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/conversations", "List, filter and search conversations", list_conversations,
             "any", query=shapes.LIST_CONVERSATIONS_QUERY, response=shapes.CONVERSATIONS),
    Endpoint("GET", "/api/conversations/{cid}", "A conversation with its visitor's context",
             get_conversation, "any", response=ref("ConversationDetail")),
    Endpoint("GET", "/api/conversations/{cid}/messages", "Messages, by page or after a seq",
             get_messages, "any", query=shapes.MESSAGES_QUERY, response=shapes.MESSAGES),
    Endpoint("POST", "/api/conversations/{cid}/messages", "Send a message or a private note",
             post_message, "any", body=lambda config: shapes.post_message(config.max_body_chars),
             response=shapes.ACK, status=201),
    Endpoint("POST", "/api/conversations/{cid}/close", "Close a conversation", close_conversation, "any",
             response=ref("Conversation")),
    Endpoint("POST", "/api/conversations/{cid}/reopen", "Reopen a closed conversation", reopen_conversation,
             "any", response=ref("Conversation")),
    Endpoint("POST", "/api/conversations/{cid}/snooze", "Set an open conversation aside until a time",
             snooze_conversation, "any", body=shapes.SNOOZE, response=ref("Conversation")),
    Endpoint("POST", "/api/conversations/{cid}/unsnooze", "Bring a snoozed conversation back now",
             unsnooze_conversation, "any", response=ref("Conversation")),
    Endpoint("POST", "/api/conversations/{cid}/assign", "Assign a conversation to an agent of its site",
             assign_conversation, "any", body=shapes.ASSIGN, response=ref("Conversation")),
    Endpoint("POST", "/api/conversations/{cid}/label", "Add and remove labels", label_conversation, "any",
             body=shapes.LABEL_CHANGE, response=ref("Conversation")),
    Endpoint("GET", "/api/conversations/{cid}/transcript", "Plain-text transcript", transcript, "any",
             media_type="text/plain"),
    Endpoint("GET", "/api/visitors/{vid}", "A visitor, their conversations and tracked events",
             get_visitor, "any", response=shapes.VISITOR_DETAIL),
]

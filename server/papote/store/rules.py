"""The rules every store obeys, written once, above the backends.

A backend stores and finds; it does not decide. What a retry of a `client_msg_id` means, which message is
a first response, when a visitor reopens a closed conversation, what counts as unread, how a new agent or
site starts out, how many pages a visitor's trail keeps: all of it is here, as pure functions and
constants, and the SQLite and PostgreSQL stores call these (inside their own transactions where a rule
must hold atomically, e.g. the dedupe under the conversation's lock).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from papote.errors import Conflict, ErrorCode, NotFound, PapoteError
from papote.types import AgentStatus, AuthorKind, MessageKind, Millis

if TYPE_CHECKING:
    from papote.store import Attachment, Message, NewMessage

#: A new agent takes this many conversations at once until they say otherwise (routing's capacity).
DEFAULT_CAPACITY = 5
#: A new agent is offline until a console connects and says otherwise.
DEFAULT_AGENT_STATUS = AgentStatus.OFFLINE
#: Pages visited kept per visitor for the agents' context panel: enough to see how they got here, small
#: enough to ride along in every visitor summary.
PAGES_KEPT = 20
#: Bytes of entropy in a site's signing secret (hex-encoded: 64 characters).
SITE_SECRET_BYTES = 32


#: PostgreSQL's text cannot hold U+0000 (SQLite's can): no store takes it, so both backends answer a
#: NUL alike, with this refusal, before anything is written.
NUL_REFUSED = "text may not hold a NUL character (U+0000)"


def holds_nul(value: Any) -> bool:
    """Whether a NUL is in `value`: a string, or any string or key inside lists and maps."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return False


def check_storable(*values: Any) -> None:
    """Refuse (`bad_field`) values a store cannot keep as given: text holding a NUL."""
    for value in values:
        # Most values are a plain string or None: `in` on a str is one C call, the walk is for the rest
        # (5 % of the event loop's CPU per message at 1k msgs/s went to the walk, docs/performance.md).
        if value is None:
            continue
        if value.__class__ is str:
            if "\x00" in value:
                raise PapoteError(NUL_REFUSED, ErrorCode.BAD_FIELD)
        elif holds_nul(value):
            raise PapoteError(NUL_REFUSED, ErrorCode.BAD_FIELD)


@dataclass(frozen=True, slots=True)
class AppendPlan:
    """An append as the rules decided it, before storage: what the backend does besides the insert."""

    new: NewMessage
    #: The conversation's `first_response_at` is set now if it is still empty.
    first_response: bool
    #: If the conversation is closed, it reopens: a `reopened` event takes the next seq, the message the
    #: one after (both in the same transaction), and the assignment is cleared for routing to start over.
    reopens: bool


def plan_append(new: NewMessage) -> AppendPlan:
    """What appending `new` implies besides storing it; `bad_field` for text no store can keep."""
    check_storable(new.body, new.author_name, new.client_msg_id, new.event, new.data)
    text = new.kind == MessageKind.TEXT
    return AppendPlan(
        new,
        # A first response is an agent's text to the visitor: notes and events do not answer anybody.
        first_response=text and new.author_kind == AuthorKind.AGENT,
        # A visitor writing to a closed conversation reopens it (rating it or leaving an email does not).
        reopens=text and new.author_kind == AuthorKind.VISITOR,
    )


def is_retry(first: Message, new: NewMessage) -> bool:
    """Whether `new` repeats `first`, the message already stored under the same (author, client_msg_id).

    Same author, same id, same body and files: the same message, whatever conversation the retry names (a client
    that sent "new conversation" may have learned its id since); the caller acks with the stored copy.
    Same id, another body: a client bug or a forgery, refused (`Conflict`) and nothing stored.
    """
    if first.body != new.body or attachment_ids(first.data) != attachment_ids(new.data):
        raise Conflict("client_msg_id was already used for a different message")
    return True


def attachment_ids(data: dict[str, Any] | None) -> list[str]:
    """The ids of the files a message's data names (`{"attachments": [id, …]}`), in the order sent."""
    ids = (data or {}).get("attachments") or []
    return [i for i in ids if isinstance(i, str)]


def mentioned(message: Message) -> list[str]:
    """The agents a note mentions (`data.mentions`, checked when it was sent); none for anything else."""
    if message.kind is not MessageKind.NOTE or not message.data:
        return []
    ids = message.data.get("mentions") or []
    return [i for i in ids if isinstance(i, str)]


def files_to_come(message: Message) -> int:
    """How many of the provider files a message names (`data.channel.media`: a customer's photos on a
    messaging channel, fetched after it was stored) it does not have yet."""
    channel = (message.data or {}).get("channel")
    media = channel.get("media") if isinstance(channel, dict) else None
    return max(0, len(media) - len(message.attachments)) if isinstance(media, list) else 0


def attachment_view(a: Attachment) -> dict[str, Any]:
    """An attachment as clients see it inside a message: never where it is stored."""
    return {"id": a.id, "kind": a.kind, "content_type": a.content_type, "size": a.size, "name": a.name,
            "width": a.width, "height": a.height, "thumbnail": a.thumbnail_key is not None}


def reopened_event(conversation_id: str, seq: int, new: NewMessage, at: Millis,
                   assignee_id: str | None = None) -> Message:
    """The `reopened` event a visitor's message to a closed conversation is preceded by. The reopen
    clears the assignee (the conversation goes back through routing), so the event keeps who had it,
    `{"assignee": id}`: routing offers it to that agent first."""
    from papote.store import Message

    data = {"assignee": assignee_id} if assignee_id else None
    return Message(conversation_id, seq, MessageKind.EVENT, AuthorKind.VISITOR, new.author_id,
                   new.author_name, None, "", "reopened", data, at)


def counts_as_unread(reader_kind: AuthorKind) -> tuple[MessageKind, frozenset[AuthorKind]]:
    """The message kind and the author kinds that count as unread for a reader of `reader_kind`.

    A visitor's unread are the agents' (the bot's, the system's) texts; an agent's are the visitor's
    texts. Events and notes never count: they do not ask for an answer.
    """
    if reader_kind == AuthorKind.VISITOR:
        return MessageKind.TEXT, frozenset({AuthorKind.AGENT, AuthorKind.SYSTEM, AuthorKind.BOT})
    return MessageKind.TEXT, frozenset({AuthorKind.VISITOR})


def visited(pages: list[dict[str, Any]], page: dict[str, Any], at: Millis) -> list[dict[str, Any]] | None:
    """The visitor's trail after visiting `page`, or None when it does not change (a reload of the page
    last seen is not a new visit)."""
    if pages and pages[-1].get("url") == page.get("url"):
        return None
    return [*pages, {**page, "at": at}][-PAGES_KEPT:]


def new_site_secret() -> str:
    """A fresh signing secret for identity tokens (docs/identity.md)."""
    return secrets.token_hex(SITE_SECRET_BYTES)


def attachments_to_claim(attachment_ids: list[str], found: dict[str, Sequence[Any]], site_id: str,
                         uploader_id: str, client_msg_id: str, already: set[str]) -> list[str]:
    """Which of `attachment_ids` a message claims now (the ones no retry of it claimed yet).

    `found` maps each existing id to its row (id, site_id, uploader_id, client_msg_id), read under the
    backend's lock; `already` is the ids this uploader's `client_msg_id` holds. A file is only ever sent
    by its uploader on its site, with one message; a retry must name the same files.
    """
    for i in attachment_ids:
        row = found.get(i)
        if row is None or row[1] != site_id or row[2] != uploader_id:
            raise NotFound("no such attachment")
        if row[3] is not None and row[3] != client_msg_id:
            raise Conflict("this attachment was already sent with another message")
    if already and already != set(attachment_ids):
        raise Conflict("client_msg_id was already used for a message with other attachments")
    return [i for i in attachment_ids if found[i][3] is None]

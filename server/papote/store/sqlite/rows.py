"""Row shapes of the SQLite store: column lists, their conversion to records, and the update-then-read-back
pair every update job uses."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from papote.errors import NotFound
from papote.store import Agent, Conversation, Message, Site, Visitor
from papote.store.outbox import Delivery, DeliveryStatus
from papote.types import AgentStatus, AuthorKind, ConversationStatus, MessageKind, Role

# Stored strings to enum members by dict (an Enum call costs ~10x more, per row of every history read).
STATUS = {m.value: m for m in ConversationStatus}
KIND = {m.value: m for m in MessageKind}
AUTHOR = {m.value: m for m in AuthorKind}
AGENT_STATUS = {m.value: m for m in AgentStatus}
ROLE = {m.value: m for m in Role}

#: A read over at most this many conversations (a visitor's welcome lists 10) is a point read.
INLINE_IDS_MAX = 20

CONV_COLS = (
    "id, site_id, visitor_id, status, assignee_id, last_seq, labels, contact_email, rating, "
    "rating_comment, created_at, updated_at, assigned_at, first_response_at, closed_at, snoozed_until"
)
MSG_COLS = (
    "conversation_id, seq, kind, author_kind, author_id, author_name, client_msg_id, body, event, "
    "data, created_at"
)
AGENT_COLS = (
    "id, email, name, password_hash, avatar, disabled, status, capacity, last_assigned_at, created_at"
)
VISITOR_COLS = (
    "id, site_id, user_id, name, email, verified, attributes, page, pages, device, created_at, last_seen"
)
SITE_COLS = "id, key, name, origins, secrets, settings, created_at"


def prefixed(cols: str, alias: str) -> str:
    """`cols` qualified by a table alias, for joins."""
    return ", ".join(f"{alias}.{c.strip()}" for c in cols.split(","))


#: A conversation's `labels` when it has none (the column's default): most have none, and every append
#: reads its conversation's row back, in the writer thread, where a `json.loads` comes in cold (~8 µs
#: of a commit at a shop's pace, docs/performance.md).
NO_LABELS = "[]"


def conv_of(row: Sequence[Any]) -> Conversation:
    return Conversation(
        row[0], row[1], row[2], STATUS[row[3]], row[4], row[5], [] if row[6] == NO_LABELS else json.loads(row[6]),
        row[7], row[8], row[9], row[10], row[11], row[12], row[13], row[14], row[15],
    )


def msg_of(row: Sequence[Any]) -> Message:
    return Message(
        row[0], row[1], KIND[row[2]], AUTHOR[row[3]], row[4], row[5], row[6], row[7], row[8],
        json.loads(row[9]) if row[9] else None, row[10],
    )


def agent_of(row: Sequence[Any]) -> Agent:
    return Agent(
        row[0], row[1], row[2], row[3], row[4], bool(row[5]), AGENT_STATUS[row[6]], row[7], row[8], row[9]
    )


def visitor_of(row: Sequence[Any]) -> Visitor:
    return Visitor(
        row[0], row[1], row[2], row[3], row[4], bool(row[5]), json.loads(row[6]), json.loads(row[7]),
        json.loads(row[8]), json.loads(row[9]), row[10], row[11],
    )


def site_of(row: Sequence[Any]) -> Site:
    return Site(row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]), json.loads(row[5]), row[6])


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def set_columns(conn: sqlite3.Connection, table: str, row_id: str, values: dict[str, Any]) -> None:
    """UPDATE the named columns of one row by id; nothing to change writes nothing. Table and column
    names come from this module and the typed change sets, never from a client."""
    if values:
        sets = ", ".join(f"{k}=?" for k in values)
        conn.execute(f"UPDATE {table} SET {sets} WHERE id=?", (*values.values(), row_id))


def read_back(conn: sqlite3.Connection, table: str, cols: str, row_id: str, missing: str) -> Any:
    """The row as it stands after an update, in the same transaction; NotFound when there is none."""
    row = conn.execute(f"SELECT {cols} FROM {table} WHERE id=?", (row_id,)).fetchone()
    if row is None:
        raise NotFound(missing)
    return row


DELIVERY_COLS = ("id, site_id, conversation_id, visitor_id, channel, kind, target, payload, status, attempts, "
                 "next_attempt_at, error, created_at, sent_at, position, seq, account_id, provider_msg_id")
_DELIVERY_STATUS = {m.value: m for m in DeliveryStatus}


def delivery_of(row: Sequence[Any]) -> Delivery:
    return Delivery(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]),
                    _DELIVERY_STATUS[row[8]], row[9], row[10], row[11], row[12], row[13], row[14], row[15],
                    row[16], row[17])


def insert_delivery(conn: sqlite3.Connection, d: Delivery) -> None:
    conn.execute(
        f"INSERT INTO deliveries({DELIVERY_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (d.id, d.site_id, d.conversation_id, d.visitor_id, d.channel, d.kind, d.target, dumps(d.payload),
         str(d.status), d.attempts, d.next_attempt_at, d.error, d.created_at, d.sent_at, d.position, d.seq,
         d.account_id, d.provider_msg_id),
    )


def insert_visitor_row(conn: sqlite3.Connection, visitor: Visitor, token_hash: str) -> None:
    """A new visitor with its details and its token, in the caller's transaction."""
    v = visitor
    conn.execute(
        "INSERT INTO visitors(id, site_id, name, email, device, created_at, last_seen) VALUES (?,?,?,?,?,?,?)",
        (v.id, v.site_id, v.name, v.email, dumps(v.device), v.created_at, v.last_seen))
    conn.execute("INSERT INTO visitor_tokens(token_hash, visitor_id, created_at) VALUES (?,?,?)",
                 (token_hash, v.id, v.created_at))

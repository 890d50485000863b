"""Row shapes of the PostgreSQL store: column lists and their conversion to records.

jsonb columns arrive decoded (connection.py sets the codec), booleans as booleans; stored strings
become the enums of papote.types by dict, as in the SQLite store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from papote.store import Agent, Conversation, Message, Site, Visitor
from papote.store.outbox import Delivery, DeliveryStatus
from papote.types import AgentStatus, AuthorKind, ConversationStatus, MessageKind, Role

STATUS = {m.value: m for m in ConversationStatus}
KIND = {m.value: m for m in MessageKind}
AUTHOR = {m.value: m for m in AuthorKind}
AGENT_STATUS = {m.value: m for m in AgentStatus}
ROLE = {m.value: m for m in Role}

CONV_COLS = (
    "id, site_id, visitor_id, status, assignee_id, last_seq, labels, contact_email, rating, "
    "rating_comment, created_at, updated_at, assigned_at, first_response_at, closed_at, snoozed_until"
)
MSG_COLS = (
    "conversation_id, seq, kind, author_kind, author_id, author_name, client_msg_id, body, event, "
    "data, created_at"
)
AGENT_COLS = "id, email, name, password_hash, avatar, disabled, status, capacity, last_assigned_at, created_at"
VISITOR_COLS = "id, site_id, user_id, name, email, verified, attributes, page, pages, device, created_at, last_seen"
SITE_COLS = "id, key, name, origins, secrets, settings, created_at"
INVITE_COLS = "site_id, email, role, created_by, expires_at, id, created_at"


def prefixed(cols: str, alias: str) -> str:
    """`cols` qualified by a table alias, for joins."""
    return ", ".join(f"{alias}.{c.strip()}" for c in cols.split(","))


def conv_of(row: Sequence[Any], at: int = 0, *, snoozed: bool = True) -> Conversation:
    """`snoozed=False` for the append functions' rows, which carry every column but `snoozed_until`
    (an append never changes it; the Conversation then says None)."""
    r = row
    return Conversation(
        r[at], r[at + 1], r[at + 2], STATUS[r[at + 3]], r[at + 4], r[at + 5], r[at + 6], r[at + 7],
        r[at + 8], r[at + 9], r[at + 10], r[at + 11], r[at + 12], r[at + 13], r[at + 14],
        r[at + 15] if snoozed else None,
    )


def msg_of(row: Sequence[Any], at: int = 0) -> Message:
    r = row
    return Message(
        r[at], r[at + 1], KIND[r[at + 2]], AUTHOR[r[at + 3]], r[at + 4], r[at + 5], r[at + 6], r[at + 7],
        r[at + 8], r[at + 9], r[at + 10],
    )


def agent_of(row: Sequence[Any]) -> Agent:
    return Agent(row[0], row[1], row[2], row[3], row[4], row[5], AGENT_STATUS[row[6]], row[7], row[8], row[9])


def visitor_of(row: Sequence[Any]) -> Visitor:
    return Visitor(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10],
                   row[11])


def site_of(row: Sequence[Any]) -> Site:
    return Site(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


DELIVERY_COLS = ("id, site_id, conversation_id, visitor_id, channel, kind, target, payload, status, attempts, "
                 "next_attempt_at, error, created_at, sent_at, position, seq, account_id, provider_msg_id")
_DELIVERY_STATUS = {m.value: m for m in DeliveryStatus}


def delivery_of(row: Sequence[Any]) -> Delivery:
    return Delivery(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], _DELIVERY_STATUS[row[8]],
                    row[9], row[10], row[11], row[12], row[13], row[14], row[15], row[16], row[17])


async def insert_delivery(conn: asyncpg.Connection, d: Delivery) -> None:
    await conn.execute(
        f"INSERT INTO deliveries({DELIVERY_COLS}) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)",
        d.id, d.site_id, d.conversation_id, d.visitor_id, d.channel, d.kind, d.target, d.payload,
        str(d.status), d.attempts, d.next_attempt_at, d.error, d.created_at, d.sent_at, d.position, d.seq,
        d.account_id, d.provider_msg_id,
    )


async def insert_visitor_row(conn: asyncpg.Connection, visitor: Visitor, token_hash: str) -> None:
    """A new visitor with its details and its token, in the caller's transaction."""
    v = visitor
    await conn.execute(
        "INSERT INTO visitors(id, site_id, name, email, device, created_at, last_seen) VALUES ($1,$2,$3,$4,$5,$6,$7)",
        v.id, v.site_id, v.name, v.email, v.device, v.created_at, v.last_seen)
    await conn.execute("INSERT INTO visitor_tokens(token_hash, visitor_id, created_at) VALUES ($1,$2,$3)",
                       token_hash, v.id, v.created_at)

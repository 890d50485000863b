"""The hot path of the SQLite store: appending messages (dedupe, next seq, insert) in the writer thread."""

from __future__ import annotations

import sqlite3

from papote.errors import Conflict, NotFound
from papote.ids import new_id, now_ms
from papote.store import Appended, Message, NewMessage
from papote.store.rules import AppendPlan, is_retry, reopened_event
from papote.store.sqlite.rows import CONV_COLS, MSG_COLS, conv_of, dumps, insert_delivery, msg_of
from papote.types import ConversationStatus


def append_one(conn: sqlite3.Connection, plan: AppendPlan) -> Appended:
    """Runs in the writer thread inside the batch transaction: dedupe, next seq, insert.

    Every expected refusal (Conflict, NotFound) is raised before the first write, which is what lets
    this job run without a SAVEPOINT (the hot path saves two statements per message). The writer is
    alone, so the dedupe and the seq it then takes cannot interleave with another append.
    """
    new = plan.new
    now = now_ms()
    if new.client_msg_id is not None:
        row = conn.execute(
            f"SELECT {MSG_COLS} FROM messages WHERE author_id=? AND client_msg_id=?",
            (new.author_id, new.client_msg_id),
        ).fetchone()
        if row is not None:
            first = msg_of(row)
            is_retry(first, new)  # raises Conflict for another body
            conv_row = conn.execute(
                f"SELECT {CONV_COLS} FROM conversations WHERE id=?", (first.conversation_id,)
            ).fetchone()
            return Appended(first, conv_of(conv_row), duplicate=True)
    created = False
    conversation_id = new.conversation_id
    if conversation_id is None:
        if new.visitor_id is None:
            raise NotFound("no conversation to write to")
        conversation_id = new.new_conversation_id or new_id("c")
        # A first message naming the id it opens joins that conversation if another one created it first
        # (NewMessage.new_conversation_id): the insert does nothing then, and it must be this visitor's.
        created = conn.execute(
            "INSERT INTO conversations(id, site_id, visitor_id, created_at, updated_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(id) DO NOTHING",
            (conversation_id, new.site_id, new.visitor_id, now, now),
        ).rowcount > 0
        if not created and conn.execute("SELECT 1 FROM conversations WHERE id=? AND visitor_id=?",
                                        (conversation_id, new.visitor_id)).fetchone() is None:
            raise NotFound("no conversation to write to")
    first_response = plan.first_response
    conv_row = conn.execute(
        "UPDATE conversations SET last_seq=last_seq+1, updated_at=?"
        + (", first_response_at=COALESCE(first_response_at, ?)" if first_response else "")
        + f" WHERE id=? AND site_id=? RETURNING {CONV_COLS}",
        (now, now, conversation_id, new.site_id) if first_response else (now, conversation_id, new.site_id),
    ).fetchone()
    if conv_row is None:
        raise NotFound("no such conversation")
    reopened: Message | None = None
    if conv_row[3] == ConversationStatus.CLOSED and plan.reopens:
        # The seq just taken goes to the `reopened` event, the message takes the next one.
        reopened = reopened_event(conversation_id, conv_row[5], new, now, assignee_id=conv_row[4])
        insert_message(conn, reopened)
        conv_row = conn.execute(
            "UPDATE conversations SET status='open', closed_at=NULL, assignee_id=NULL, assigned_at=NULL, "
            f"last_seq=last_seq+1 WHERE id=? RETURNING {CONV_COLS}",
            (conversation_id,),
        ).fetchone()
    conversation = conv_of(conv_row)
    message = Message(
        conversation_id, conversation.last_seq, new.kind, new.author_kind, new.author_id,
        new.author_name, new.client_msg_id, new.body, new.event, new.data, now,
    )
    insert_message(conn, message)
    for delivery in new.deliveries:  # the message's sends, in its own transaction (transactional outbox)
        delivery.conversation_id, delivery.seq = conversation_id, message.seq
        insert_delivery(conn, delivery)
    return Appended(message, conversation, created=created, reopened=reopened)


def insert_message(conn: sqlite3.Connection, message: Message) -> None:
    conn.execute(
        f"INSERT INTO messages({MSG_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (message.conversation_id, message.seq, message.kind, message.author_kind, message.author_id,
         message.author_name, message.client_msg_id, message.body, message.event,
         dumps(message.data) if message.data is not None else None, message.created_at),
    )


#: (author, client_msg_id) pairs per dedupe query: well under SQLite's bound on host parameters and
#: on the terms of one OR it optimises.
DEDUPE_CHUNK = 100


def append_run(conn: sqlite3.Connection, plans: list[AppendPlan]) -> list[tuple[bool, object]]:
    """Append a run of messages queued together, with a few statements for the whole run.

    The common case — messages to open conversations — costs one dedupe query per 100 messages, one
    `UPDATE … last_seq = last_seq + n` per conversation and one `executemany` insert, instead of three
    statements per message. A conversation needing more care (creation, a closed one to reopen, an
    unknown id or site) goes message by message through `append_one`, in order, after the others
    (whose rows it then sees when it looks for duplicates). A run of one message goes to `append_one`
    whole. Outcomes come back in the order of `news`: (True, Appended) or (False, the Conflict or
    NotFound to raise).
    """
    if len(plans) == 1:
        # A shop's pace commits a message or two at a time: one alone takes the per-message path, three
        # statements and none of the run's bookkeeping, which pays only from two messages up (its Python
        # comes in cold in the writer: 88-94 → 77-80 µs of `append_run` per commit, docs/performance.md).
        try:
            return [(True, append_one(conn, plans[0]))]
        except (Conflict, NotFound) as exc:
            return [(False, exc)]
    news = [p.new for p in plans]
    now = now_ms()
    outcomes: list[tuple[bool, object] | None] = [None] * len(news)
    by_conversation: dict[tuple[str, str], list[int]] = {}
    careful: list[int] = []
    # A conversation with a message whose sends are queued with it goes one by one, all of its run (so
    # its messages keep their order).
    sending = {n.conversation_id for n in news if n.deliveries}
    for i, new in enumerate(news):
        if new.conversation_id is None or new.conversation_id in sending:
            careful.append(i)
        else:
            by_conversation.setdefault((new.conversation_id, new.site_id), []).append(i)
    existing = _existing(conn, [n for n in news if n.conversation_id is not None and n.client_msg_id is not None])
    seen: dict[tuple[str, str], NewMessage] = {}  # new in this run: (author, client_msg_id) → first copy
    rows: list[Message] = []
    for (cid, site_id), indexes in by_conversation.items():
        fresh: list[int] = []
        for i in indexes:
            new = news[i]
            key = (new.author_id, new.client_msg_id or "")
            first = existing.get(key) if new.client_msg_id is not None else None
            if first is not None:
                outcomes[i] = _retry_outcome(conn, new, first)
            elif new.client_msg_id is not None and key in seen:
                careful.append(i)  # a retry of a message of this very run: settled once that one is stored
            else:
                fresh.append(i)
                if new.client_msg_id is not None:
                    seen[key] = new
        if not fresh:
            continue
        first_response = any(plans[i].first_response for i in fresh)
        conv_row = conn.execute(
            "UPDATE conversations SET last_seq=last_seq+?, updated_at=?"
            + (", first_response_at=COALESCE(first_response_at, ?)" if first_response else "")
            + f" WHERE id=? AND site_id=? AND status='open' RETURNING {CONV_COLS}",
            (len(fresh), now, now, cid, site_id) if first_response else (len(fresh), now, cid, site_id),
        ).fetchone()
        if conv_row is None:
            # Closed (a visitor's message reopens it), unknown, or another site's: one by one.
            careful.extend(fresh)
            for i in fresh:
                seen.pop((news[i].author_id, news[i].client_msg_id or ""), None)
            continue
        conversation = conv_of(conv_row)
        seq = conversation.last_seq - len(fresh)
        for i in fresh:
            seq += 1
            new = news[i]
            message = Message(cid, seq, new.kind, new.author_kind, new.author_id, new.author_name,
                              new.client_msg_id, new.body, new.event, new.data, now)
            rows.append(message)
            outcomes[i] = (True, Appended(message, conversation))
    if rows:
        conn.executemany(
            f"INSERT INTO messages({MSG_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(m.conversation_id, m.seq, m.kind, m.author_kind, m.author_id, m.author_name, m.client_msg_id,
              m.body, m.event, dumps(m.data) if m.data is not None else None, m.created_at) for m in rows],
        )
    for i in sorted(careful):
        try:
            outcomes[i] = (True, append_one(conn, plans[i]))
        except (Conflict, NotFound) as exc:
            outcomes[i] = (False, exc)
    settled = [o for o in outcomes if o is not None]
    assert len(settled) == len(news), "every append of the run has an outcome"
    return settled


def _existing(conn: sqlite3.Connection, news: list[NewMessage]) -> dict[tuple[str, str], Message]:
    """Messages already stored under any of these (author, client_msg_id) pairs."""
    found: dict[tuple[str, str], Message] = {}
    pairs = list({(n.author_id, n.client_msg_id or "") for n in news})
    for start in range(0, len(pairs), DEDUPE_CHUNK):
        chunk = pairs[start:start + DEDUPE_CHUNK]
        # An OR of exact pairs: SQLite searches the unique index once per pair (a row-value IN over a
        # VALUES list would scan the whole index instead).
        matches = " OR ".join("(author_id=? AND client_msg_id=?)" for _ in chunk)
        for row in conn.execute(
            f"SELECT {MSG_COLS} FROM messages WHERE client_msg_id IS NOT NULL AND ({matches})",
            [x for pair in chunk for x in pair],
        ):
            message = msg_of(row)
            found[(message.author_id, message.client_msg_id or "")] = message
    return found


def _retry_outcome(conn: sqlite3.Connection, new: NewMessage, first: Message) -> tuple[bool, object]:
    try:
        is_retry(first, new)
    except Conflict as exc:
        return False, exc
    row = conn.execute(f"SELECT {CONV_COLS} FROM conversations WHERE id=?", (first.conversation_id,)).fetchone()
    return True, Appended(first, conv_of(row), duplicate=True)

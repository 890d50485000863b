"""The hot path of the SQLite store: appending messages (dedupe, next seq, insert) in the writer thread."""

from __future__ import annotations

import sqlite3

from papote.errors import Conflict, NotFound
from papote.ids import new_id, now_ms
from papote.store import Appended, Message, NewMessage
from papote.store.sqlite_rows import CONV_COLS, MSG_COLS, conv_of, dumps, msg_of


def append_one(conn: sqlite3.Connection, new: NewMessage) -> Appended:
    """Runs in the writer thread inside the batch transaction: dedupe, next seq, insert.

    Every expected refusal (Conflict, NotFound) is raised before the first write, which is what lets
    this job run without a SAVEPOINT (the hot path saves two statements per message).
    """
    now = now_ms()
    if new.client_msg_id is not None:
        row = conn.execute(
            f"SELECT {MSG_COLS} FROM messages WHERE author_id=? AND client_msg_id=?",
            (new.author_id, new.client_msg_id),
        ).fetchone()
        if row is not None:
            first = msg_of(row)
            # Same author, same id, same body: the same message, whatever conversation the retry names
            # (a client that sent "new conversation" may have learned its id since). The ack it gets
            # back carries the real one.
            if first.body != new.body:
                raise Conflict("client_msg_id was already used for a different message")
            conv_row = conn.execute(
                f"SELECT {CONV_COLS} FROM conversations WHERE id=?", (first.conversation_id,)
            ).fetchone()
            return Appended(first, conv_of(conv_row), duplicate=True)
    created = False
    conversation_id = new.conversation_id
    if conversation_id is None:
        if new.visitor_id is None:
            raise NotFound("no conversation to write to")
        conversation_id = new_id("c")
        conn.execute(
            "INSERT INTO conversations(id, site_id, visitor_id, created_at, updated_at) VALUES (?,?,?,?,?)",
            (conversation_id, new.site_id, new.visitor_id, now, now),
        )
        created = True
    first_response = new.kind == "text" and new.author_kind == "agent"
    conv_row = conn.execute(
        "UPDATE conversations SET last_seq=last_seq+1, updated_at=?"
        + (", first_response_at=COALESCE(first_response_at, ?)" if first_response else "")
        + f" WHERE id=? AND site_id=? RETURNING {CONV_COLS}",
        (now, now, conversation_id, new.site_id) if first_response else (now, conversation_id, new.site_id),
    ).fetchone()
    if conv_row is None:
        raise NotFound("no such conversation")
    reopened: Message | None = None
    if conv_row[3] == "closed" and new.author_kind == "visitor" and new.kind == "text":
        # A visitor writing to a closed conversation reopens it (rating it or leaving an email does
        # not): the seq just taken goes to the `reopened` event, the message takes the next one.
        reopened = Message(conversation_id, conv_row[5], "event", "visitor", new.author_id,
                           new.author_name, None, "", "reopened", None, now)
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
    return Appended(message, conversation, created=created, reopened=reopened)


def insert_message(conn: sqlite3.Connection, message: Message) -> None:
    conn.execute(
        f"INSERT INTO messages({MSG_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (message.conversation_id, message.seq, message.kind, message.author_kind, message.author_id,
         message.author_name, message.client_msg_id, message.body, message.event,
         dumps(message.data) if message.data is not None else None, message.created_at),
    )

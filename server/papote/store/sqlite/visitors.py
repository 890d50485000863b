"""The SQLite store's queries for visitors: records, tokens, merges, tracked events and link codes."""

from __future__ import annotations

import json
import sqlite3

from papote.errors import NotFound
from papote.ids import now_ms
from papote.store import MAX_FIRED_RULES, Visitor, VisitorChanges, VisitorEvent, changed
from papote.store.rules import visited
from papote.store.sqlite.engine import SqliteEngine
from papote.store.sqlite.rows import (
    INLINE_IDS_MAX,
    VISITOR_COLS,
    dumps,
    insert_visitor_row,
    prefixed,
    read_back,
    set_columns,
    visitor_of,
)

#: A merge, statement by statement (docs/channels.md, "One customer across channels"): every table the
#: personal-data registry says holds a visitor's id moves to the person kept, in one transaction. Where a
#: unique key would hold twice, one row is kept and says why below; nothing is left naming `:from`
#: (tests/unit/test_store_contract_merge.py reads every column of every table to prove it).
MERGE_SQL = (
    "UPDATE visitor_tokens SET visitor_id=:into WHERE visitor_id=:from",
    "UPDATE conversations SET visitor_id=:into WHERE visitor_id=:from",
    "UPDATE visitor_events SET visitor_id=:into WHERE visitor_id=:from",
    "UPDATE link_codes SET visitor_id=:into WHERE visitor_id=:from",
    # Their messages are now the merged person's, and so are their dedupe keys (author_id, client_msg_id):
    # a send retried under the new identity finds its first copy, and a channel message re-delivered finds
    # it too. Should both have used one client_msg_id (never with minted UUIDs or provider ids), the kept
    # person's row keeps the key and the other message, still stored, loses only its retry key.
    "UPDATE messages SET client_msg_id=NULL WHERE author_id=:from AND author_kind='visitor' AND client_msg_id "
    "IN (SELECT client_msg_id FROM messages WHERE author_id=:into AND client_msg_id IS NOT NULL)",
    "UPDATE messages SET author_id=:into WHERE author_id=:from AND author_kind='visitor'",
    # Their uploads too: a file sent before the merge, retried after, is still theirs.
    "UPDATE attachments SET uploader_id=:into WHERE uploader_id=:from AND uploader_kind='visitor'",
    # One read position per conversation and reader: where both read, the further one stands.
    "UPDATE reads SET read_seq=max(read_seq, (SELECT r2.read_seq FROM reads r2 WHERE "
    "r2.conversation_id=reads.conversation_id AND r2.participant_id=:from)) WHERE participant_id=:into AND "
    "conversation_id IN (SELECT conversation_id FROM reads WHERE participant_id=:from)",
    "DELETE FROM reads WHERE participant_id=:from AND conversation_id IN "
    "(SELECT conversation_id FROM reads WHERE participant_id=:into)",
    "UPDATE reads SET participant_id=:into WHERE participant_id=:from",
    # Rules shown to either are shown to the person; a rule both saw keeps the kept person's time.
    "INSERT OR IGNORE INTO visitor_rules(visitor_id, rule_id, fired_at) "
    "SELECT :into, rule_id, fired_at FROM visitor_rules WHERE visitor_id=:from ORDER BY fired_at",
    "DELETE FROM visitor_rules WHERE visitor_id=:from",
    # A block of either blocks the person (a merge is no way out of a block); where both were, the kept
    # person's block (its author, reason and time) stands.
    "INSERT OR IGNORE INTO blocked_visitors(site_id, visitor_id, blocked_by, reason, created_at) "
    "SELECT site_id, :into, blocked_by, reason, created_at FROM blocked_visitors WHERE visitor_id=:from "
    "ORDER BY created_at",
    "DELETE FROM blocked_visitors WHERE visitor_id=:from",
    # A held message keeps its review; one whose key the kept person holds too keeps its text, not its key.
    "UPDATE held_messages SET client_msg_id='merged:' || id WHERE visitor_id=:from AND client_msg_id IN "
    "(SELECT client_msg_id FROM held_messages WHERE visitor_id=:into)",
    "UPDATE held_messages SET visitor_id=:into WHERE visitor_id=:from",
    "UPDATE nps_surveys SET visitor_id=:into WHERE visitor_id=:from",
    # The channels the person writes from (a phone number, a chat) are the kept person's from now on: the
    # next message on them, and a re-delivery of an old one, lands as them.
    "UPDATE channel_identities SET visitor_id=:into WHERE visitor_id=:from",
    # Confirmed or unsubscribed addresses keep their standing, for the person kept.
    "UPDATE email_addresses SET visitor_id=:into WHERE visitor_id=:from",
    "UPDATE deliveries SET visitor_id=:into WHERE visitor_id=:from",
    "DELETE FROM visitors WHERE id=:from",
)


class VisitorQueries(SqliteEngine):
    # -- visitors ------------------------------------------------------------------------------------
    async def insert_visitor(self, visitor: Visitor, token_hash: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO visitors(id, site_id, created_at, last_seen) VALUES (?,?,?,?)",
                (visitor.id, visitor.site_id, visitor.created_at, visitor.last_seen),
            )
            conn.execute(
                "INSERT INTO visitor_tokens(token_hash, visitor_id, created_at) VALUES (?,?,?)",
                (token_hash, visitor.id, visitor.created_at),
            )

        await self._write(job)

    async def insert_visitor_once(self, visitor: Visitor, token_hash: str) -> tuple[Visitor, bool]:
        def job(conn: sqlite3.Connection) -> tuple[Visitor, bool]:
            row = conn.execute(
                f"SELECT {prefixed(VISITOR_COLS, 'v')} FROM visitor_tokens t JOIN visitors v ON v.id=t.visitor_id "
                "WHERE t.token_hash=?", (token_hash,)).fetchone()
            if row is None:  # the one writer: nobody can insert it between this read and the insert
                insert_visitor_row(conn, visitor, token_hash)
                return visitor, True
            found = visitor_of(row)
            if found.site_id != visitor.site_id:
                raise NotFound("that token is another site's")
            return found, False

        return await self._write(job)

    async def get_visitor(self, visitor_id: str) -> Visitor | None:
        row = await self._one(f"SELECT {VISITOR_COLS} FROM visitors WHERE id=?", (visitor_id,))
        return visitor_of(row) if row else None

    async def get_visitors(self, visitor_ids: list[str]) -> dict[str, Visitor]:
        if not visitor_ids:
            return {}
        ids = list(set(visitor_ids))  # a visitor with two conversations is asked for twice
        rows = await self._all(
            f"SELECT {VISITOR_COLS} FROM visitors WHERE id IN ({','.join('?' * len(ids))})", ids,
            point=len(ids) <= INLINE_IDS_MAX,
        )
        return {r[0]: visitor_of(r) for r in rows}

    async def get_visitor_by_token(self, site_id: str, token_hash: str) -> Visitor | None:
        cols = prefixed(VISITOR_COLS, "v")
        row = await self._one(
            f"SELECT {cols} FROM visitor_tokens t JOIN visitors v ON v.id=t.visitor_id "
            "WHERE t.token_hash=? AND v.site_id=?",
            (token_hash, site_id),
        )
        return visitor_of(row) if row else None

    async def get_visitor_by_user(self, site_id: str, user_id: str) -> Visitor | None:
        row = await self._one(
            f"SELECT {VISITOR_COLS} FROM visitors WHERE site_id=? AND user_id=?", (site_id, user_id)
        )
        return visitor_of(row) if row else None

    async def update_visitor(self, visitor_id: str, changes: VisitorChanges) -> Visitor:
        plain = changed(changes)
        values = {k: (dumps(v) if k in {"attributes", "page", "device"} else v) for k, v in plain.items()}
        if "verified" in values:
            values["verified"] = int(values["verified"])
        page = plain.get("page")

        def job(conn: sqlite3.Connection) -> Visitor:
            set_columns(conn, "visitors", visitor_id, values)
            if page:
                row = conn.execute("SELECT pages FROM visitors WHERE id=?", (visitor_id,)).fetchone()
                pages = visited(json.loads(row[0]) if row else [], page, now_ms())
                if pages is not None:
                    conn.execute("UPDATE visitors SET pages=? WHERE id=?", (dumps(pages), visitor_id))
            return visitor_of(read_back(conn, "visitors", VISITOR_COLS, visitor_id, "no such visitor"))

        return await self._write(job)

    async def add_visitor_token(self, visitor_id: str, token_hash: str) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO visitor_tokens(token_hash, visitor_id, created_at) VALUES (?,?,?)",
                (token_hash, visitor_id, now_ms()),
            )
        )

    async def delete_visitor_token(self, token_hash: str) -> None:
        await self._write(
            lambda c: c.execute("DELETE FROM visitor_tokens WHERE token_hash=?", (token_hash,))
        )

    async def merge_visitor(self, from_id: str, into_id: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            for sql in MERGE_SQL:
                conn.execute(sql, {"from": from_id, "into": into_id})

        await self._write(job)

    async def add_visitor_event(self, visitor_id: str, event: VisitorEvent) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO visitor_events(visitor_id, name, data, at) VALUES (?,?,?,?)",
                (visitor_id, event.name, dumps(event.data), event.at or now_ms()),
            )
        )

    async def visitor_events(self, visitor_id: str, limit: int = 50) -> list[VisitorEvent]:
        rows = await self._all(
            "SELECT name, data, at FROM visitor_events WHERE visitor_id=? ORDER BY at DESC LIMIT ?",
            (visitor_id, limit),
        )
        return [VisitorEvent(r[0], json.loads(r[1]), r[2]) for r in rows]

    async def mark_rule_fired(self, visitor_id: str, rule_id: str, at: int) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            done = conn.execute(
                "INSERT OR IGNORE INTO visitor_rules(visitor_id, rule_id, fired_at) VALUES (?,?,?)",
                (visitor_id, rule_id, at),
            )
            return done.rowcount == 1

        return await self._write(job)

    async def fired_rules(self, visitor_id: str) -> list[str]:
        rows = await self._all(
            "SELECT rule_id FROM visitor_rules WHERE visitor_id=? ORDER BY fired_at DESC, rule_id LIMIT ?",
            (visitor_id, MAX_FIRED_RULES),
        )
        return [str(r[0]) for r in rows]

    async def create_link_code(self, code_hash: str, visitor_id: str, expires_at: int) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO link_codes(code_hash, visitor_id, expires_at) VALUES (?,?,?)",
                (code_hash, visitor_id, expires_at),
            )
        )

    async def take_link_code(self, code_hash: str, now: int) -> str | None:
        def job(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "DELETE FROM link_codes WHERE code_hash=? RETURNING visitor_id, expires_at", (code_hash,)
            ).fetchone()
            conn.execute("DELETE FROM link_codes WHERE expires_at<?", (now,))
            if row is None or row[1] < now:
                return None
            return str(row[0])

        return await self._write(job)

"""The SQLite store's queries for bot sessions (store/bots.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from papote.store.bots import HELD, STATUSES, BotSession
from papote.store.sqlite.engine import SqliteEngine

_COLS = "conversation_id, site_id, status, state, seen_seq, reason, created_at, updated_at"
_HELD = ",".join(f"'{s}'" for s in HELD)


def _session(row: Sequence[Any]) -> BotSession:
    return BotSession(row[0], row[1], row[2], json.loads(row[3]), int(row[4]), row[5], int(row[6]), int(row[7]))


class BotQueries(SqliteEngine):
    async def start_bot(self, conversation_id: str, site_id: str, at: int) -> BotSession:
        def job(conn: sqlite3.Connection) -> Any:
            conn.execute(
                "INSERT INTO bot_sessions(conversation_id, site_id, status, state, seen_seq, reason, created_at,"
                " updated_at) VALUES (?,?,'active','{}',0,'',?,?) ON CONFLICT(conversation_id) DO NOTHING",
                (conversation_id, site_id, at, at))
            return conn.execute(f"SELECT {_COLS} FROM bot_sessions WHERE conversation_id=?",
                                (conversation_id,)).fetchone()

        return _session(await self._write(job))

    async def get_bot(self, conversation_id: str) -> BotSession | None:
        row = await self._one(f"SELECT {_COLS} FROM bot_sessions WHERE conversation_id=?", (conversation_id,))
        return _session(row) if row else None

    async def save_bot(self, conversation_id: str, *, expect_seq: int, seen_seq: int, status: str,
                       state: dict[str, Any], reason: str, at: int) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE bot_sessions SET seen_seq=?, status=?, state=?, reason=?, updated_at=? "
                f"WHERE conversation_id=? AND seen_seq=? AND status IN ({_HELD})",
                (seen_seq, status, json.dumps(state), reason, at, conversation_id, expect_seq))
            return cur.rowcount == 1

        return bool(await self._write(job))

    async def set_conversation_group(self, conversation_id: str, group: str) -> None:
        await self._write(lambda c: c.execute(
            "INSERT INTO conversation_groups(conversation_id, group_id) VALUES (?,?) "
            "ON CONFLICT(conversation_id) DO UPDATE SET group_id=excluded.group_id", (conversation_id, group)))

    async def conversation_groups(self, conversation_ids: list[str]) -> dict[str, str]:
        if not conversation_ids:
            return {}
        marks = ",".join("?" for _ in conversation_ids)
        rows = await self._all(f"SELECT conversation_id, group_id FROM conversation_groups WHERE conversation_id "
                               f"IN ({marks})", list(conversation_ids))
        return {r[0]: r[1] for r in rows}

    async def release_bot(self, conversation_id: str, reason: str, at: int) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE bot_sessions SET status='handover', reason=?, updated_at=? "
                f"WHERE conversation_id=? AND status IN ({_HELD})", (reason, at, conversation_id))
            return cur.rowcount == 1

        return bool(await self._write(job))

    async def bots_pending(self, limit: int) -> list[BotSession]:
        rows = await self._all(
            f"SELECT {_COLS} FROM bot_sessions b WHERE b.status IN ({_HELD}) AND EXISTS (SELECT 1 FROM messages m "
            "WHERE m.conversation_id=b.conversation_id AND m.seq>b.seen_seq AND m.kind='text' "
            "AND m.author_kind='visitor') ORDER BY b.updated_at LIMIT ?", (limit,))
        return [_session(r) for r in rows]

    async def bot_outcomes(self, site_id: str, since: int, until: int) -> dict[str, int]:
        rows = await self._all(
            "SELECT status, COUNT(*) FROM bot_sessions WHERE site_id=? AND created_at>=? AND created_at<? "
            "GROUP BY status", (site_id, since, until))
        return {**dict.fromkeys(STATUSES, 0), **{r[0]: int(r[1]) for r in rows}}

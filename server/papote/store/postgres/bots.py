"""The PostgreSQL store's queries for bot sessions (store/bots.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from papote.store.bots import HELD, STATUSES, BotSession
from papote.store.postgres.engine import PostgresEngine

_COLS = "conversation_id, site_id, status, state, seen_seq, reason, created_at, updated_at"


def _session(row: Sequence[Any]) -> BotSession:
    return BotSession(row[0], row[1], row[2], json.loads(row[3]), int(row[4]), row[5], int(row[6]), int(row[7]))


class BotQueries(PostgresEngine):
    async def start_bot(self, conversation_id: str, site_id: str, at: int) -> BotSession:
        await self._execute(
            "INSERT INTO bot_sessions(conversation_id, site_id, status, state, seen_seq, reason, created_at,"
            " updated_at) VALUES ($1,$2,'active','{}',0,'',$3,$3) ON CONFLICT (conversation_id) DO NOTHING",
            conversation_id, site_id, at)
        found = await self.get_bot(conversation_id)
        assert found is not None  # just inserted, or there before; sessions are deleted with their conversation
        return found

    async def get_bot(self, conversation_id: str) -> BotSession | None:
        row = await self._one(f"SELECT {_COLS} FROM bot_sessions WHERE conversation_id=$1", conversation_id)
        return _session(row) if row else None

    async def save_bot(self, conversation_id: str, *, expect_seq: int, seen_seq: int, status: str,
                       state: dict[str, Any], reason: str, at: int) -> bool:
        done = await self._execute(
            "UPDATE bot_sessions SET seen_seq=$1, status=$2, state=$3, reason=$4, updated_at=$5 "
            "WHERE conversation_id=$6 AND seen_seq=$7 AND status = ANY($8::text[])",
            seen_seq, status, json.dumps(state), reason, at, conversation_id, expect_seq, list(HELD))
        return str(done).endswith(" 1")

    async def set_conversation_group(self, conversation_id: str, group: str) -> None:
        await self._execute(
            "INSERT INTO conversation_groups(conversation_id, group_id) VALUES ($1,$2) "
            "ON CONFLICT (conversation_id) DO UPDATE SET group_id=excluded.group_id", conversation_id, group)

    async def conversation_groups(self, conversation_ids: list[str]) -> dict[str, str]:
        if not conversation_ids:
            return {}
        rows = await self._all("SELECT conversation_id, group_id FROM conversation_groups WHERE conversation_id = "
                               "ANY($1::text[])", list(conversation_ids))
        return {r[0]: r[1] for r in rows}

    async def release_bot(self, conversation_id: str, reason: str, at: int) -> bool:
        done = await self._execute(
            "UPDATE bot_sessions SET status='handover', reason=$1, updated_at=$2 "
            "WHERE conversation_id=$3 AND status = ANY($4::text[])", reason, at, conversation_id, list(HELD))
        return str(done).endswith(" 1")

    async def bots_pending(self, limit: int) -> list[BotSession]:
        rows = await self._all(
            f"SELECT {_COLS} FROM bot_sessions b WHERE b.status = ANY($1::text[]) AND EXISTS (SELECT 1 FROM "
            "messages m WHERE m.conversation_id=b.conversation_id AND m.seq>b.seen_seq AND m.kind='text' "
            "AND m.author_kind='visitor') ORDER BY b.updated_at LIMIT $2", list(HELD), limit)
        return [_session(r) for r in rows]

    async def bot_outcomes(self, site_id: str, since: int, until: int) -> dict[str, int]:
        rows = await self._all(
            "SELECT status, count(*) FROM bot_sessions WHERE site_id=$1 AND created_at>=$2 AND created_at<$3 "
            "GROUP BY status", site_id, since, until)
        return {**dict.fromkeys(STATUSES, 0), **{r[0]: int(r[1]) for r in rows}}

"""The PostgreSQL store's queries for moderation and NPS (store/moderation.py): blocks, held messages,
saved views, surveys, and the labelled conversations of the insight export."""

from __future__ import annotations

from typing import Any

import asyncpg

from papote.store.moderation import Block, HeldMessage, NpsSurvey, SavedView
from papote.store.outbox import Delivery
from papote.store.postgres.engine import PostgresEngine
from papote.store.postgres.rows import insert_delivery

_BLOCK = "site_id, visitor_id, blocked_by, reason, created_at"
_HELD = "id, site_id, conversation_id, visitor_id, author_name, client_msg_id, body, data, reasons, created_at"
_VIEW = "id, site_id, agent_id, name, labels, status, created_at"
_NPS = "id, site_id, conversation_id, visitor_id, created_at, score, comment, answered_at, channel"


class ModerationQueries(PostgresEngine):
    # -- blocks --------------------------------------------------------------------------------------
    async def block_visitor(self, block: Block) -> Block:
        # One statement: the row inserted now, or the one already there (a block is kept as first made).
        row = await self._write_row(
            f"WITH ins AS (INSERT INTO blocked_visitors({_BLOCK}) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING "
            f"RETURNING {_BLOCK}) SELECT {_BLOCK} FROM ins UNION ALL "
            f"SELECT {_BLOCK} FROM blocked_visitors WHERE site_id=$1 AND visitor_id=$2 LIMIT 1",
            block.site_id, block.visitor_id, block.blocked_by, block.reason, block.created_at)
        return Block(*row) if row else block

    async def unblock_visitor(self, site_id: str, visitor_id: str) -> bool:
        status = await self._execute("DELETE FROM blocked_visitors WHERE site_id=$1 AND visitor_id=$2",
                                     site_id, visitor_id)
        return status != "DELETE 0"

    async def blocked_visitors(self, site_id: str) -> list[Block]:
        rows = await self._all(f"SELECT {_BLOCK} FROM blocked_visitors WHERE site_id=$1 "
                               "ORDER BY created_at DESC, visitor_id", site_id)
        return [Block(*r) for r in rows]

    # -- held messages -------------------------------------------------------------------------------
    async def hold_message(self, held: HeldMessage) -> HeldMessage:
        row = await self._write_row(
            f"WITH ins AS (INSERT INTO held_messages({_HELD}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
            f"ON CONFLICT (visitor_id, client_msg_id) DO NOTHING RETURNING {_HELD}) "
            f"SELECT {_HELD} FROM ins UNION ALL "
            f"SELECT {_HELD} FROM held_messages WHERE visitor_id=$4 AND client_msg_id=$6 LIMIT 1",
            held.id, held.site_id, held.conversation_id, held.visitor_id, held.author_name, held.client_msg_id,
            held.body, held.data, held.reasons, held.created_at)
        return HeldMessage(*row) if row else held

    async def held_messages(self, site_id: str, limit: int) -> list[HeldMessage]:
        rows = await self._all(f"SELECT {_HELD} FROM held_messages WHERE site_id=$1 ORDER BY created_at, id LIMIT $2",
                               site_id, limit)
        return [HeldMessage(*r) for r in rows]

    async def get_held(self, held_id: str) -> HeldMessage | None:
        row = await self._one(f"SELECT {_HELD} FROM held_messages WHERE id=$1", held_id)
        return HeldMessage(*row) if row else None

    async def delete_held(self, held_id: str) -> bool:
        return await self._execute("DELETE FROM held_messages WHERE id=$1", held_id) != "DELETE 0"

    # -- saved views ---------------------------------------------------------------------------------
    async def save_view(self, view: SavedView) -> SavedView:
        row = await self._write_row(
            f"INSERT INTO saved_views({_VIEW}) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (site_id, agent_id, name) "
            f"DO UPDATE SET labels=excluded.labels, status=excluded.status RETURNING {_VIEW}",
            view.id, view.site_id, view.agent_id, view.name, view.labels, view.status, view.created_at)
        return SavedView(*row)

    async def saved_views(self, site_id: str, agent_id: str) -> list[SavedView]:
        rows = await self._all(f"SELECT {_VIEW} FROM saved_views WHERE site_id=$1 AND agent_id=$2 ORDER BY name",
                               site_id, agent_id)
        return [SavedView(*r) for r in rows]

    async def delete_view(self, site_id: str, agent_id: str, view_id: str) -> bool:
        status = await self._execute("DELETE FROM saved_views WHERE id=$1 AND site_id=$2 AND agent_id=$3",
                                     view_id, site_id, agent_id)
        return status != "DELETE 0"

    # -- NPS -----------------------------------------------------------------------------------------
    async def offer_nps(self, survey: NpsSurvey, since: int) -> NpsSurvey | None:
        async def job(conn: asyncpg.Connection) -> bool:
            # The visitor's row is the lock: two nodes closing two of their conversations at once check
            # one after the other, so the window holds.
            await conn.execute("SELECT 1 FROM visitors WHERE id=$1 FOR UPDATE", survey.visitor_id)
            if await conn.fetchval("SELECT 1 FROM nps_surveys WHERE visitor_id=$1 AND site_id=$2 AND created_at>=$3 "
                                   "LIMIT 1", survey.visitor_id, survey.site_id, since):
                return False
            await conn.execute(f"INSERT INTO nps_surveys({_NPS}) VALUES ($1,$2,$3,$4,$5,NULL,'',NULL,'')",
                               survey.id, survey.site_id, survey.conversation_id, survey.visitor_id,
                               survey.created_at)
            return True

        return survey if await self._transaction(job) else None

    async def answer_nps(self, survey_id: str, score: int, comment: str, channel: str, at: int) -> bool:
        status = await self._execute(
            "UPDATE nps_surveys SET score=$1, comment=$2, channel=$3, answered_at=$4 WHERE id=$5 AND score IS NULL",
            score, comment, channel, at, survey_id)
        return status != "UPDATE 0"

    async def get_nps(self, survey_id: str) -> NpsSurvey | None:
        row = await self._one(f"SELECT {_NPS} FROM nps_surveys WHERE id=$1", survey_id)
        return NpsSurvey(*row) if row else None

    async def nps_answers(self, site_id: str, since: int, until: int) -> list[NpsSurvey]:
        rows = await self._all(
            f"SELECT {_NPS} FROM nps_surveys WHERE site_id=$1 AND answered_at>=$2 AND answered_at<$3 "
            "ORDER BY answered_at, id", site_id, since, until)
        return [NpsSurvey(*r) for r in rows]

    async def nps_email_candidates(self, site_ids: list[str], since: int, before: int,
                                   limit: int) -> list[NpsSurvey]:
        rows = await self._all(
            f"SELECT {_NPS} FROM nps_surveys WHERE emailed_at IS NULL AND score IS NULL AND created_at>=$1 "
            "AND created_at<$2 AND site_id = ANY($3) ORDER BY created_at, id LIMIT $4",
            since, before, site_ids, limit)
        return [NpsSurvey(*r) for r in rows]

    async def decide_nps_email(self, survey_id: str, at: int, delivery: Delivery | None = None) -> bool:
        async def job(conn: asyncpg.Connection) -> bool:
            status = await conn.execute("UPDATE nps_surveys SET emailed_at=$1 WHERE id=$2 AND emailed_at IS NULL",
                                        at, survey_id)
            if status == "UPDATE 0":
                return False
            if delivery is not None:
                await insert_delivery(conn, delivery)
            return True

        return await self._transaction(job)

    async def labelled_conversations(self, site_id: str, since: int, until: int, limit: int) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT id, created_at, closed_at, status, labels, visitor_id, assignee_id, rating, last_seq "
            "FROM conversations WHERE site_id=$1 AND created_at>=$2 AND created_at<$3 ORDER BY created_at, id "
            "LIMIT $4", site_id, since, until, limit)
        return [{"id": r[0], "created_at": r[1], "closed_at": r[2], "status": r[3], "labels": list(r[4]),
                 "visitor_id": r[5], "assignee_id": r[6], "rating": r[7], "messages": r[8]} for r in rows]

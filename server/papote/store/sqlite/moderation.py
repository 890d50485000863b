"""The SQLite store's queries for moderation and NPS (store/moderation.py): blocks, held messages,
saved views, surveys, and the labelled conversations of the insight export."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from papote.store.moderation import Block, HeldMessage, NpsSurvey, SavedView
from papote.store.outbox import Delivery
from papote.store.sqlite.engine import SqliteEngine
from papote.store.sqlite.rows import dumps, insert_delivery

_HELD = "id, site_id, conversation_id, visitor_id, author_name, client_msg_id, body, data, reasons, created_at"
_VIEW = "id, site_id, agent_id, name, labels, status, created_at"
_NPS = "id, site_id, conversation_id, visitor_id, created_at, score, comment, answered_at, channel"


class ModerationQueries(SqliteEngine):
    # -- blocks --------------------------------------------------------------------------------------
    async def block_visitor(self, block: Block) -> Block:
        def job(conn: sqlite3.Connection) -> Any:
            conn.execute("INSERT INTO blocked_visitors(site_id, visitor_id, blocked_by, reason, created_at) "
                         "VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
                         (block.site_id, block.visitor_id, block.blocked_by, block.reason, block.created_at))
            return conn.execute("SELECT site_id, visitor_id, blocked_by, reason, created_at FROM blocked_visitors "
                                "WHERE site_id=? AND visitor_id=?", (block.site_id, block.visitor_id)).fetchone()

        return Block(*await self._write(job))

    async def unblock_visitor(self, site_id: str, visitor_id: str) -> bool:
        return await self._write(lambda c: c.execute(
            "DELETE FROM blocked_visitors WHERE site_id=? AND visitor_id=?", (site_id, visitor_id)).rowcount > 0)

    async def blocked_visitors(self, site_id: str) -> list[Block]:
        rows = await self._all("SELECT site_id, visitor_id, blocked_by, reason, created_at FROM blocked_visitors "
                               "WHERE site_id=? ORDER BY created_at DESC, visitor_id", (site_id,))
        return [Block(*r) for r in rows]

    # -- held messages -------------------------------------------------------------------------------
    async def hold_message(self, held: HeldMessage) -> HeldMessage:
        def job(conn: sqlite3.Connection) -> Any:
            conn.execute(
                f"INSERT INTO held_messages({_HELD}) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(visitor_id, client_msg_id) DO NOTHING",
                (held.id, held.site_id, held.conversation_id, held.visitor_id, held.author_name, held.client_msg_id,
                 held.body, None if held.data is None else dumps(held.data), dumps(held.reasons), held.created_at))
            return conn.execute(f"SELECT {_HELD} FROM held_messages WHERE visitor_id=? AND client_msg_id=?",
                                (held.visitor_id, held.client_msg_id)).fetchone()

        return _held_of(await self._write(job))

    async def held_messages(self, site_id: str, limit: int) -> list[HeldMessage]:
        rows = await self._all(f"SELECT {_HELD} FROM held_messages WHERE site_id=? ORDER BY created_at, id LIMIT ?",
                               (site_id, limit))
        return [_held_of(r) for r in rows]

    async def get_held(self, held_id: str) -> HeldMessage | None:
        row = await self._one(f"SELECT {_HELD} FROM held_messages WHERE id=?", (held_id,))
        return _held_of(row) if row else None

    async def delete_held(self, held_id: str) -> bool:
        return await self._write(lambda c: c.execute("DELETE FROM held_messages WHERE id=?", (held_id,)).rowcount > 0)

    # -- saved views ---------------------------------------------------------------------------------
    async def save_view(self, view: SavedView) -> SavedView:
        def job(conn: sqlite3.Connection) -> Any:
            conn.execute(
                f"INSERT INTO saved_views({_VIEW}) VALUES (?,?,?,?,?,?,?) ON CONFLICT(site_id, agent_id, name) "
                "DO UPDATE SET labels=excluded.labels, status=excluded.status",
                (view.id, view.site_id, view.agent_id, view.name, dumps(view.labels), view.status, view.created_at))
            return conn.execute(f"SELECT {_VIEW} FROM saved_views WHERE site_id=? AND agent_id=? AND name=?",
                                (view.site_id, view.agent_id, view.name)).fetchone()

        return _view_of(await self._write(job))

    async def saved_views(self, site_id: str, agent_id: str) -> list[SavedView]:
        rows = await self._all(f"SELECT {_VIEW} FROM saved_views WHERE site_id=? AND agent_id=? ORDER BY name",
                               (site_id, agent_id))
        return [_view_of(r) for r in rows]

    async def delete_view(self, site_id: str, agent_id: str, view_id: str) -> bool:
        return await self._write(lambda c: c.execute(
            "DELETE FROM saved_views WHERE id=? AND site_id=? AND agent_id=?", (view_id, site_id, agent_id)
        ).rowcount > 0)

    # -- NPS -----------------------------------------------------------------------------------------
    async def offer_nps(self, survey: NpsSurvey, since: int) -> NpsSurvey | None:
        def job(conn: sqlite3.Connection) -> bool:
            # One writer: the check and the insert cannot interleave with another closing's.
            if conn.execute("SELECT 1 FROM nps_surveys WHERE visitor_id=? AND site_id=? AND created_at>=? LIMIT 1",
                            (survey.visitor_id, survey.site_id, since)).fetchone():
                return False
            conn.execute(f"INSERT INTO nps_surveys({_NPS}) VALUES (?,?,?,?,?,NULL,'',NULL,'')",
                         (survey.id, survey.site_id, survey.conversation_id, survey.visitor_id, survey.created_at))
            return True

        return survey if await self._write(job) else None

    async def answer_nps(self, survey_id: str, score: int, comment: str, channel: str, at: int) -> bool:
        return await self._write(lambda c: c.execute(
            "UPDATE nps_surveys SET score=?, comment=?, channel=?, answered_at=? WHERE id=? AND score IS NULL",
            (score, comment, channel, at, survey_id)).rowcount > 0)

    async def get_nps(self, survey_id: str) -> NpsSurvey | None:
        row = await self._one(f"SELECT {_NPS} FROM nps_surveys WHERE id=?", (survey_id,))
        return NpsSurvey(*row) if row else None

    async def nps_answers(self, site_id: str, since: int, until: int) -> list[NpsSurvey]:
        rows = await self._all(
            f"SELECT {_NPS} FROM nps_surveys WHERE site_id=? AND answered_at>=? AND answered_at<? "
            "ORDER BY answered_at, id", (site_id, since, until))
        return [NpsSurvey(*r) for r in rows]

    async def nps_email_candidates(self, site_ids: list[str], since: int, before: int,
                                   limit: int) -> list[NpsSurvey]:
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT {_NPS} FROM nps_surveys WHERE emailed_at IS NULL AND score IS NULL AND created_at>=? "
            f"AND created_at<? AND site_id IN ({marks}) ORDER BY created_at, id LIMIT ?",
            (since, before, *site_ids, limit))
        return [NpsSurvey(*r) for r in rows]

    async def decide_nps_email(self, survey_id: str, at: int, delivery: Delivery | None = None) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            if conn.execute("UPDATE nps_surveys SET emailed_at=? WHERE id=? AND emailed_at IS NULL",
                            (at, survey_id)).rowcount == 0:
                return False
            if delivery is not None:
                insert_delivery(conn, delivery)
            return True

        return await self._write(job)

    async def labelled_conversations(self, site_id: str, since: int, until: int, limit: int) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT id, created_at, closed_at, status, labels, visitor_id, assignee_id, rating, last_seq "
            "FROM conversations WHERE site_id=? AND created_at>=? AND created_at<? ORDER BY created_at, id LIMIT ?",
            (site_id, since, until, limit))
        return [{"id": r[0], "created_at": r[1], "closed_at": r[2], "status": r[3], "labels": json.loads(r[4]),
                 "visitor_id": r[5], "assignee_id": r[6], "rating": r[7], "messages": r[8]} for r in rows]


def _held_of(row: Any) -> HeldMessage:
    return HeldMessage(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                       None if row[7] is None else json.loads(row[7]), json.loads(row[8]), row[9])


def _view_of(row: Any) -> SavedView:
    return SavedView(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6])

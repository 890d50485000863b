"""The PostgreSQL store's privacy queries: a visitor's rows (export, in one REPEATABLE READ snapshot) and
erasure (one transaction), retention's batches, and the audit log. The SQL is the SQLite store's but
for `$n` parameters and `= ANY($1)` lists."""

from __future__ import annotations

from typing import Any

import asyncpg

from papote.store.personal_data import TABLES
from papote.store.postgres.engine import PostgresEngine
from papote.store.privacy import AuditEntry, StoredFile, visitor_statements

_EXPORT = visitor_statements("$1", delete=False)
_ERASE = visitor_statements("$1", delete=True)
_FILE_COLS = "id, storage_key, thumbnail_key"
_FILES_OF_VISITOR = f"SELECT {_FILE_COLS} FROM attachments WHERE {TABLES['attachments'].scope}".replace(
    ":visitor", "$1")
_AUDIT_COLS = "id, site_id, at, actor_kind, actor_id, action, target, details"


def _files(rows: list[Any]) -> list[StoredFile]:
    return [StoredFile(r[0], [k for k in (r[1], r[2]) if k]) for r in rows]


def _audit_of(row: Any) -> AuditEntry:
    return AuditEntry(row[0], row[1], row[2], row[3], row[4], row[5], row[6], dict(row[7]))


class PrivacyQueries(PostgresEngine):
    # -- export and erasure --------------------------------------------------------------------------
    async def visitor_rows(self, visitor_id: str) -> dict[str, list[dict[str, Any]]]:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            return {table.name: [dict(r) for r in await conn.fetch(sql, visitor_id)] for table, sql in _EXPORT}

    async def visitor_files(self, visitor_id: str) -> list[StoredFile]:
        return _files(await self._all(_FILES_OF_VISITOR, visitor_id))

    async def erase_visitor(self, visitor_id: str) -> dict[str, int]:
        async def job(conn: asyncpg.Connection) -> dict[str, int]:
            out = {}
            for table, sql in _ERASE:
                status = await conn.execute(sql, visitor_id)  # "DELETE <n>"
                out[table.name] = int(status.rsplit(" ", 1)[1])
            return out

        return await self._transaction(job)

    # -- retention -----------------------------------------------------------------------------------
    async def unseen_visitors(self, site_id: str, before: int, limit: int) -> list[str]:
        rows = await self._all("SELECT id FROM visitors WHERE site_id=$1 AND last_seen < $2 "
                               "ORDER BY last_seen LIMIT $3", site_id, before, limit)
        return [r[0] for r in rows]

    async def aged_conversations(self, site_id: str, before: int, after: tuple[int, str] | None,
                                 limit: int) -> list[tuple[int, str]]:
        start = after or (-1, "")
        rows = await self._all(
            "SELECT created_at, id FROM conversations WHERE site_id=$1 AND created_at < $2 "
            "AND (created_at, id) > ($3::bigint, $4::text) ORDER BY created_at, id LIMIT $5",
            site_id, before, start[0], start[1], limit)
        return [(r[0], r[1]) for r in rows]

    async def aged_message_files(self, conversation_ids: list[str], before: int) -> list[StoredFile]:
        if not conversation_ids:
            return []
        rows = await self._all(
            "SELECT a.id, a.storage_key, a.thumbnail_key FROM attachments a JOIN messages m "
            "ON m.conversation_id=a.conversation_id AND m.seq=a.seq "
            "WHERE a.conversation_id = ANY($1::text[]) AND m.created_at < $2", conversation_ids, before)
        return _files(rows)

    async def purge_messages(self, conversation_ids: list[str], before: int) -> tuple[int, int]:
        if not conversation_ids:
            return 0, 0

        async def job(conn: asyncpg.Connection) -> tuple[int, int]:
            await conn.execute(
                "DELETE FROM attachments a USING messages m WHERE a.conversation_id = ANY($1::text[]) "
                "AND m.conversation_id=a.conversation_id AND m.seq=a.seq AND m.created_at < $2",
                conversation_ids, before)
            messages = await conn.execute(
                "DELETE FROM messages WHERE conversation_id = ANY($1::text[]) AND created_at < $2",
                conversation_ids, before)
            emptied = await conn.execute(
                "DELETE FROM conversations c WHERE c.id = ANY($1::text[]) AND c.updated_at < $2 "
                "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id=c.id)", conversation_ids, before)
            return int(messages.rsplit(" ", 1)[1]), int(emptied.rsplit(" ", 1)[1])

        return await self._transaction(job)

    async def aged_files(self, site_id: str, before: int, limit: int) -> list[StoredFile]:
        rows = await self._all(
            f"SELECT {_FILE_COLS} FROM attachments WHERE site_id=$1 AND created_at < $2 ORDER BY created_at LIMIT $3",
            site_id, before, limit)
        return _files(rows)

    async def forget_sign_in_failures(self, before: int, limit: int) -> int:
        status = await self._execute(
            "DELETE FROM login_failures WHERE ctid IN (SELECT ctid FROM login_failures WHERE at < $1 LIMIT $2)",
            before, limit)
        return int(status.rsplit(" ", 1)[1])

    # -- the audit log -------------------------------------------------------------------------------
    async def add_audit(self, entry: AuditEntry) -> None:
        e = entry
        await self._execute(f"INSERT INTO audit_log({_AUDIT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                            e.id, e.site_id, e.at, e.actor_kind, e.actor_id, e.action, e.target, e.details)

    async def audit_entries(self, site_id: str, limit: int, before: int | None = None) -> list[AuditEntry]:
        rows = await self._all(
            f"SELECT {_AUDIT_COLS} FROM audit_log WHERE site_id=$1 AND at < $2 ORDER BY at DESC, id DESC LIMIT $3",
            site_id, before if before is not None else 2**62, limit)
        return [_audit_of(r) for r in rows]

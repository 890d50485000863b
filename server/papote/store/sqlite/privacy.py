"""The SQLite store's privacy queries: a visitor's rows (export) and erasure, retention's batches, and the
audit log. Export and erasure run as writer jobs: one consistent snapshot (or one transaction) for a
visitor's few hundred rows, a few milliseconds of the writer; retention's batches are bounded
(privacy.py, `RETENTION_BATCH`) so an append never waits behind a long purge."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, cast

from papote.store.personal_data import TABLES
from papote.store.privacy import AuditEntry, StoredFile, visitor_statements
from papote.store.sqlite.engine import SqliteEngine
from papote.store.sqlite.rows import dumps

_EXPORT = visitor_statements(":visitor", delete=False)
_ERASE = visitor_statements(":visitor", delete=True)
_FILE_COLS = "id, storage_key, thumbnail_key"
_FILES_OF_VISITOR = f"SELECT {_FILE_COLS} FROM attachments WHERE {TABLES['attachments'].scope}"
_AUDIT_COLS = "id, site_id, at, actor_kind, actor_id, action, target, details"


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _files(rows: list[Any]) -> list[StoredFile]:
    return [StoredFile(r[0], [k for k in (r[1], r[2]) if k]) for r in rows]


def _audit_of(row: Any) -> AuditEntry:
    return AuditEntry(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]))


class PrivacyQueries(SqliteEngine):
    # -- export and erasure --------------------------------------------------------------------------
    async def visitor_rows(self, visitor_id: str) -> dict[str, list[dict[str, Any]]]:
        def job(conn: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
            out: dict[str, list[dict[str, Any]]] = {}
            for table, sql in _EXPORT:
                cursor = conn.execute(sql, {"visitor": visitor_id})
                names = [d[0] for d in cursor.description]
                rows = []
                for row in cursor.fetchall():
                    item = dict(zip(names, row, strict=True))
                    for col in table.json:
                        if isinstance(item.get(col), str):
                            item[col] = json.loads(item[col])
                    rows.append(item)
                out[table.name] = rows
            return out

        return await self._write(job)

    async def visitor_files(self, visitor_id: str) -> list[StoredFile]:
        rows = await self._all(_FILES_OF_VISITOR, cast(Any, {"visitor": visitor_id}))
        return _files(rows)

    async def erase_visitor(self, visitor_id: str) -> dict[str, int]:
        def job(conn: sqlite3.Connection) -> dict[str, int]:
            return {table.name: conn.execute(sql, {"visitor": visitor_id}).rowcount for table, sql in _ERASE}

        return await self._write(job)

    # -- retention -----------------------------------------------------------------------------------
    async def unseen_visitors(self, site_id: str, before: int, limit: int) -> list[str]:
        rows = await self._all("SELECT id FROM visitors WHERE site_id=? AND last_seen < ? "
                               "ORDER BY last_seen LIMIT ?", (site_id, before, limit))
        return [r[0] for r in rows]

    async def aged_conversations(self, site_id: str, before: int, after: tuple[int, str] | None,
                                 limit: int) -> list[tuple[int, str]]:
        start = after or (-1, "")
        rows = await self._all(
            "SELECT created_at, id FROM conversations WHERE site_id=? AND created_at < ? "
            "AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?",
            (site_id, before, start[0], start[1], limit))
        return [(r[0], r[1]) for r in rows]

    async def aged_message_files(self, conversation_ids: list[str], before: int) -> list[StoredFile]:
        if not conversation_ids:
            return []
        rows = await self._all(
            "SELECT a.id, a.storage_key, a.thumbnail_key FROM attachments a JOIN messages m "
            "ON m.conversation_id=a.conversation_id AND m.seq=a.seq "
            f"WHERE a.conversation_id IN ({_marks(len(conversation_ids))}) AND m.created_at < ?",
            (*conversation_ids, before))
        return _files(rows)

    async def purge_messages(self, conversation_ids: list[str], before: int) -> tuple[int, int]:
        if not conversation_ids:
            return 0, 0
        ids = _marks(len(conversation_ids))

        def job(conn: sqlite3.Connection) -> tuple[int, int]:
            conn.execute(
                f"DELETE FROM attachments WHERE conversation_id IN ({ids}) AND EXISTS (SELECT 1 FROM messages m "
                "WHERE m.conversation_id=attachments.conversation_id AND m.seq=attachments.seq AND m.created_at < ?)",
                (*conversation_ids, before))
            messages = conn.execute(f"DELETE FROM messages WHERE conversation_id IN ({ids}) AND created_at < ?",
                                    (*conversation_ids, before)).rowcount
            # Reads, cursors, deliveries and attachments go with the conversation (ON DELETE CASCADE).
            emptied = conn.execute(
                f"DELETE FROM conversations WHERE id IN ({ids}) AND updated_at < ? "
                "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id=conversations.id)",
                (*conversation_ids, before)).rowcount
            return messages, emptied

        return await self._write(job)

    async def aged_files(self, site_id: str, before: int, limit: int) -> list[StoredFile]:
        rows = await self._all(
            f"SELECT {_FILE_COLS} FROM attachments WHERE site_id=? AND created_at < ? ORDER BY created_at LIMIT ?",
            (site_id, before, limit))
        return _files(rows)

    async def forget_sign_in_failures(self, before: int, limit: int) -> int:
        return await self._write(lambda conn: conn.execute(
            "DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM login_failures WHERE at < ? LIMIT ?)",
            (before, limit)).rowcount)

    # -- the audit log -------------------------------------------------------------------------------
    async def add_audit(self, entry: AuditEntry) -> None:
        e = entry
        await self._write(lambda conn: conn.execute(
            f"INSERT INTO audit_log({_AUDIT_COLS}) VALUES ({_marks(8)})",
            (e.id, e.site_id, e.at, e.actor_kind, e.actor_id, e.action, e.target, dumps(e.details))))

    async def audit_entries(self, site_id: str, limit: int, before: int | None = None) -> list[AuditEntry]:
        rows = await self._all(
            f"SELECT {_AUDIT_COLS} FROM audit_log WHERE site_id=? AND at < ? ORDER BY at DESC, id DESC LIMIT ?",
            (site_id, before if before is not None else 2**62, limit))
        return [_audit_of(r) for r in rows]

"""The SQLite store's attachments: uploads, their claim by a message and binding to it, the cleanup's
reads, and the bytes when they are kept in the database (PAPOTE_ATTACHMENTS=database).

The writer is alone, so a claim's checks and its update cannot interleave with another claim."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from papote.store import Attachment
from papote.store.rules import attachments_to_claim
from papote.store.sqlite.engine import SqliteEngine
from papote.store.sqlite.rows import AUTHOR, INLINE_IDS_MAX

ATTACHMENT_COLS = (
    "id, site_id, uploader_kind, uploader_id, kind, content_type, size, name, storage_key, thumbnail_key, "
    "width, height, created_at, client_msg_id, conversation_id, seq"
)


def attachment_of(row: Sequence[Any]) -> Attachment:
    return Attachment(row[0], row[1], AUTHOR[row[2]], *row[3:])


def _marks(n: int) -> str:
    return ",".join("?" * n)


class AttachmentQueries(SqliteEngine):
    async def insert_attachment(self, attachment: Attachment) -> None:
        a = attachment
        await self._write(lambda conn: conn.execute(
            f"INSERT INTO attachments({ATTACHMENT_COLS}) VALUES ({_marks(16)})",
            (a.id, a.site_id, a.uploader_kind, a.uploader_id, a.kind, a.content_type, a.size, a.name,
             a.storage_key, a.thumbnail_key, a.width, a.height, a.created_at, a.client_msg_id,
             a.conversation_id, a.seq),
        ))

    async def get_attachments(self, attachment_ids: list[str]) -> dict[str, Attachment]:
        ids = list(dict.fromkeys(attachment_ids))
        if not ids:
            return {}
        rows = await self._all(f"SELECT {ATTACHMENT_COLS} FROM attachments WHERE id IN ({_marks(len(ids))})",
                               ids, point=len(ids) <= INLINE_IDS_MAX)
        return {r[0]: attachment_of(r) for r in rows}

    async def claim_attachments(self, attachment_ids: list[str], site_id: str, uploader_id: str,
                                client_msg_id: str) -> list[str]:
        def job(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                f"SELECT id, site_id, uploader_id, client_msg_id FROM attachments "
                f"WHERE id IN ({_marks(len(attachment_ids))})", attachment_ids).fetchall()
            already = {r[0] for r in conn.execute(
                "SELECT id FROM attachments WHERE uploader_id=? AND client_msg_id=?", (uploader_id, client_msg_id))}
            fresh = attachments_to_claim(attachment_ids, {r[0]: r for r in rows}, site_id, uploader_id,
                                         client_msg_id, already)
            conn.executemany("UPDATE attachments SET client_msg_id=? WHERE id=? AND client_msg_id IS NULL",
                             [(client_msg_id, i) for i in fresh])
            return fresh

        return await self._write(job)

    async def release_attachments(self, attachment_ids: list[str], client_msg_id: str) -> None:
        if attachment_ids:
            await self._write(lambda conn: conn.execute(
                f"UPDATE attachments SET client_msg_id=NULL WHERE id IN ({_marks(len(attachment_ids))}) "
                "AND client_msg_id=? AND conversation_id IS NULL", (*attachment_ids, client_msg_id)))

    async def bind_attachments(self, attachment_ids: list[str], conversation_id: str, seq: int) -> None:
        if attachment_ids:
            await self._write(lambda conn: conn.execute(
                f"UPDATE attachments SET conversation_id=?, seq=? WHERE id IN ({_marks(len(attachment_ids))}) "
                "AND conversation_id IS NULL", (conversation_id, seq, *attachment_ids)))

    async def attach_to_message(self, attachment: Attachment) -> bool:
        a = attachment

        def job(conn: sqlite3.Connection) -> bool:
            inserted = conn.execute(
                f"INSERT INTO attachments({ATTACHMENT_COLS}) VALUES ({_marks(16)}) "
                "ON CONFLICT(id) DO NOTHING RETURNING id",
                (a.id, a.site_id, a.uploader_kind, a.uploader_id, a.kind, a.content_type, a.size, a.name,
                 a.storage_key, a.thumbnail_key, a.width, a.height, a.created_at, a.client_msg_id,
                 a.conversation_id, a.seq),
            ).fetchone()
            if inserted is None:
                return False
            row = conn.execute("SELECT data FROM messages WHERE conversation_id=? AND seq=?",
                               (a.conversation_id, a.seq)).fetchone()
            data = json.loads(row[0]) if row and row[0] else {}
            data["attachments"] = [*(data.get("attachments") or []), a.id]
            conn.execute("UPDATE messages SET data=? WHERE conversation_id=? AND seq=?",
                         (json.dumps(data, separators=(",", ":")), a.conversation_id, a.seq))
            return True

        return await self._write(job)

    async def message_by_client_id(self, author_id: str, client_msg_id: str) -> tuple[str, int] | None:
        row = await self._one("SELECT conversation_id, seq FROM messages WHERE author_id=? AND client_msg_id=?",
                              (author_id, client_msg_id))
        return (row[0], row[1]) if row else None

    async def stale_attachments(self, before: int, limit: int) -> list[Attachment]:
        rows = await self._all(
            f"SELECT {ATTACHMENT_COLS} FROM attachments WHERE conversation_id IS NULL AND created_at<? "
            "ORDER BY created_at LIMIT ?", (before, limit))
        return [attachment_of(r) for r in rows]

    async def delete_attachments(self, attachment_ids: list[str]) -> None:
        if attachment_ids:
            await self._write(lambda conn: conn.execute(
                f"DELETE FROM attachments WHERE id IN ({_marks(len(attachment_ids))})", attachment_ids))

    async def put_blob(self, key: str, data: bytes) -> None:
        await self._write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO attachment_blobs(key, data) VALUES (?, ?)", (key, data)))

    async def get_blob(self, key: str) -> bytes | None:
        row = await self._all("SELECT data FROM attachment_blobs WHERE key=?", (key,))
        return bytes(row[0][0]) if row else None

    async def delete_blobs(self, keys: list[str]) -> None:
        if keys:
            await self._write(lambda conn: conn.execute(
                f"DELETE FROM attachment_blobs WHERE key IN ({_marks(len(keys))})", keys))

"""The PostgreSQL store's attachments: uploads, their claim by a message and binding to it, the
cleanup's reads, and the bytes when they are kept in the database (the default of several nodes).

A claim locks the rows it names (in id order, as every claim does: no deadlock between two) and,
with a transaction-level advisory lock on the (uploader, client_msg_id) pair, serialises two sends of
one message on two nodes: the second sees what the first claimed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from papote.store import Attachment
from papote.store.postgres.engine import PostgresEngine
from papote.store.postgres.rows import AUTHOR
from papote.store.rules import attachments_to_claim

ATTACHMENT_COLS = (
    "id, site_id, uploader_kind, uploader_id, kind, content_type, size, name, storage_key, thumbnail_key, "
    "width, height, created_at, client_msg_id, conversation_id, seq"
)


def attachment_of(row: Sequence[Any]) -> Attachment:
    return Attachment(row[0], row[1], AUTHOR[row[2]], *row[3:])


class AttachmentQueries(PostgresEngine):
    async def insert_attachment(self, attachment: Attachment) -> None:
        a = attachment
        await self._execute(
            f"INSERT INTO attachments({ATTACHMENT_COLS}) VALUES "
            "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
            a.id, a.site_id, str(a.uploader_kind), a.uploader_id, a.kind, a.content_type, a.size, a.name,
            a.storage_key, a.thumbnail_key, a.width, a.height, a.created_at, a.client_msg_id,
            a.conversation_id, a.seq,
        )

    async def get_attachments(self, attachment_ids: list[str]) -> dict[str, Attachment]:
        if not attachment_ids:
            return {}
        rows = await self._all(f"SELECT {ATTACHMENT_COLS} FROM attachments WHERE id = ANY($1::text[])",
                               list(set(attachment_ids)))
        return {r[0]: attachment_of(r) for r in rows}

    async def claim_attachments(self, attachment_ids: list[str], site_id: str, uploader_id: str,
                                client_msg_id: str) -> list[str]:
        async def job(conn: asyncpg.Connection) -> list[str]:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
                               f"{uploader_id}/{client_msg_id}")
            rows = await conn.fetch(
                "SELECT id, site_id, uploader_id, client_msg_id FROM attachments WHERE id = ANY($1::text[]) "
                "ORDER BY id FOR UPDATE", list(set(attachment_ids)))
            already = {r[0] for r in await conn.fetch(
                "SELECT id FROM attachments WHERE uploader_id=$1 AND client_msg_id=$2", uploader_id, client_msg_id)}
            fresh = attachments_to_claim(attachment_ids, {r[0]: r for r in rows}, site_id, uploader_id,
                                         client_msg_id, already)
            if fresh:
                await conn.execute("UPDATE attachments SET client_msg_id=$1 WHERE id = ANY($2::text[]) "
                                   "AND client_msg_id IS NULL", client_msg_id, fresh)
            return fresh

        return await self._transaction(job)

    async def release_attachments(self, attachment_ids: list[str], client_msg_id: str) -> None:
        if attachment_ids:
            await self._execute(
                "UPDATE attachments SET client_msg_id=NULL WHERE id = ANY($1::text[]) AND client_msg_id=$2 "
                "AND conversation_id IS NULL", attachment_ids, client_msg_id)

    async def bind_attachments(self, attachment_ids: list[str], conversation_id: str, seq: int) -> None:
        if attachment_ids:
            await self._execute(
                "UPDATE attachments SET conversation_id=$1, seq=$2 WHERE id = ANY($3::text[]) "
                "AND conversation_id IS NULL", conversation_id, seq, attachment_ids)

    async def attach_to_message(self, attachment: Attachment) -> bool:
        a = attachment

        async def job(conn: asyncpg.Connection) -> bool:
            inserted = await conn.fetchrow(
                f"INSERT INTO attachments({ATTACHMENT_COLS}) VALUES "
                "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) ON CONFLICT (id) DO NOTHING RETURNING id",
                a.id, a.site_id, str(a.uploader_kind), a.uploader_id, a.kind, a.content_type, a.size, a.name,
                a.storage_key, a.thumbnail_key, a.width, a.height, a.created_at, a.client_msg_id,
                a.conversation_id, a.seq,
            )
            if inserted is None:
                return False
            await conn.execute(
                "UPDATE messages SET data=jsonb_set(coalesce(data, '{}'::jsonb), '{attachments}', "
                "coalesce(data->'attachments', '[]'::jsonb) || jsonb_build_array($3::text)) "
                "WHERE conversation_id=$1 AND seq=$2", a.conversation_id, a.seq, a.id)
            return True

        return await self._transaction(job)

    async def message_by_client_id(self, author_id: str, client_msg_id: str) -> tuple[str, int] | None:
        row = await self._one("SELECT conversation_id, seq FROM messages WHERE author_id=$1 AND client_msg_id=$2",
                              author_id, client_msg_id)
        return (row[0], row[1]) if row else None

    async def stale_attachments(self, before: int, limit: int) -> list[Attachment]:
        rows = await self._all(
            f"SELECT {ATTACHMENT_COLS} FROM attachments WHERE conversation_id IS NULL AND created_at<$1 "
            "ORDER BY created_at LIMIT $2", before, limit)
        return [attachment_of(r) for r in rows]

    async def delete_attachments(self, attachment_ids: list[str]) -> None:
        if attachment_ids:
            await self._execute("DELETE FROM attachments WHERE id = ANY($1::text[])", attachment_ids)

    async def put_blob(self, key: str, data: bytes) -> None:
        await self._execute("INSERT INTO attachment_blobs(key, data) VALUES ($1, $2) "
                            "ON CONFLICT (key) DO UPDATE SET data=excluded.data", key, data)

    async def get_blob(self, key: str) -> bytes | None:
        value = await self._value("SELECT data FROM attachment_blobs WHERE key=$1", key)
        return bytes(value) if value is not None else None

    async def delete_blobs(self, keys: list[str]) -> None:
        if keys:
            await self._execute("DELETE FROM attachment_blobs WHERE key = ANY($1::text[])", keys)

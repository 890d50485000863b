"""The PostgreSQL store's queries for mail beyond continuation (store/mail.py)."""

from __future__ import annotations

import asyncpg

from papote.store import Message
from papote.store.mail import EmailThread
from papote.store.outbox import Delivery
from papote.store.postgres.engine import PostgresEngine
from papote.store.postgres.rows import MSG_COLS, insert_delivery, msg_of, prefixed

_THREAD_COLS = "conversation_id, site_id, address, subject, created_at"

#: "A conversation is waiting"'s candidates (store/mail.py `waiting_candidates`).
_WAITING_SQL = (
    "SELECT {cols} FROM messages m WHERE (m.conversation_id, m.seq) IN ("
    " SELECT u.conversation_id, min(u.seq) FROM messages u JOIN conversations c ON c.id = u.conversation_id"
    " WHERE c.status = 'open' AND c.updated_at >= {since} AND u.created_at >= {since}"
    " AND u.author_kind = 'visitor' AND u.kind = 'text'"
    " AND NOT EXISTS (SELECT 1 FROM waiting_notices w WHERE w.conversation_id = u.conversation_id)"
    " AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.conversation_id = u.conversation_id AND r.seq > u.seq"
    " AND r.author_kind = 'agent' AND r.kind = 'text')"
    " GROUP BY u.conversation_id HAVING min(u.created_at) <= {due})"
    " ORDER BY m.created_at, m.conversation_id LIMIT {limit}"
)

class MailQueries(PostgresEngine):
    async def queue_delivery(self, delivery: Delivery) -> None:
        async def job(conn: asyncpg.Connection) -> None:
            await insert_delivery(conn, delivery)

        await self._transaction(job)

    async def create_password_reset(self, token_hash: str, agent_id: str, expires_at: int,
                                    delivery: Delivery) -> None:
        async def job(conn: asyncpg.Connection) -> None:
            await conn.execute("INSERT INTO password_resets(token_hash, agent_id, expires_at, created_at) "
                               "VALUES ($1,$2,$3,$4)", token_hash, agent_id, expires_at, delivery.created_at)
            await insert_delivery(conn, delivery)

        await self._transaction(job)

    async def password_reset_live(self, token_hash: str, now: int) -> bool:
        row = await self._one("SELECT 1 FROM password_resets WHERE token_hash=$1 AND expires_at>=$2", token_hash, now)
        return row is not None

    async def reset_password(self, token_hash: str, now: int, password_hash: str) -> str | None:
        async def job(conn: asyncpg.Connection) -> str | None:
            # Deleting first takes the row's lock: two uses at once, one of them finds nothing.
            row = await conn.fetchrow("DELETE FROM password_resets WHERE token_hash=$1 RETURNING agent_id, expires_at",
                                      token_hash)
            if row is None or row[1] < now:
                return None
            agent_id = str(row[0])
            await conn.execute("DELETE FROM password_resets WHERE agent_id=$1", agent_id)
            await conn.execute("UPDATE agents SET password_hash=$2 WHERE id=$1", agent_id, password_hash)
            await conn.execute("DELETE FROM sessions WHERE agent_id=$1", agent_id)
            return agent_id

        return await self._transaction(job)

    async def queue_waiting_notice(self, conversation_id: str, deliveries: list[Delivery], now: int) -> bool:
        async def job(conn: asyncpg.Connection) -> bool:
            inserted = await conn.fetchval(
                "INSERT INTO waiting_notices(conversation_id, created_at) VALUES ($1,$2) "
                "ON CONFLICT (conversation_id) DO NOTHING RETURNING 1", conversation_id, now)
            if inserted is None:
                return False
            for d in deliveries:
                await insert_delivery(conn, d)
            return True

        return await self._transaction(job)

    async def waiting_candidates(self, since: int, due: int, limit: int) -> list[Message]:
        rows = await self._all(_WAITING_SQL.format(cols=prefixed(MSG_COLS, "m"), since="$1", due="$2",
                                                   limit="$3"), since, due, limit)
        return [msg_of(r) for r in rows]

    async def waiting_emails(self, agent_ids: list[str]) -> dict[str, bool]:
        out = dict.fromkeys(agent_ids, True)
        if agent_ids:
            rows = await self._all("SELECT agent_id, waiting_emails FROM agent_mail_prefs "
                                   "WHERE agent_id = ANY($1::text[])", agent_ids)
            out.update({r[0]: bool(r[1]) for r in rows})
        return out

    async def set_waiting_emails(self, agent_id: str, on: bool) -> None:
        await self._execute("INSERT INTO agent_mail_prefs(agent_id, waiting_emails) VALUES ($1,$2) "
                            "ON CONFLICT (agent_id) DO UPDATE SET waiting_emails=excluded.waiting_emails",
                            agent_id, on)

    async def save_email_thread(self, thread: EmailThread) -> EmailThread:
        async def job(conn: asyncpg.Connection) -> EmailThread:
            await conn.execute(f"INSERT INTO email_threads({_THREAD_COLS}) VALUES ($1,$2,$3,$4,$5) "
                               "ON CONFLICT (conversation_id) DO NOTHING", thread.conversation_id, thread.site_id,
                               thread.address, thread.subject, thread.created_at)
            row = await conn.fetchrow(f"SELECT {_THREAD_COLS} FROM email_threads WHERE conversation_id=$1",
                                      thread.conversation_id)
            return EmailThread(*row)

        return await self._transaction(job)

    async def email_thread(self, conversation_id: str) -> EmailThread | None:
        return (await self.email_threads([conversation_id])).get(conversation_id)

    async def email_threads(self, conversation_ids: list[str]) -> dict[str, EmailThread]:
        if not conversation_ids:
            return {}
        rows = await self._all(f"SELECT {_THREAD_COLS} FROM email_threads WHERE conversation_id = ANY($1::text[])",
                               conversation_ids)
        return {r[0]: EmailThread(*r) for r in rows}

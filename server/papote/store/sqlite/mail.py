"""The SQLite store's queries for mail beyond continuation (store/mail.py)."""

from __future__ import annotations

import sqlite3

from papote.store import Message
from papote.store.mail import EmailThread
from papote.store.outbox import Delivery
from papote.store.sqlite.engine import SqliteEngine
from papote.store.sqlite.rows import MSG_COLS, insert_delivery, msg_of, prefixed

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


class MailQueries(SqliteEngine):
    async def queue_delivery(self, delivery: Delivery) -> None:
        await self._write(lambda conn: insert_delivery(conn, delivery))

    async def create_password_reset(self, token_hash: str, agent_id: str, expires_at: int,
                                    delivery: Delivery) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO password_resets(token_hash, agent_id, expires_at, created_at) VALUES (?,?,?,?)",
                         (token_hash, agent_id, expires_at, delivery.created_at))
            insert_delivery(conn, delivery)

        await self._write(job)

    async def password_reset_live(self, token_hash: str, now: int) -> bool:
        row = await self._one("SELECT 1 FROM password_resets WHERE token_hash=? AND expires_at>=?", (token_hash, now))
        return row is not None

    async def reset_password(self, token_hash: str, now: int, password_hash: str) -> str | None:
        def job(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("DELETE FROM password_resets WHERE token_hash=? RETURNING agent_id, expires_at",
                               (token_hash,)).fetchone()
            if row is None or row[1] < now:
                return None  # an expired link is deleted all the same: it can never work again
            agent_id = str(row[0])
            conn.execute("DELETE FROM password_resets WHERE agent_id=?", (agent_id,))
            conn.execute("UPDATE agents SET password_hash=? WHERE id=?", (password_hash, agent_id))
            conn.execute("DELETE FROM sessions WHERE agent_id=?", (agent_id,))
            return agent_id

        return await self._write(job)

    async def queue_waiting_notice(self, conversation_id: str, deliveries: list[Delivery], now: int) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            inserted = conn.execute(
                "INSERT INTO waiting_notices(conversation_id, created_at) VALUES (?,?) "
                "ON CONFLICT(conversation_id) DO NOTHING RETURNING conversation_id", (conversation_id, now),
            ).fetchone()
            if inserted is None:
                return False
            for d in deliveries:
                insert_delivery(conn, d)
            return True

        return await self._write(job)

    async def waiting_candidates(self, since: int, due: int, limit: int) -> list[Message]:
        rows = await self._all(_WAITING_SQL.format(cols=prefixed(MSG_COLS, "m"), since="?", due="?", limit="?"),
                               (since, since, due, limit))
        return [msg_of(r) for r in rows]

    async def waiting_emails(self, agent_ids: list[str]) -> dict[str, bool]:
        out = dict.fromkeys(agent_ids, True)
        if agent_ids:
            rows = await self._all(
                f"SELECT agent_id, waiting_emails FROM agent_mail_prefs WHERE agent_id IN "
                f"({','.join('?' * len(agent_ids))})", agent_ids)
            out.update({r[0]: bool(r[1]) for r in rows})
        return out

    async def set_waiting_emails(self, agent_id: str, on: bool) -> None:
        await self._write(lambda conn: conn.execute(
            "INSERT INTO agent_mail_prefs(agent_id, waiting_emails) VALUES (?,?) "
            "ON CONFLICT(agent_id) DO UPDATE SET waiting_emails=excluded.waiting_emails", (agent_id, int(on))))

    async def save_email_thread(self, thread: EmailThread) -> EmailThread:
        def job(conn: sqlite3.Connection) -> EmailThread:
            conn.execute(f"INSERT INTO email_threads({_THREAD_COLS}) VALUES (?,?,?,?,?) "
                         "ON CONFLICT(conversation_id) DO NOTHING",
                         (thread.conversation_id, thread.site_id, thread.address, thread.subject, thread.created_at))
            row = conn.execute(f"SELECT {_THREAD_COLS} FROM email_threads WHERE conversation_id=?",
                               (thread.conversation_id,)).fetchone()
            return EmailThread(*row)

        return await self._write(job)

    async def email_thread(self, conversation_id: str) -> EmailThread | None:
        return (await self.email_threads([conversation_id])).get(conversation_id)

    async def email_threads(self, conversation_ids: list[str]) -> dict[str, EmailThread]:
        if not conversation_ids:
            return {}
        rows = await self._all(f"SELECT {_THREAD_COLS} FROM email_threads WHERE conversation_id IN "
                               f"({','.join('?' * len(conversation_ids))})", conversation_ids)
        return {r[0]: EmailThread(*r) for r in rows}

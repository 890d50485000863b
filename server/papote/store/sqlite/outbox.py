"""The SQLite store's queries for channels: the outbox of deliveries and email continuation's state.

One process owns a SQLite file, and its writer runs one job at a time: a claim is one UPDATE … RETURNING
in the writer's transaction, so two workers of this process never claim the same row either."""

from __future__ import annotations

import sqlite3

from papote.ids import now_ms
from papote.store import EmailCandidate
from papote.store.outbox import AddressState, Delivery, DeliveryStatus, EmailAddress, sending_order
from papote.store.sqlite.engine import SqliteEngine
from papote.store.sqlite.rows import (
    CONV_COLS,
    DELIVERY_COLS,
    VISITOR_COLS,
    conv_of,
    delivery_of,
    insert_delivery,
    prefixed,
    visitor_of,
)

_STATE = {m.value: m for m in AddressState}


class OutboxQueries(SqliteEngine):
    async def email_candidates(self, site_ids: list[str], since: int, limit: int) -> list[EmailCandidate]:
        if not site_ids:
            return []
        conv_width = len(CONV_COLS.split(","))
        visitor_width = len(VISITOR_COLS.split(","))
        rows = await self._all(
            f"SELECT {prefixed(CONV_COLS, 'c')}, {prefixed(VISITOR_COLS, 'v')}, "
            "coalesce(e.emailed_seq, 0), coalesce(r.read_seq, 0) "
            "FROM conversations c JOIN visitors v ON v.id=c.visitor_id "
            "LEFT JOIN email_cursors e ON e.conversation_id=c.id "
            "LEFT JOIN reads r ON r.conversation_id=c.id AND r.participant_id=c.visitor_id "
            f"WHERE c.site_id IN ({','.join('?' * len(site_ids))}) AND c.status IN ('open', 'closed') "
            "AND c.updated_at >= ? AND c.last_seq > coalesce(e.emailed_seq, 0) "
            "AND (v.email != '' OR c.contact_email != '') "
            "ORDER BY c.updated_at, c.id LIMIT ?",
            (*site_ids, since, limit),
        )
        out = []
        for row in rows:
            conv = conv_of(row[:conv_width])
            visitor = visitor_of(row[conv_width:conv_width + visitor_width])
            out.append(EmailCandidate(conv, visitor, row[-2], row[-1]))
        return out

    async def advance_email_cursor(self, conversation_id: str, from_seq: int, to_seq: int,
                                   delivery: Delivery | None = None) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT emailed_seq FROM email_cursors WHERE conversation_id=?",
                               (conversation_id,)).fetchone()
            if (row[0] if row else 0) != from_seq:
                return False
            conn.execute(
                "INSERT INTO email_cursors(conversation_id, emailed_seq, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(conversation_id) DO UPDATE SET emailed_seq=excluded.emailed_seq, "
                "updated_at=excluded.updated_at",
                (conversation_id, to_seq, now_ms()),
            )
            if delivery is not None:
                insert_delivery(conn, delivery)
            return True

        return await self._write(job)

    async def request_confirmation(self, address: EmailAddress, delivery: Delivery) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            inserted = conn.execute(
                "INSERT INTO email_addresses(site_id, email, state, visitor_id, updated_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(site_id, email) DO NOTHING RETURNING email",
                (address.site_id, address.email, str(address.state), address.visitor_id, address.updated_at),
            ).fetchone()
            if inserted is None:
                return False
            insert_delivery(conn, delivery)
            return True

        return await self._write(job)

    async def email_address(self, site_id: str, email: str) -> EmailAddress | None:
        row = await self._one(
            "SELECT site_id, email, state, visitor_id, updated_at FROM email_addresses WHERE site_id=? AND email=?",
            (site_id, email),
        )
        return EmailAddress(row[0], row[1], _STATE[row[2]], row[3], row[4]) if row else None

    async def set_email_state(self, site_id: str, email: str, state: AddressState, visitor_id: str = "") -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO email_addresses(site_id, email, state, visitor_id, updated_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(site_id, email) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at, "
                "visitor_id=CASE WHEN excluded.visitor_id != '' THEN excluded.visitor_id ELSE visitor_id END",
                (site_id, email, str(state), visitor_id, now_ms()),
            )

        await self._write(job)

    async def claim_deliveries(self, channel: str, now: int, lease_ms: int, limit: int) -> list[Delivery]:
        def job(conn: sqlite3.Connection) -> list[Delivery]:
            rows = conn.execute(
                "UPDATE deliveries SET status='sending', attempts=attempts+1, next_attempt_at=? "
                "WHERE id IN (SELECT id FROM deliveries WHERE channel=? AND status IN ('queued', 'sending') "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at, seq, id LIMIT ?) "
                f"RETURNING {DELIVERY_COLS}",
                (now + lease_ms, channel, now, limit),
            ).fetchall()
            return sending_order([delivery_of(r) for r in rows])

        return await self._write(job)

    async def finish_delivery(self, delivery_id: str, status: DeliveryStatus, at: int, *, error: str = "",
                              retry_at: int = 0, provider_msg_id: str | None = None) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE deliveries SET status=?, error=?, next_attempt_at=?, "
                "sent_at=CASE WHEN ?='sent' THEN ? ELSE sent_at END, "
                "provider_msg_id=coalesce(?, provider_msg_id) WHERE id=?",
                (str(status), error, retry_at if status is DeliveryStatus.QUEUED else at, str(status), at,
                 provider_msg_id, delivery_id),
            )

        await self._write(job)

    async def first_unsettled_seq(self, conversation_id: str, channel: str) -> int | None:
        row = await self._one("SELECT MIN(seq) FROM deliveries WHERE conversation_id=? AND channel=? "
                              "AND status IN ('queued', 'sending')", (conversation_id, channel))
        return row[0] if row else None

    async def deliveries(self, conversation_id: str) -> list[Delivery]:
        rows = await self._all(
            f"SELECT {DELIVERY_COLS} FROM deliveries WHERE conversation_id=? ORDER BY created_at, id",
            (conversation_id,),
        )
        return [delivery_of(r) for r in rows]

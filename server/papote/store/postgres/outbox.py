"""The PostgreSQL store's queries for channels: the outbox of deliveries and email continuation's state.

Several nodes claim from one table: the claim is one UPDATE over a `FOR UPDATE SKIP LOCKED` selection,
so two nodes claiming at once take disjoint rows and neither waits for the other. The email cursor moves
by compare-and-set in the transaction that queues the digest: a second node deciding the same
conversation finds the cursor moved and writes nothing."""

from __future__ import annotations

import asyncpg

from papote.ids import now_ms
from papote.store import EmailCandidate
from papote.store.outbox import AddressState, Delivery, DeliveryStatus, EmailAddress, sending_order
from papote.store.postgres.engine import PostgresEngine
from papote.store.postgres.rows import (
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


class OutboxQueries(PostgresEngine):
    async def email_candidates(self, site_ids: list[str], since: int, limit: int) -> list[EmailCandidate]:
        conv_width = len(CONV_COLS.split(","))
        visitor_width = len(VISITOR_COLS.split(","))
        rows = await self._all(
            f"SELECT {prefixed(CONV_COLS, 'c')}, {prefixed(VISITOR_COLS, 'v')}, "
            "coalesce(e.emailed_seq, 0), coalesce(r.read_seq, 0) "
            "FROM conversations c JOIN visitors v ON v.id=c.visitor_id "
            "LEFT JOIN email_cursors e ON e.conversation_id=c.id "
            "LEFT JOIN reads r ON r.conversation_id=c.id AND r.participant_id=c.visitor_id "
            "WHERE c.site_id = ANY($1::text[]) AND c.status IN ('open', 'closed') "
            "AND c.updated_at >= $2 AND c.last_seq > coalesce(e.emailed_seq, 0) "
            "AND (v.email <> '' OR c.contact_email <> '') "
            "ORDER BY c.updated_at, c.id LIMIT $3",
            site_ids, since, limit,
        )
        out = []
        for row in rows:
            values = list(row)
            conv = conv_of(values[:conv_width])
            visitor = visitor_of(values[conv_width:conv_width + visitor_width])
            out.append(EmailCandidate(conv, visitor, int(values[-2]), int(values[-1])))
        return out

    async def advance_email_cursor(self, conversation_id: str, from_seq: int, to_seq: int,
                                   delivery: Delivery | None = None) -> bool:
        async def job(conn: asyncpg.Connection) -> bool:
            if from_seq == 0:
                moved = await conn.fetchval(
                    "INSERT INTO email_cursors(conversation_id, emailed_seq, updated_at) VALUES ($1,$2,$3) "
                    "ON CONFLICT (conversation_id) DO UPDATE SET emailed_seq=excluded.emailed_seq, "
                    "updated_at=excluded.updated_at WHERE email_cursors.emailed_seq = 0 RETURNING 1",
                    conversation_id, to_seq, now_ms(),
                )
            else:
                moved = await conn.fetchval(
                    "UPDATE email_cursors SET emailed_seq=$3, updated_at=$4 "
                    "WHERE conversation_id=$1 AND emailed_seq=$2 RETURNING 1",
                    conversation_id, from_seq, to_seq, now_ms(),
                )
            if moved is None:
                return False
            if delivery is not None:
                await insert_delivery(conn, delivery)
            return True

        return await self._transaction(job)

    async def request_confirmation(self, address: EmailAddress, delivery: Delivery) -> bool:
        async def job(conn: asyncpg.Connection) -> bool:
            inserted = await conn.fetchval(
                "INSERT INTO email_addresses(site_id, email, state, visitor_id, updated_at) "
                "VALUES ($1,$2,$3,$4,$5) ON CONFLICT (site_id, email) DO NOTHING RETURNING 1",
                address.site_id, address.email, str(address.state), address.visitor_id, address.updated_at,
            )
            if inserted is None:
                return False
            await insert_delivery(conn, delivery)
            return True

        return await self._transaction(job)

    async def email_address(self, site_id: str, email: str) -> EmailAddress | None:
        row = await self._one(
            "SELECT site_id, email, state, visitor_id, updated_at FROM email_addresses "
            "WHERE site_id=$1 AND email=$2",
            site_id, email,
        )
        return EmailAddress(row[0], row[1], _STATE[row[2]], row[3], row[4]) if row else None

    async def set_email_state(self, site_id: str, email: str, state: AddressState, visitor_id: str = "") -> None:
        await self._execute(
            "INSERT INTO email_addresses(site_id, email, state, visitor_id, updated_at) VALUES ($1,$2,$3,$4,$5) "
            "ON CONFLICT (site_id, email) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at, "
            "visitor_id=CASE WHEN excluded.visitor_id <> '' THEN excluded.visitor_id "
            "ELSE email_addresses.visitor_id END",
            site_id, email, str(state), visitor_id, now_ms(),
        )

    async def claim_deliveries(self, channel: str, now: int, lease_ms: int, limit: int) -> list[Delivery]:
        async def job(conn: asyncpg.Connection) -> list[Delivery]:
            rows = await conn.fetch(
                "UPDATE deliveries SET status='sending', attempts=attempts+1, next_attempt_at=$1 "
                "WHERE id IN (SELECT id FROM deliveries WHERE channel=$2 AND status IN ('queued', 'sending') "
                "AND next_attempt_at <= $3 ORDER BY next_attempt_at, seq, id LIMIT $4 FOR UPDATE SKIP LOCKED) "
                f"RETURNING {DELIVERY_COLS}",
                now + lease_ms, channel, now, limit,
            )
            return sending_order([delivery_of(r) for r in rows])

        return await self._transaction(job)

    async def finish_delivery(self, delivery_id: str, status: DeliveryStatus, at: int, *, error: str = "",
                              retry_at: int = 0, provider_msg_id: str | None = None) -> None:
        await self._execute(
            "UPDATE deliveries SET status=$2, error=$3, next_attempt_at=$4, "
            "sent_at=CASE WHEN $2='sent' THEN $5 ELSE sent_at END, "
            "provider_msg_id=coalesce($6, provider_msg_id) WHERE id=$1",
            delivery_id, str(status), error, retry_at if status is DeliveryStatus.QUEUED else at, at,
            provider_msg_id,
        )

    async def first_unsettled_seq(self, conversation_id: str, channel: str) -> int | None:
        value = await self._value("SELECT min(seq) FROM deliveries WHERE conversation_id=$1 AND channel=$2 "
                                  "AND status IN ('queued', 'sending')", conversation_id, channel)
        return int(value) if value is not None else None

    async def deliveries(self, conversation_id: str) -> list[Delivery]:
        rows = await self._all(
            f"SELECT {DELIVERY_COLS} FROM deliveries WHERE conversation_id=$1 ORDER BY created_at, id",
            conversation_id,
        )
        return [delivery_of(r) for r in rows]

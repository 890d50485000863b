"""The PostgreSQL store's queries for outgoing webhooks (store/webhooks.py): endpoints, the derivation
cursor, the ordered claim and the attempt log. Several nodes claim at once: the ordered claim selects
`FOR UPDATE SKIP LOCKED`, and a delivery whose predecessor another node holds still sees that
predecessor queued or sending, so it waits its turn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from papote.ids import now_ms
from papote.store.outbox import Delivery
from papote.store.postgres.engine import PostgresEngine
from papote.store.postgres.rows import DELIVERY_COLS, delivery_of, insert_delivery
from papote.store.webhooks import WebhookAttempt, WebhookCandidate, WebhookEndpoint, WebhookLogEntry

ENDPOINT_COLS = "id, site_id, url, events, secret, description, previous_secret, previous_until, created_at"
ATTEMPT_COLS = "delivery_id, attempt, at, status_code, latency_ms, error"


def endpoint_of(row: Sequence[Any]) -> WebhookEndpoint:
    return WebhookEndpoint(row[0], row[1], row[2], list(row[3]), row[4], row[5], row[6], int(row[7]),
                           int(row[8]))


def attempt_of(row: Sequence[Any]) -> WebhookAttempt:
    return WebhookAttempt(row[0], int(row[1]), int(row[2]), row[3], int(row[4]), row[5])


class WebhookQueries(PostgresEngine):
    async def insert_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        e = endpoint
        await self._execute(
            f"INSERT INTO webhook_endpoints({ENDPOINT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
            e.id, e.site_id, e.url, e.events, e.secret, e.description, e.previous_secret, e.previous_until,
            e.created_at,
        )

    async def update_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        e = endpoint
        await self._execute(
            "UPDATE webhook_endpoints SET url=$2, events=$3, description=$4, secret=$5, previous_secret=$6, "
            "previous_until=$7 WHERE id=$1",
            e.id, e.url, e.events, e.description, e.secret, e.previous_secret, e.previous_until,
        )

    async def delete_webhook_endpoint(self, site_id: str, endpoint_id: str) -> bool:
        async def job(conn: asyncpg.Connection) -> bool:
            gone = await conn.fetchval("DELETE FROM webhook_endpoints WHERE id=$1 AND site_id=$2 RETURNING id",
                                       endpoint_id, site_id)
            if gone is None:
                return False
            await conn.execute("DELETE FROM deliveries WHERE channel='webhook' AND target=$1", endpoint_id)
            return True

        return await self._transaction(job)

    async def webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        row = await self._one(f"SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE id=$1", endpoint_id)
        return endpoint_of(row) if row else None

    async def webhook_endpoints(self, site_id: str | None = None) -> list[WebhookEndpoint]:
        if site_id is None:
            rows = await self._all(f"SELECT {ENDPOINT_COLS} FROM webhook_endpoints ORDER BY created_at, id")
        else:
            rows = await self._all(f"SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE site_id=$1 "
                                   "ORDER BY created_at, id", site_id)
        return [endpoint_of(r) for r in rows]

    async def webhook_candidates(self, site_ids: list[str], since: int, limit: int) -> list[WebhookCandidate]:
        if not site_ids:
            return []
        rows = await self._all(
            "SELECT c.id, c.site_id, c.visitor_id, c.last_seq, coalesce(w.seq, 0), c.updated_at "
            "FROM conversations c LEFT JOIN webhook_cursors w ON w.conversation_id=c.id "
            "WHERE c.site_id = ANY($1::text[]) AND c.status IN ('open', 'closed') "
            "AND c.updated_at >= $2 AND c.last_seq > coalesce(w.seq, 0) ORDER BY c.updated_at, c.id LIMIT $3",
            site_ids, since, limit,
        )
        return [WebhookCandidate(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5])) for r in rows]

    async def webhook_cursor(self, conversation_id: str) -> int:
        value = await self._value("SELECT seq FROM webhook_cursors WHERE conversation_id=$1", conversation_id)
        return int(value) if value is not None else 0

    async def advance_webhook_cursor(self, conversation_id: str, from_seq: int, to_seq: int,
                                     deliveries: list[Delivery]) -> bool:
        async def job(conn: asyncpg.Connection) -> bool:
            if from_seq == 0:
                moved = await conn.fetchval(
                    "INSERT INTO webhook_cursors(conversation_id, seq, updated_at) VALUES ($1,$2,$3) "
                    "ON CONFLICT (conversation_id) DO UPDATE SET seq=excluded.seq, updated_at=excluded.updated_at "
                    "WHERE webhook_cursors.seq = 0 RETURNING 1",
                    conversation_id, to_seq, now_ms(),
                )
            else:
                moved = await conn.fetchval(
                    "UPDATE webhook_cursors SET seq=$3, updated_at=$4 WHERE conversation_id=$1 AND seq=$2 "
                    "RETURNING 1",
                    conversation_id, from_seq, to_seq, now_ms(),
                )
            if moved is None:
                return False
            for delivery in deliveries:
                await insert_delivery(conn, delivery)
            return True

        return await self._transaction(job)

    async def claim_ordered_deliveries(self, channel: str, now: int, lease_ms: int, limit: int) -> list[Delivery]:
        async def job(conn: asyncpg.Connection) -> list[Delivery]:
            rows = await conn.fetch(
                "UPDATE deliveries SET status='sending', attempts=attempts+1, next_attempt_at=$1 "
                "WHERE id IN (SELECT d.id FROM deliveries d WHERE d.channel=$2 "
                "AND d.status IN ('queued', 'sending') AND d.next_attempt_at <= $3 "
                "AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel=d.channel AND e.target=d.target "
                "AND e.conversation_id IS NOT DISTINCT FROM d.conversation_id "
                "AND e.status IN ('queued', 'sending') "
                "AND (e.position < d.position OR (e.position = d.position AND e.id < d.id))) "
                "ORDER BY d.next_attempt_at, d.id LIMIT $4 FOR UPDATE SKIP LOCKED) "
                f"RETURNING {DELIVERY_COLS}",
                now + lease_ms, channel, now, limit,
            )
            return sorted((delivery_of(r) for r in rows), key=lambda d: (d.created_at, d.position, d.id))

        return await self._transaction(job)

    async def queue_delivery(self, delivery: Delivery) -> None:
        async def job(conn: asyncpg.Connection) -> None:
            await insert_delivery(conn, delivery)

        await self._transaction(job)

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        row = await self._one(f"SELECT {DELIVERY_COLS} FROM deliveries WHERE id=$1", delivery_id)
        return delivery_of(row) if row else None

    async def record_webhook_attempt(self, attempt: WebhookAttempt) -> None:
        a = attempt
        await self._execute(
            f"INSERT INTO webhook_attempts({ATTEMPT_COLS}) VALUES ($1,$2,$3,$4,$5,$6) "
            "ON CONFLICT (delivery_id, attempt) DO NOTHING",
            a.delivery_id, a.attempt, a.at, a.status_code, a.latency_ms, a.error,
        )

    async def webhook_log(self, endpoint_id: str, limit: int, before: int | None = None) -> list[WebhookLogEntry]:
        rows = await self._all(
            f"SELECT {DELIVERY_COLS} FROM deliveries WHERE channel='webhook' AND target=$1 AND created_at < $2 "
            "ORDER BY created_at DESC, position DESC, id LIMIT $3",
            endpoint_id, before if before is not None else 2**62, limit,
        )
        entries = [WebhookLogEntry(delivery_of(r)) for r in rows]
        if not entries:
            return entries
        by_id = {e.delivery.id: e for e in entries}
        attempts = await self._all(
            f"SELECT {ATTEMPT_COLS} FROM webhook_attempts WHERE delivery_id = ANY($1::text[]) ORDER BY attempt",
            list(by_id),
        )
        for row in attempts:
            by_id[row[0]].attempts.append(attempt_of(row))
        return entries

"""The SQLite store's queries for outgoing webhooks (store/webhooks.py): endpoints, the derivation cursor,
the ordered claim and the attempt log. Every write runs in the single writer, so the cursor's
compare-and-set and the ordered claim cannot interleave with another of this process."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from papote.ids import now_ms
from papote.store.outbox import Delivery
from papote.store.sqlite.engine import SqliteEngine
from papote.store.sqlite.rows import DELIVERY_COLS, delivery_of, dumps, insert_delivery
from papote.store.webhooks import WebhookAttempt, WebhookCandidate, WebhookEndpoint, WebhookLogEntry

ENDPOINT_COLS = "id, site_id, url, events, secret, description, previous_secret, previous_until, created_at"
ATTEMPT_COLS = "delivery_id, attempt, at, status_code, latency_ms, error"


def endpoint_of(row: Sequence[Any]) -> WebhookEndpoint:
    return WebhookEndpoint(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], row[7], row[8])


def attempt_of(row: Sequence[Any]) -> WebhookAttempt:
    return WebhookAttempt(row[0], row[1], row[2], row[3], row[4], row[5])


class WebhookQueries(SqliteEngine):
    async def insert_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        e = endpoint
        await self._write(lambda conn: conn.execute(
            f"INSERT INTO webhook_endpoints({ENDPOINT_COLS}) VALUES (?,?,?,?,?,?,?,?,?)",
            (e.id, e.site_id, e.url, dumps(e.events), e.secret, e.description, e.previous_secret,
             e.previous_until, e.created_at),
        ))

    async def update_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        e = endpoint
        await self._write(lambda conn: conn.execute(
            "UPDATE webhook_endpoints SET url=?, events=?, description=?, secret=?, previous_secret=?, "
            "previous_until=? WHERE id=?",
            (e.url, dumps(e.events), e.description, e.secret, e.previous_secret, e.previous_until, e.id),
        ))

    async def delete_webhook_endpoint(self, site_id: str, endpoint_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            gone = conn.execute("DELETE FROM webhook_endpoints WHERE id=? AND site_id=? RETURNING id",
                                (endpoint_id, site_id)).fetchone()
            if gone is None:
                return False
            conn.execute("DELETE FROM deliveries WHERE channel='webhook' AND target=?", (endpoint_id,))
            return True

        return await self._write(job)

    async def webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        row = await self._one(f"SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE id=?", (endpoint_id,))
        return endpoint_of(row) if row else None

    async def webhook_endpoints(self, site_id: str | None = None) -> list[WebhookEndpoint]:
        if site_id is None:
            rows = await self._all(f"SELECT {ENDPOINT_COLS} FROM webhook_endpoints ORDER BY created_at, id")
        else:
            rows = await self._all(f"SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE site_id=? "
                                   "ORDER BY created_at, id", (site_id,))
        return [endpoint_of(r) for r in rows]

    async def webhook_candidates(self, site_ids: list[str], since: int, limit: int) -> list[WebhookCandidate]:
        if not site_ids:
            return []
        rows = await self._all(
            "SELECT c.id, c.site_id, c.visitor_id, c.last_seq, coalesce(w.seq, 0), c.updated_at "
            "FROM conversations c LEFT JOIN webhook_cursors w ON w.conversation_id=c.id "
            f"WHERE c.site_id IN ({','.join('?' * len(site_ids))}) AND c.status IN ('open', 'closed') "
            "AND c.updated_at >= ? AND c.last_seq > coalesce(w.seq, 0) ORDER BY c.updated_at, c.id LIMIT ?",
            (*site_ids, since, limit),
        )
        return [WebhookCandidate(*r) for r in rows]

    async def webhook_cursor(self, conversation_id: str) -> int:
        row = await self._one("SELECT seq FROM webhook_cursors WHERE conversation_id=?", (conversation_id,))
        return int(row[0]) if row else 0

    async def advance_webhook_cursor(self, conversation_id: str, from_seq: int, to_seq: int,
                                     deliveries: list[Delivery]) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT seq FROM webhook_cursors WHERE conversation_id=?",
                               (conversation_id,)).fetchone()
            if (row[0] if row else 0) != from_seq:
                return False
            conn.execute(
                "INSERT INTO webhook_cursors(conversation_id, seq, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(conversation_id) DO UPDATE SET seq=excluded.seq, updated_at=excluded.updated_at",
                (conversation_id, to_seq, now_ms()),
            )
            for delivery in deliveries:
                insert_delivery(conn, delivery)
            return True

        return await self._write(job)

    async def claim_ordered_deliveries(self, channel: str, now: int, lease_ms: int, limit: int) -> list[Delivery]:
        def job(conn: sqlite3.Connection) -> list[Delivery]:
            rows = conn.execute(
                "UPDATE deliveries SET status='sending', attempts=attempts+1, next_attempt_at=? "
                "WHERE id IN (SELECT d.id FROM deliveries d WHERE d.channel=? "
                "AND d.status IN ('queued', 'sending') AND d.next_attempt_at <= ? "
                "AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel=d.channel AND e.target=d.target "
                "AND e.conversation_id IS d.conversation_id AND e.status IN ('queued', 'sending') "
                "AND (e.position < d.position OR (e.position = d.position AND e.id < d.id))) "
                "ORDER BY d.next_attempt_at, d.id LIMIT ?) "
                f"RETURNING {DELIVERY_COLS}",
                (now + lease_ms, channel, now, limit),
            ).fetchall()
            return sorted((delivery_of(r) for r in rows), key=lambda d: (d.created_at, d.position, d.id))

        return await self._write(job)

    async def queue_delivery(self, delivery: Delivery) -> None:
        await self._write(lambda conn: insert_delivery(conn, delivery))

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        row = await self._one(f"SELECT {DELIVERY_COLS} FROM deliveries WHERE id=?", (delivery_id,))
        return delivery_of(row) if row else None

    async def record_webhook_attempt(self, attempt: WebhookAttempt) -> None:
        a = attempt
        await self._write(lambda conn: conn.execute(
            f"INSERT INTO webhook_attempts({ATTEMPT_COLS}) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT(delivery_id, attempt) DO NOTHING",
            (a.delivery_id, a.attempt, a.at, a.status_code, a.latency_ms, a.error),
        ))

    async def webhook_log(self, endpoint_id: str, limit: int, before: int | None = None) -> list[WebhookLogEntry]:
        rows = await self._all(
            f"SELECT {DELIVERY_COLS} FROM deliveries WHERE channel='webhook' AND target=? AND created_at < ? "
            "ORDER BY created_at DESC, position DESC, id LIMIT ?",
            (endpoint_id, before if before is not None else 2**62, limit),
        )
        entries = [WebhookLogEntry(delivery_of(r)) for r in rows]
        if not entries:
            return entries
        by_id = {e.delivery.id: e for e in entries}
        attempts = await self._all(
            f"SELECT {ATTEMPT_COLS} FROM webhook_attempts WHERE delivery_id IN ({','.join('?' * len(by_id))}) "
            "ORDER BY attempt", tuple(by_id),
        )
        for row in attempts:
            by_id[row[0]].attempts.append(attempt_of(row))
        return entries

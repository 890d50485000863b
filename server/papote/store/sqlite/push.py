"""The SQLite store's queries for Web Push: the VAPID key pair (in `meta`) and agents' subscriptions."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from papote.store.push import ALERTS, PushSubscription, VapidKeys
from papote.store.sqlite.engine import SqliteEngine

_COLS = ("id, agent_id, endpoint, p256dh, auth, label, new_conversation, visitor_reply, transfer, created_at, "
         "mention")


class PushQueries(SqliteEngine):
    async def ensure_push_keys(self, candidate: VapidKeys) -> VapidKeys:
        def job(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT INTO meta(key, value) VALUES ('vapid_keys', ?) ON CONFLICT(key) DO NOTHING",
                         (json.dumps({"private": candidate.private_key, "public": candidate.public_key}),))
            return str(conn.execute("SELECT value FROM meta WHERE key='vapid_keys'").fetchone()[0])

        stored = json.loads(await self._write(job))
        return VapidKeys(stored["private"], stored["public"])

    async def save_push_subscription(self, sub: PushSubscription) -> PushSubscription:
        def job(conn: sqlite3.Connection) -> Any:
            conn.execute(
                f"INSERT INTO push_subscriptions({_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(endpoint) DO UPDATE SET "
                " id=CASE WHEN push_subscriptions.agent_id=excluded.agent_id"
                " THEN push_subscriptions.id ELSE excluded.id END,"
                " agent_id=excluded.agent_id, p256dh=excluded.p256dh, auth=excluded.auth, label=excluded.label,"
                " new_conversation=excluded.new_conversation, visitor_reply=excluded.visitor_reply,"
                " transfer=excluded.transfer, mention=excluded.mention",
                (sub.id, sub.agent_id, sub.endpoint, sub.p256dh, sub.auth, sub.label, int(sub.new_conversation),
                 int(sub.visitor_reply), int(sub.transfer), sub.created_at, int(sub.mention)))
            return conn.execute(f"SELECT {_COLS} FROM push_subscriptions WHERE endpoint=?", (sub.endpoint,)).fetchone()

        return _subscription_of(await self._write(job))

    async def push_subscriptions(self, agent_id: str) -> list[PushSubscription]:
        rows = await self._all(
            f"SELECT {_COLS} FROM push_subscriptions WHERE agent_id=? ORDER BY created_at, id", (agent_id,))
        return [_subscription_of(r) for r in rows]

    async def update_push_alerts(self, agent_id: str, sub_id: str, alerts: dict[str, bool]) -> PushSubscription | None:
        names = [a for a in ALERTS if a in alerts]

        def job(conn: sqlite3.Connection) -> Any:
            if names:
                conn.execute(
                    f"UPDATE push_subscriptions SET {', '.join(f'{n}=?' for n in names)} WHERE id=? AND agent_id=?",
                    (*(int(alerts[n]) for n in names), sub_id, agent_id))
            return conn.execute(f"SELECT {_COLS} FROM push_subscriptions WHERE id=? AND agent_id=?",
                                (sub_id, agent_id)).fetchone()

        row = await self._write(job)
        return _subscription_of(row) if row else None

    async def delete_push_subscription(self, agent_id: str, sub_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM push_subscriptions WHERE id=? AND agent_id=?",
                                (sub_id, agent_id)).rowcount > 0

        return await self._write(job)

    async def delete_push_endpoint(self, endpoint: str) -> None:
        await self._write(lambda c: c.execute("DELETE FROM push_subscriptions WHERE endpoint=?", (endpoint,)))

    async def push_owners(self) -> set[str]:
        return {row[0] for row in await self._all("SELECT DISTINCT agent_id FROM push_subscriptions", [])}

    async def push_targets(self, agent_ids: list[str], alert: str) -> list[PushSubscription]:
        if alert not in ALERTS:
            raise ValueError(f"unknown alert {alert!r}")
        out: list[PushSubscription] = []
        for start in range(0, len(agent_ids), 500):  # SQLite's bound-parameter limit, with room
            chunk = agent_ids[start:start + 500]
            rows = await self._all(
                f"SELECT {_COLS} FROM push_subscriptions WHERE agent_id IN ({','.join('?' * len(chunk))}) "
                f"AND {alert}=1 ORDER BY created_at, id", chunk)
            out.extend(_subscription_of(r) for r in rows)
        return out


def _subscription_of(row: Any) -> PushSubscription:
    return PushSubscription(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), bool(row[7]),
                            bool(row[8]), row[9], bool(row[10]))

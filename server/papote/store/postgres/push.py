"""The PostgreSQL store's queries for Web Push: the VAPID key pair (in `meta`) and agents' subscriptions."""

from __future__ import annotations

import json
from typing import Any

from papote.store.postgres.engine import PostgresEngine
from papote.store.push import ALERTS, PushSubscription, VapidKeys

_COLS = ("id, agent_id, endpoint, p256dh, auth, label, new_conversation, visitor_reply, transfer, created_at, "
         "mention")


class PushQueries(PostgresEngine):
    async def ensure_push_keys(self, candidate: VapidKeys) -> VapidKeys:
        # One statement: the pair inserted now, or the one another node inserted first.
        value = await self._value(
            "WITH ins AS (INSERT INTO meta(key, value) VALUES ('vapid_keys', $1) ON CONFLICT (key) DO NOTHING "
            "RETURNING value) SELECT value FROM ins UNION ALL SELECT value FROM meta WHERE key='vapid_keys' LIMIT 1",
            json.dumps({"private": candidate.private_key, "public": candidate.public_key}))
        if value is None:
            # Another node's insert committed while this statement waited on it: its snapshot, taken
            # before that commit, cannot see the row; a new statement does.
            value = await self._value("SELECT value FROM meta WHERE key='vapid_keys'")
        stored = json.loads(value)
        return VapidKeys(stored["private"], stored["public"])

    async def save_push_subscription(self, sub: PushSubscription) -> PushSubscription:
        row = await self._write_row(
            f"INSERT INTO push_subscriptions({_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) "
            "ON CONFLICT (endpoint) DO UPDATE SET "
            " id=CASE WHEN push_subscriptions.agent_id=excluded.agent_id"
            " THEN push_subscriptions.id ELSE excluded.id END,"
            " agent_id=excluded.agent_id, p256dh=excluded.p256dh, auth=excluded.auth, label=excluded.label,"
            " new_conversation=excluded.new_conversation, visitor_reply=excluded.visitor_reply,"
            " transfer=excluded.transfer, mention=excluded.mention "
            f"RETURNING {_COLS}",
            sub.id, sub.agent_id, sub.endpoint, sub.p256dh, sub.auth, sub.label, sub.new_conversation,
            sub.visitor_reply, sub.transfer, sub.created_at, sub.mention)
        return _subscription_of(row)

    async def push_subscriptions(self, agent_id: str) -> list[PushSubscription]:
        rows = await self._all(
            f"SELECT {_COLS} FROM push_subscriptions WHERE agent_id=$1 ORDER BY created_at, id", agent_id)
        return [_subscription_of(r) for r in rows]

    async def update_push_alerts(self, agent_id: str, sub_id: str, alerts: dict[str, bool]) -> PushSubscription | None:
        names = [a for a in ALERTS if a in alerts]
        sets = ", ".join(f"{n}=${i + 3}" for i, n in enumerate(names)) or "id=id"
        row = await self._write_row(
            f"UPDATE push_subscriptions SET {sets} WHERE id=$1 AND agent_id=$2 RETURNING {_COLS}",
            sub_id, agent_id, *(bool(alerts[n]) for n in names))
        return _subscription_of(row) if row else None

    async def delete_push_subscription(self, agent_id: str, sub_id: str) -> bool:
        status = await self._execute("DELETE FROM push_subscriptions WHERE id=$1 AND agent_id=$2", sub_id, agent_id)
        return status != "DELETE 0"

    async def delete_push_endpoint(self, endpoint: str) -> None:
        await self._execute("DELETE FROM push_subscriptions WHERE endpoint=$1", endpoint)

    async def push_owners(self) -> set[str]:
        return {row[0] for row in await self._all("SELECT DISTINCT agent_id FROM push_subscriptions")}

    async def push_targets(self, agent_ids: list[str], alert: str) -> list[PushSubscription]:
        if alert not in ALERTS:
            raise ValueError(f"unknown alert {alert!r}")
        rows = await self._all(
            f"SELECT {_COLS} FROM push_subscriptions WHERE agent_id = ANY($1) AND {alert} ORDER BY created_at, id",
            agent_ids)
        return [_subscription_of(r) for r in rows]


def _subscription_of(row: Any) -> PushSubscription:
    return PushSubscription(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
                            row[10])

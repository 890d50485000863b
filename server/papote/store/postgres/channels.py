"""The PostgreSQL store's queries for messaging channels: accounts, identities and provider receipts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from papote.store import Visitor
from papote.store.channels import RANK, ChannelAccount, ChannelIdentity, MessageDelivery, furthest
from papote.store.postgres.engine import PostgresEngine
from papote.store.postgres.rows import insert_visitor_row

ACCOUNT_COLS = "id, site_id, kind, name, config, secrets, created_at"
IDENTITY_COLS = "account_id, address, site_id, visitor_id, conversation_id, name, last_inbound_at, created_at"
#: A message's delivery with the provider's latest receipt for it.
_STATE_SQL = (
    "SELECT d.seq, d.kind, d.status, d.error, r.state, coalesce(r.error, ''), d.conversation_id "
    "FROM deliveries d "
    "LEFT JOIN channel_receipts r ON r.account_id=d.account_id AND r.provider_msg_id=d.provider_msg_id "
)


def account_of(row: Sequence[Any]) -> ChannelAccount:
    return ChannelAccount(row[0], row[1], row[2], row[3], dict(row[4]), dict(row[5]), row[6])


def like_escape(text: str) -> str:
    """`text` matched literally by (I)LIKE, whose default escape is a backslash (a typed % or _ is no
    wildcard)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def identity_of(row: Sequence[Any]) -> ChannelIdentity:
    return ChannelIdentity(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])


def state_of(row: Sequence[Any]) -> MessageDelivery:
    state, error = furthest(row[2], row[3], row[4], row[5])
    return MessageDelivery(row[6], row[0], row[1], state, error)


class ChannelQueries(PostgresEngine):
    async def insert_channel_account(self, account: ChannelAccount) -> None:
        await self._execute(
            f"INSERT INTO channel_accounts({ACCOUNT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7)",
            account.id, account.site_id, account.kind, account.name, account.config, account.secrets,
            account.created_at,
        )

    async def channel_accounts(self, site_id: str) -> list[ChannelAccount]:
        rows = await self._all(
            f"SELECT {ACCOUNT_COLS} FROM channel_accounts WHERE site_id=$1 ORDER BY created_at, id", site_id)
        return [account_of(r) for r in rows]

    async def get_channel_account(self, account_id: str) -> ChannelAccount | None:
        row = await self._one(f"SELECT {ACCOUNT_COLS} FROM channel_accounts WHERE id=$1", account_id)
        return account_of(row) if row else None

    async def delete_channel_account(self, site_id: str, account_id: str) -> bool:
        # Its identities go with it (ON DELETE CASCADE).
        row = await self._write_row("DELETE FROM channel_accounts WHERE id=$1 AND site_id=$2 RETURNING id",
                                    account_id, site_id)
        return row is not None

    async def channel_identity(self, account_id: str, address: str) -> ChannelIdentity | None:
        row = await self._one(f"SELECT {IDENTITY_COLS} FROM channel_identities WHERE account_id=$1 AND address=$2",
                              account_id, address)
        return identity_of(row) if row else None

    async def add_channel_identity(self, identity: ChannelIdentity,
                                   visitor: tuple[Visitor, str] | None = None) -> ChannelIdentity:
        async def job(conn: asyncpg.Connection) -> ChannelIdentity:
            i = identity
            # A racing transaction's row for this address (another node's newcomer): this insert waits
            # for its commit, then does nothing, and its row (its visitor) is the one read back.
            added = await conn.fetchval(
                f"INSERT INTO channel_identities({IDENTITY_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) "
                "ON CONFLICT (account_id, address) DO NOTHING RETURNING 1",
                i.account_id, i.address, i.site_id, i.visitor_id, i.conversation_id, i.name, i.last_inbound_at,
                i.created_at,
            )
            if added is not None and visitor is not None:
                await insert_visitor_row(conn, *visitor)
            row = await conn.fetchrow(
                f"SELECT {IDENTITY_COLS} FROM channel_identities WHERE account_id=$1 AND address=$2",
                i.account_id, i.address)
            return identity_of(row)

        return await self._transaction(job)

    async def set_identity_conversation(self, account_id: str, address: str, conversation_id: str) -> None:
        await self._execute("UPDATE channel_identities SET conversation_id=$3 WHERE account_id=$1 AND address=$2",
                            account_id, address, conversation_id)

    async def touch_identity(self, account_id: str, address: str, at: int) -> None:
        await self._execute("UPDATE channel_identities SET last_inbound_at=greatest(last_inbound_at, $3) "
                            "WHERE account_id=$1 AND address=$2", account_id, address, at)

    async def identity_of_conversation(self, conversation_id: str) -> ChannelIdentity | None:
        # The conversation's own identity, else its visitor's identity that names no conversation yet: the
        # link to a new conversation is recorded just after its first message, and a reply (the bot's) may
        # come in between. Only that one: a contact merged with a web visitor has identities naming their
        # own conversations, and a reply in the web chat must not leave by the phone.
        row = await self._one(
            f"(SELECT {IDENTITY_COLS} FROM channel_identities WHERE conversation_id=$1 LIMIT 1) UNION ALL "
            f"(SELECT {IDENTITY_COLS} FROM channel_identities WHERE visitor_id=(SELECT visitor_id FROM "
            f"conversations WHERE id=$1) AND conversation_id IS NULL LIMIT 1) LIMIT 1", conversation_id)
        return identity_of(row) if row else None

    async def visitor_identities(self, visitor_id: str) -> list[ChannelIdentity]:
        rows = await self._all(f"SELECT {IDENTITY_COLS} FROM channel_identities WHERE visitor_id=$1 "
                               "ORDER BY created_at, account_id, address", visitor_id)
        return [identity_of(r) for r in rows]

    async def find_contacts(self, site_id: str, text: str, limit: int) -> list[str]:
        like = "%" + like_escape(text) + "%"
        rows = await self._all(
            "SELECT id FROM (SELECT id, last_seen FROM visitors WHERE site_id=$1 AND (name ILIKE $2 "
            "OR email ILIKE $2 OR user_id ILIKE $2 OR id=$3) "
            "UNION SELECT v.id, v.last_seen FROM channel_identities i JOIN visitors v ON v.id=i.visitor_id "
            "WHERE i.site_id=$1 AND (i.address ILIKE $2 OR i.name ILIKE $2) "
            "UNION SELECT v.id, v.last_seen FROM email_addresses e JOIN visitors v ON v.id=e.visitor_id "
            "WHERE e.site_id=$1 AND e.email ILIKE $2) found ORDER BY last_seen DESC, id LIMIT $4",
            site_id, like, text, limit)
        return [str(r[0]) for r in rows]

    async def record_receipt(self, account_id: str, provider_msg_id: str, state: str, error: str,
                             at: int) -> MessageDelivery | None:
        async def job(conn: asyncpg.Connection) -> MessageDelivery | None:
            await conn.execute(
                "INSERT INTO channel_receipts(account_id, provider_msg_id, state, rank, error, at) "
                "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (account_id, provider_msg_id) DO UPDATE SET "
                "state=excluded.state, rank=excluded.rank, error=excluded.error, at=excluded.at "
                "WHERE excluded.rank > channel_receipts.rank",
                account_id, provider_msg_id, state, RANK[state], error, at,
            )
            row = await conn.fetchrow(_STATE_SQL + "WHERE d.account_id=$1 AND d.provider_msg_id=$2",
                                      account_id, provider_msg_id)
            return state_of(row) if row and row[0] is not None else None

        return await self._transaction(job)

    async def record_watermark(self, account_id: str, conversation_id: str, state: str,
                               at: int) -> list[MessageDelivery]:
        async def job(conn: asyncpg.Connection) -> list[MessageDelivery]:
            moved = await conn.fetch(
                "INSERT INTO channel_receipts(account_id, provider_msg_id, state, rank, error, at) "
                "SELECT account_id, provider_msg_id, $1, $2, '', $3 FROM deliveries WHERE conversation_id=$4 "
                "AND account_id=$5 AND provider_msg_id IS NOT NULL AND sent_at <= $3 "
                "ON CONFLICT (account_id, provider_msg_id) DO UPDATE SET state=excluded.state, "
                "rank=excluded.rank, at=excluded.at WHERE excluded.rank > channel_receipts.rank "
                "RETURNING provider_msg_id",
                state, RANK[state], at, conversation_id, account_id,
            )
            out = []
            for (provider_msg_id,) in moved:
                row = await conn.fetchrow(_STATE_SQL + "WHERE d.account_id=$1 AND d.provider_msg_id=$2",
                                          account_id, provider_msg_id)
                if row is not None:
                    out.append(state_of(row))
            return out

        return await self._transaction(job)

    async def delivery_state(self, delivery_id: str) -> MessageDelivery | None:
        row = await self._one(_STATE_SQL + "WHERE d.id=$1", delivery_id)
        return state_of(row) if row and row[0] is not None else None

    async def message_deliveries(self, conversation_id: str) -> dict[int, MessageDelivery]:
        rows = await self._all(
            _STATE_SQL + "WHERE d.conversation_id=$1 AND d.channel='messaging' AND d.seq IS NOT NULL "
            "ORDER BY d.created_at", conversation_id)
        return {r[0]: state_of(r) for r in rows}

"""The SQLite store's queries for messaging channels: accounts, identities and provider receipts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from papote.store import Visitor
from papote.store.channels import RANK, ChannelAccount, ChannelIdentity, MessageDelivery, furthest
from papote.store.sqlite.engine import SqliteEngine
from papote.store.sqlite.rows import dumps, insert_visitor_row

ACCOUNT_COLS = "id, site_id, kind, name, config, secrets, created_at"
IDENTITY_COLS = "account_id, address, site_id, visitor_id, conversation_id, name, last_inbound_at, created_at"
#: A message's delivery with the provider's latest receipt for it.
_STATE_SQL = (
    "SELECT d.seq, d.kind, d.status, d.error, r.state, coalesce(r.error, ''), d.conversation_id "
    "FROM deliveries d "
    "LEFT JOIN channel_receipts r ON r.account_id=d.account_id AND r.provider_msg_id=d.provider_msg_id "
)


def like_escape(text: str) -> str:
    """`text` matched literally by LIKE … ESCAPE '\\' (a typed % or _ is no wildcard)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def account_of(row: Sequence[Any]) -> ChannelAccount:
    return ChannelAccount(row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5]), row[6])


def identity_of(row: Sequence[Any]) -> ChannelIdentity:
    return ChannelIdentity(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])


def state_of(row: Sequence[Any]) -> MessageDelivery:
    state, error = furthest(row[2], row[3], row[4], row[5])
    return MessageDelivery(row[6], row[0], row[1], state, error)


class ChannelQueries(SqliteEngine):
    async def insert_channel_account(self, account: ChannelAccount) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO channel_accounts({ACCOUNT_COLS}) VALUES (?,?,?,?,?,?,?)",
                (account.id, account.site_id, account.kind, account.name, dumps(account.config),
                 dumps(account.secrets), account.created_at),
            )

        await self._write(job)

    async def channel_accounts(self, site_id: str) -> list[ChannelAccount]:
        rows = await self._all(
            f"SELECT {ACCOUNT_COLS} FROM channel_accounts WHERE site_id=? ORDER BY created_at, id", (site_id,))
        return [account_of(r) for r in rows]

    async def get_channel_account(self, account_id: str) -> ChannelAccount | None:
        row = await self._one(f"SELECT {ACCOUNT_COLS} FROM channel_accounts WHERE id=?", (account_id,))
        return account_of(row) if row else None

    async def delete_channel_account(self, site_id: str, account_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM channel_identities WHERE account_id IN "
                         "(SELECT id FROM channel_accounts WHERE id=? AND site_id=?)", (account_id, site_id))
            return conn.execute("DELETE FROM channel_accounts WHERE id=? AND site_id=?",
                                (account_id, site_id)).rowcount > 0

        return await self._write(job)

    async def channel_identity(self, account_id: str, address: str) -> ChannelIdentity | None:
        row = await self._one(f"SELECT {IDENTITY_COLS} FROM channel_identities WHERE account_id=? AND address=?",
                              (account_id, address))
        return identity_of(row) if row else None

    async def add_channel_identity(self, identity: ChannelIdentity,
                                   visitor: tuple[Visitor, str] | None = None) -> ChannelIdentity:
        def job(conn: sqlite3.Connection) -> ChannelIdentity:
            i = identity
            added = conn.execute(
                f"INSERT INTO channel_identities({IDENTITY_COLS}) VALUES (?,?,?,?,?,?,?,?) "
                "ON CONFLICT(account_id, address) DO NOTHING",
                (i.account_id, i.address, i.site_id, i.visitor_id, i.conversation_id, i.name, i.last_inbound_at,
                 i.created_at),
            ).rowcount > 0
            if added and visitor is not None:  # the one writer: no other can come in between
                insert_visitor_row(conn, *visitor)
            row = conn.execute(f"SELECT {IDENTITY_COLS} FROM channel_identities WHERE account_id=? AND address=?",
                               (i.account_id, i.address)).fetchone()
            return identity_of(row)

        return await self._write(job)

    async def set_identity_conversation(self, account_id: str, address: str, conversation_id: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE channel_identities SET conversation_id=? WHERE account_id=? AND address=?",
                         (conversation_id, account_id, address))

        await self._write(job)

    async def touch_identity(self, account_id: str, address: str, at: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE channel_identities SET last_inbound_at=max(last_inbound_at, ?) "
                         "WHERE account_id=? AND address=?", (at, account_id, address))

        await self._write(job)

    async def identity_of_conversation(self, conversation_id: str) -> ChannelIdentity | None:
        # The conversation's own identity, else its visitor's identity that names no conversation yet: the
        # link to a new conversation is recorded just after its first message, and a reply (the bot's) may
        # come in between. Only that one: a contact merged with a web visitor has identities naming their
        # own conversations, and a reply in the web chat must not leave by the phone.
        row = await self._one(
            f"SELECT {IDENTITY_COLS} FROM channel_identities WHERE conversation_id=? UNION ALL "
            f"SELECT {IDENTITY_COLS} FROM channel_identities WHERE visitor_id=(SELECT visitor_id FROM conversations "
            f"WHERE id=?) AND conversation_id IS NULL LIMIT 1", (conversation_id, conversation_id))
        return identity_of(row) if row else None

    async def visitor_identities(self, visitor_id: str) -> list[ChannelIdentity]:
        rows = await self._all(f"SELECT {IDENTITY_COLS} FROM channel_identities WHERE visitor_id=? "
                               "ORDER BY created_at, account_id, address", (visitor_id,))
        return [identity_of(r) for r in rows]

    async def find_contacts(self, site_id: str, text: str, limit: int) -> list[str]:
        like = "%" + like_escape(text) + "%"
        rows = await self._all(
            "SELECT id FROM (SELECT id, last_seen FROM visitors WHERE site_id=?1 AND (name LIKE ?2 ESCAPE '\\' "
            "OR email LIKE ?2 ESCAPE '\\' OR user_id LIKE ?2 ESCAPE '\\' OR id=?3) "
            "UNION SELECT v.id, v.last_seen FROM channel_identities i JOIN visitors v ON v.id=i.visitor_id "
            "WHERE i.site_id=?1 AND (i.address LIKE ?2 ESCAPE '\\' OR i.name LIKE ?2 ESCAPE '\\') "
            "UNION SELECT v.id, v.last_seen FROM email_addresses e JOIN visitors v ON v.id=e.visitor_id "
            "WHERE e.site_id=?1 AND e.email LIKE ?2 ESCAPE '\\') ORDER BY last_seen DESC, id LIMIT ?4",
            (site_id, like, text, limit))
        return [str(r[0]) for r in rows]

    async def record_receipt(self, account_id: str, provider_msg_id: str, state: str, error: str,
                             at: int) -> MessageDelivery | None:
        def job(conn: sqlite3.Connection) -> MessageDelivery | None:
            conn.execute(
                "INSERT INTO channel_receipts(account_id, provider_msg_id, state, rank, error, at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(account_id, provider_msg_id) DO UPDATE SET "
                "state=excluded.state, rank=excluded.rank, error=excluded.error, at=excluded.at "
                "WHERE excluded.rank > channel_receipts.rank",
                (account_id, provider_msg_id, state, RANK[state], error, at),
            )
            row = conn.execute(_STATE_SQL + "WHERE d.account_id=? AND d.provider_msg_id=?",
                               (account_id, provider_msg_id)).fetchone()
            return state_of(row) if row and row[0] is not None else None

        return await self._write(job)

    async def record_watermark(self, account_id: str, conversation_id: str, state: str,
                               at: int) -> list[MessageDelivery]:
        def job(conn: sqlite3.Connection) -> list[MessageDelivery]:
            moved = conn.execute(
                "INSERT INTO channel_receipts(account_id, provider_msg_id, state, rank, error, at) "
                "SELECT account_id, provider_msg_id, ?, ?, '', ? FROM deliveries WHERE conversation_id=? "
                "AND account_id=? AND provider_msg_id IS NOT NULL AND sent_at <= ? AND true "
                "ON CONFLICT(account_id, provider_msg_id) DO UPDATE SET state=excluded.state, rank=excluded.rank, "
                "at=excluded.at WHERE excluded.rank > channel_receipts.rank RETURNING provider_msg_id",
                (state, RANK[state], at, conversation_id, account_id, at),
            ).fetchall()
            out = []
            for (provider_msg_id,) in moved:
                row = conn.execute(_STATE_SQL + "WHERE d.account_id=? AND d.provider_msg_id=?",
                                   (account_id, provider_msg_id)).fetchone()
                if row is not None:
                    out.append(state_of(row))
            return out

        return await self._write(job)

    async def delivery_state(self, delivery_id: str) -> MessageDelivery | None:
        row = await self._one(_STATE_SQL + "WHERE d.id=?", (delivery_id,))
        return state_of(row) if row and row[0] is not None else None

    async def message_deliveries(self, conversation_id: str) -> dict[int, MessageDelivery]:
        rows = await self._all(_STATE_SQL + "WHERE d.conversation_id=? AND d.channel='messaging' AND d.seq IS NOT NULL "
                               "ORDER BY d.created_at",
                               (conversation_id,))
        return {r[0]: state_of(r) for r in rows}

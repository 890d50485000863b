"""The PostgreSQL store's queries for teams and sign-ins: memberships and their disable, server operators,
devices that signed in before, failed sign-ins by account, address and device, pending invitations."""

from __future__ import annotations

from typing import Any

import asyncpg

from papote.store import Agent, Invite, LoginFailures, Membership
from papote.store.postgres.engine import PostgresEngine
from papote.store.postgres.rows import AGENT_COLS, INVITE_COLS, ROLE, agent_of, prefixed


class TeamQueries(PostgresEngine):
    # -- memberships ---------------------------------------------------------------------------------
    async def team(self, site_id: str) -> list[tuple[Agent, Membership]]:
        rows = await self._all(
            f"SELECT {prefixed(AGENT_COLS, 'a')}, m.site_id, m.agent_id, m.role, m.disabled FROM agents a "
            "JOIN memberships m ON m.agent_id=a.id WHERE m.site_id=$1 ORDER BY a.created_at, a.id",
            site_id,
        )
        return [(agent_of(r), Membership(r[10], r[11], ROLE[r[12]], r[13])) for r in rows]

    async def membership(self, site_id: str, agent_id: str) -> Membership | None:
        row = await self._one(
            "SELECT site_id, agent_id, role, disabled FROM memberships WHERE site_id=$1 AND agent_id=$2",
            site_id, agent_id,
        )
        return Membership(row[0], row[1], ROLE[row[2]], row[3]) if row else None

    async def set_member_disabled(self, site_id: str, agent_id: str, disabled: bool) -> None:
        await self._execute(
            "UPDATE memberships SET disabled=$1 WHERE site_id=$2 AND agent_id=$3", disabled, site_id, agent_id
        )

    # -- server operators ----------------------------------------------------------------------------
    async def is_operator(self, agent_id: str) -> bool:
        return bool(await self._value("SELECT operator FROM agents WHERE id=$1", agent_id))

    async def set_operator(self, agent_id: str, operator: bool) -> None:
        await self._execute("UPDATE agents SET operator=$1 WHERE id=$2", operator, agent_id)

    async def operators(self) -> list[Agent]:
        rows = await self._all(f"SELECT {AGENT_COLS} FROM agents WHERE operator ORDER BY created_at, id")
        return [agent_of(r) for r in rows]

    # -- devices and failed sign-ins -------------------------------------------------------------------
    async def trusted_device(self, token_hash: str, agent_id: str, since: int) -> bool:
        value = await self._value(
            "SELECT 1 FROM devices WHERE token_hash=$1 AND agent_id=$2 AND last_seen>=$3", token_hash, agent_id, since
        )
        return value is not None

    async def remember_device(self, token_hash: str, agent_id: str, at: int, forget_before: int) -> None:
        async def job(conn: asyncpg.Connection) -> None:
            await conn.execute("DELETE FROM devices WHERE last_seen<$1", forget_before)
            await conn.execute(
                "INSERT INTO devices(token_hash, agent_id, created_at, last_seen) VALUES ($1,$2,$3,$3) "
                "ON CONFLICT (token_hash, agent_id) DO UPDATE SET last_seen=excluded.last_seen",
                token_hash, agent_id, at,
            )

        await self._transaction(job)

    async def record_sign_in_failure(self, email: str, address: str, device: str, trusted: bool, at: int) -> None:
        await self._execute(
            "INSERT INTO login_failures(email, at, address, device, trusted) VALUES ($1,$2,$3,$4,$5)",
            email, at, address, device, trusted,
        )

    async def sign_in_failures(self, email: str, address: str, device: str, since: int) -> LoginFailures:
        row = await self._one(
            "SELECT"
            " (SELECT count(*) FROM login_failures WHERE lower(email)=lower($1) AND at>=$4 AND NOT trusted),"
            " (SELECT count(*) FROM login_failures WHERE address=$2 AND at>=$4 AND NOT trusted),"
            " (SELECT count(*) FROM login_failures WHERE lower(email)=lower($1) AND device=$3 AND device<>''"
            " AND at>=$4)",
            email, address, device, since,
        )
        return LoginFailures(int(row[0]), int(row[1]), int(row[2]))

    async def clear_sign_in_failures(self, email: str, address: str, device: str) -> None:
        await self._execute(
            "DELETE FROM login_failures WHERE lower(email)=lower($1) AND (address=$2 OR (device<>'' AND device=$3))",
            email, address, device,
        )

    # -- sessions ------------------------------------------------------------------------------------
    async def delete_other_sessions(self, agent_id: str, keep_token_hash: str) -> None:
        await self._execute("DELETE FROM sessions WHERE agent_id=$1 AND token_hash<>$2", agent_id, keep_token_hash)

    async def live_sessions(self, token_hashes: list[str], now: int) -> set[str]:
        if not token_hashes:
            return set()
        rows = await self._all(
            "SELECT s.token_hash FROM sessions s JOIN agents a ON a.id=s.agent_id "
            "WHERE s.token_hash = ANY($1::text[]) AND s.expires_at>$2 AND NOT a.disabled",
            list(set(token_hashes)), now,
        )
        return {r[0] for r in rows}

    # -- pending invitations -------------------------------------------------------------------------
    async def list_invites(self, now: int, *, site_id: str | None = None, email: str | None = None) -> list[Invite]:
        where, params = ["expires_at>$1"], [now]
        if site_id is not None:
            params.append(site_id)  # type: ignore[arg-type]
            where.append(f"site_id=${len(params)}")
        if email is not None:
            params.append(email)  # type: ignore[arg-type]
            where.append(f"lower(email)=lower(${len(params)})")
        rows = await self._all(
            f"SELECT {INVITE_COLS} FROM invites WHERE {' AND '.join(where)} ORDER BY created_at, id", *params
        )
        return [_invite_of(r) for r in rows]

    async def get_invite_by_id(self, invite_id: str, now: int) -> Invite | None:
        row = await self._one(f"SELECT {INVITE_COLS} FROM invites WHERE id=$1 AND expires_at>$2", invite_id, now)
        return _invite_of(row) if row else None

    async def delete_invite_by_id(self, invite_id: str) -> bool:
        return await self._write_row("DELETE FROM invites WHERE id=$1 RETURNING id", invite_id) is not None


def _invite_of(row: Any) -> Invite:
    return Invite(row[0], row[1], ROLE[row[2]], row[3], row[4], row[5], row[6])

"""The SQLite store's queries for teams and sign-ins: memberships and their disable, server operators,
devices that signed in before, failed sign-ins by account, address and device, pending invitations."""

from __future__ import annotations

import sqlite3
from typing import Any

from papote.store import Agent, Invite, LoginFailures, Membership
from papote.store.sqlite.engine import SqliteEngine
from papote.store.sqlite.rows import AGENT_COLS, ROLE, agent_of, prefixed

_INVITE_COLS = "site_id, email, role, created_by, expires_at, id, created_at"


class TeamQueries(SqliteEngine):
    # -- memberships ---------------------------------------------------------------------------------
    async def team(self, site_id: str) -> list[tuple[Agent, Membership]]:
        cols = prefixed(AGENT_COLS, "a")
        rows = await self._all(
            f"SELECT {cols}, m.site_id, m.agent_id, m.role, m.disabled FROM agents a "
            "JOIN memberships m ON m.agent_id=a.id WHERE m.site_id=? ORDER BY a.created_at",
            (site_id,),
        )
        return [(agent_of(r), Membership(r[10], r[11], ROLE[r[12]], bool(r[13]))) for r in rows]

    async def membership(self, site_id: str, agent_id: str) -> Membership | None:
        row = await self._one(
            "SELECT site_id, agent_id, role, disabled FROM memberships WHERE site_id=? AND agent_id=?",
            (site_id, agent_id),
        )
        return Membership(row[0], row[1], ROLE[row[2]], bool(row[3])) if row else None

    async def set_member_disabled(self, site_id: str, agent_id: str, disabled: bool) -> None:
        await self._write(lambda c: c.execute(
            "UPDATE memberships SET disabled=? WHERE site_id=? AND agent_id=?",
            (int(disabled), site_id, agent_id)))

    # -- server operators ----------------------------------------------------------------------------
    async def is_operator(self, agent_id: str) -> bool:
        row = await self._one("SELECT operator FROM agents WHERE id=?", (agent_id,))
        return bool(row and row[0])

    async def set_operator(self, agent_id: str, operator: bool) -> None:
        await self._write(lambda c: c.execute(
            "UPDATE agents SET operator=? WHERE id=?", (int(operator), agent_id)))

    async def operators(self) -> list[Agent]:
        rows = await self._all(f"SELECT {AGENT_COLS} FROM agents WHERE operator=1 ORDER BY created_at")
        return [agent_of(r) for r in rows]

    # -- devices and failed sign-ins -------------------------------------------------------------------
    async def trusted_device(self, token_hash: str, agent_id: str, since: int) -> bool:
        row = await self._one(
            "SELECT 1 FROM devices WHERE token_hash=? AND agent_id=? AND last_seen>=?",
            (token_hash, agent_id, since))
        return row is not None

    async def remember_device(self, token_hash: str, agent_id: str, at: int, forget_before: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM devices WHERE last_seen<?", (forget_before,))
            conn.execute(
                "INSERT INTO devices(token_hash, agent_id, created_at, last_seen) VALUES (?,?,?,?) "
                "ON CONFLICT(token_hash, agent_id) DO UPDATE SET last_seen=excluded.last_seen",
                (token_hash, agent_id, at, at))

        await self._write(job)

    async def record_sign_in_failure(self, email: str, address: str, device: str, trusted: bool,
                                     at: int) -> None:
        await self._write(lambda c: c.execute(
            "INSERT INTO login_failures(email, at, address, device, trusted) VALUES (?,?,?,?,?)",
            (email, at, address, device, int(trusted))))

    async def sign_in_failures(self, email: str, address: str, device: str, since: int) -> LoginFailures:
        row = await self._one(
            "SELECT "
            " (SELECT COUNT(*) FROM login_failures WHERE email=? AND at>=? AND trusted=0),"
            " (SELECT COUNT(*) FROM login_failures WHERE address=? AND at>=? AND trusted=0),"
            " (SELECT COUNT(*) FROM login_failures WHERE email=? AND device=? AND device<>'' AND at>=?)",
            (email, since, address, since, email, device, since))
        return LoginFailures(int(row[0]), int(row[1]), int(row[2]))

    async def clear_sign_in_failures(self, email: str, address: str, device: str) -> None:
        await self._write(lambda c: c.execute(
            "DELETE FROM login_failures WHERE email=? AND (address=? OR (device<>'' AND device=?))",
            (email, address, device)))

    # -- sessions ------------------------------------------------------------------------------------
    async def delete_other_sessions(self, agent_id: str, keep_token_hash: str) -> None:
        await self._write(lambda c: c.execute(
            "DELETE FROM sessions WHERE agent_id=? AND token_hash<>?", (agent_id, keep_token_hash)))

    async def live_sessions(self, token_hashes: list[str], now: int) -> set[str]:
        out: set[str] = set()
        for start in range(0, len(token_hashes), 500):  # SQLite's bound-parameter limit, with room
            chunk = token_hashes[start:start + 500]
            rows = await self._all(
                "SELECT s.token_hash FROM sessions s JOIN agents a ON a.id=s.agent_id "
                f"WHERE s.token_hash IN ({','.join('?' * len(chunk))}) AND s.expires_at>? AND a.disabled=0",
                (*chunk, now))
            out.update(r[0] for r in rows)
        return out

    # -- pending invitations -------------------------------------------------------------------------
    async def list_invites(self, now: int, *, site_id: str | None = None, email: str | None = None) -> list[Invite]:
        where, params = ["expires_at>?"], [now]
        if site_id is not None:
            where.append("site_id=?")
            params.append(site_id)  # type: ignore[arg-type]
        if email is not None:
            where.append("email=?")
            params.append(email)  # type: ignore[arg-type]
        rows = await self._all(
            f"SELECT {_INVITE_COLS} FROM invites WHERE {' AND '.join(where)} ORDER BY created_at, id", params)
        return [_invite_of(r) for r in rows]

    async def get_invite_by_id(self, invite_id: str, now: int) -> Invite | None:
        row = await self._one(f"SELECT {_INVITE_COLS} FROM invites WHERE id=? AND expires_at>?", (invite_id, now))
        return _invite_of(row) if row else None

    async def delete_invite_by_id(self, invite_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM invites WHERE id=?", (invite_id,)).rowcount > 0

        return await self._write(job)


def _invite_of(row: Any) -> Invite:
    return Invite(row[0], row[1], ROLE[row[2]], row[3], row[4], row[5], row[6])

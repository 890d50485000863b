"""A site's team, as a service: its members and their seats, roles, disabling, the ownership handed over,
and the load each carries. The rules it is asked to apply live in members.py (pure, no I/O); this module
gathers the facts and writes what they allow.
"""

from __future__ import annotations

from papote.errors import NotFound
from papote.members import Seat
from papote.store import Agent, Membership, Store
from papote.types import Role


class Team:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def members(self, site_id: str) -> list[tuple[Agent, Membership]]:
        return await self.store.team(site_id)

    async def seats(self, site_id: str) -> dict[str, Seat]:
        """Every member's seat, read fresh (a role may have changed since sign-in)."""
        return {a.id: Seat(a.id, Role(m.role), m.disabled) for a, m in await self.store.team(site_id)}

    async def seat_of(self, site_id: str, agent_id: str) -> tuple[Seat, dict[str, Seat]]:
        """`agent_id`'s own seat and everyone's; not a member is `not_found` (the site is not theirs to see)."""
        seats = await self.seats(site_id)
        mine = seats.get(agent_id)
        if mine is None:
            raise NotFound("no such site")
        return mine, seats

    async def memberships(self, agent_id: str) -> list[Membership]:
        return await self.store.memberships(agent_id)

    async def role_of(self, agent_id: str, site_id: str) -> Role | None:
        return {m.site_id: m.role for m in await self.store.memberships(agent_id)}.get(site_id)

    async def set_role(self, site_id: str, agent_id: str, role: Role | None) -> None:
        """Grant `role` on the site, or (None) remove the member."""
        await self.store.set_membership(site_id, agent_id, role)

    async def set_disabled(self, site_id: str, agent_id: str, disabled: bool) -> None:
        await self.store.set_member_disabled(site_id, agent_id, disabled)

    async def transfer(self, site_id: str, owner_id: str, to_id: str) -> None:
        """The member `to_id` becomes owner, and the owner an admin. The new owner is promoted before
        the old one steps down, so the site is never without an owner."""
        await self.store.set_membership(site_id, to_id, Role.OWNER)
        await self.store.set_membership(site_id, owner_id, Role.ADMIN)

    async def loads(self, agent_ids: list[str]) -> dict[str, int]:
        """Open conversations assigned to each agent."""
        return await self.store.agent_loads(agent_ids)

    async def names(self, site_id: str) -> dict[str, str]:
        """Display names of the site's agents, by id (a report names the agents it counts)."""
        return {a.id: a.name for a, _ in await self.store.list_agents(site_id)}

"""Invitations to a site's team: who may invite whom, and what accepting does.

An owner or admin invites an email with a role (admin or agent, up to their own rank) and gets a
one-time token. Only its digest is stored. An invitation works while it is unexpired, unused, and its
author still holds a role at least as high as the one it grants on the site: a disabled or demoted
author's invitations die with their power. Accepting never lowers a role the agent already holds, and
joining a site always takes the account's own consent: nobody is made a member by someone else.
"""

from __future__ import annotations

from papote.errors import Conflict, NotFound, PapoteError
from papote.ids import digest, new_id, new_secret, now_ms
from papote.members import check_grant
from papote.store import Invite, Store
from papote.types import Role

#: An invitation link works for a week: long enough for a weekend, short enough to expire if forwarded.
INVITE_TTL_MS = 7 * 24 * 3600 * 1000


class Invites:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, site_id: str, email: str, role: Role, author_id: str) -> tuple[Invite, str]:
        """A new invitation and its one-time token. Who is on the team is no secret to its admins (they
        list it); whether an email has an account elsewhere is, so only the site's own members are told
        apart (`conflict`)."""
        if any(a.email == email for a, _ in await self.store.team(site_id)):
            raise Conflict("this email is already a member of the site")
        token = new_secret("inv")
        now = now_ms()
        invite = Invite(site_id, email, role, author_id, now + INVITE_TTL_MS, new_id("i"), now)
        await self.store.create_invite(digest(token), invite)
        return invite, token

    async def of_site(self, site_id: str) -> list[Invite]:
        """The site's pending invitations (unexpired, unused)."""
        return await self.store.list_invites(now_ms(), site_id=site_id)

    async def to_email(self, email: str) -> list[Invite]:
        return await self.store.list_invites(now_ms(), email=email)

    async def by_id(self, invite_id: str) -> Invite | None:
        return await self.store.get_invite_by_id(invite_id, now_ms())

    async def withdraw(self, invite: Invite) -> None:
        await self.store.delete_invite_by_id(invite.id)

    async def live(self, token: str) -> Invite:
        """The invitation behind `token`, if it still works; else `not_found`."""
        invite = await self.store.get_invite(digest(token), now_ms())
        if invite is not None and await self.author_may_grant(invite):
            return invite
        raise NotFound("this invitation has expired or was withdrawn")

    async def author_may_grant(self, invite: Invite) -> bool:
        author = await self.store.get_agent(invite.created_by)
        if author is None or author.disabled:
            return False
        held = {m.site_id: m.role for m in await self.store.memberships(author.id)}.get(invite.site_id)
        if held is None:
            return False
        try:
            check_grant(Role(held), Role(invite.role))
        except PapoteError:
            return False
        return True

    async def accept(self, invite: Invite, agent_id: str, *, token: str | None = None) -> None:
        """`agent_id` joins the site with the invitation's role (never lowering one it holds), and the
        invitation is used up: by its token when the acceptance came with it, else by its id."""
        current = {m.site_id: m.role for m in await self.store.memberships(agent_id)}.get(invite.site_id)
        if current is None or Role(invite.role).rank > Role(current).rank:
            await self.store.set_membership(invite.site_id, agent_id, Role(invite.role))
        if token is None:
            await self.store.delete_invite_by_id(invite.id)
        else:
            await self.store.delete_invite(digest(token))

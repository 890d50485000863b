"""Who may do what to whom on a site's team: pure rules, no I/O (the routes gather the facts, then ask).

The ranks are owner > admin > agent. The rules, in the words of docs/operations.md ("Security model"):

- nobody acts on a member of equal or higher rank: an admin manages agents, an owner manages admins and
  agents, and nobody changes their own role or disables themselves;
- a role is granted up to the granter's own rank, and never `owner`: ownership moves only when an owner
  hands it over (`transfer`), so a site always has the owner its owner chose;
- the last owner of a site can be neither removed, disabled nor demoted (not even by the CLI);
- anyone may leave a site, except its last owner.

Every refusal is `Forbidden` with a sentence saying which rule applied; what a principal may not *see*
(another site, no membership) is answered `NotFound` before these rules are asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from papote.errors import ErrorCode, Forbidden, PapoteError
from papote.types import Role

#: The roles an invitation or a role change may grant: `owner` only moves by transfer.
GRANTABLE = (Role.ADMIN, Role.AGENT)


@dataclass(frozen=True)
class Seat:
    """One member of a site as the rules see it."""

    agent_id: str
    role: Role
    disabled: bool = False


def parse_role(value: object) -> Role:
    try:
        return Role(value if isinstance(value, str) else "")
    except ValueError:
        raise PapoteError("role must be owner, admin or agent", ErrorCode.BAD_FIELD) from None


def check_grant(actor: Role, role: Role) -> None:
    """May a member of rank `actor` grant `role` (invitation, role change)?"""
    if actor is Role.AGENT:
        raise Forbidden("this needs the admin role on the site")
    if role is Role.OWNER:
        raise Forbidden("ownership is handed over by its owner (transfer), not granted")
    if role.rank > actor.rank:
        raise Forbidden("you cannot grant a role above your own")


def check_acts_on(actor: Seat, target: Seat) -> None:
    """May `actor` change, disable, enable or remove `target`?"""
    if actor.agent_id == target.agent_id:
        raise Forbidden("you cannot change your own membership this way")
    if actor.role.rank <= target.role.rank:
        raise Forbidden(f"an {actor.role.value} cannot act on an {target.role.value}"
                        if actor.role is not Role.OWNER else "owners cannot act on each other")


def owners(seats: list[Seat]) -> int:
    return sum(1 for s in seats if s.role is Role.OWNER)


def check_change_role(actor: Seat, target: Seat, role: Role) -> None:
    check_acts_on(actor, target)
    check_grant(actor.role, role)


def check_leave(me: Seat, seats: list[Seat]) -> None:
    """May `me` leave the site (remove their own membership)?"""
    if me.role is Role.OWNER and owners(seats) <= 1:
        raise Forbidden("the last owner cannot leave: transfer ownership first")


def check_transfer(actor: Seat, target: Seat) -> None:
    """May `actor` hand ownership over to `target`? The actor becomes an admin."""
    if actor.role is not Role.OWNER:
        raise Forbidden("only an owner can hand ownership over")
    if target.agent_id == actor.agent_id:
        raise Forbidden("you already own this site")
    if target.role is Role.OWNER:
        raise Forbidden("this member is already an owner")
    if target.disabled:
        raise Forbidden("enable this member before handing ownership over")


def check_operator_role_change(target: Seat, role: Role | None, seats: list[Seat]) -> None:
    """The CLI may set any role, except that a site never loses its last owner."""
    if target.role is Role.OWNER and role is not Role.OWNER and owners(seats) <= 1:
        raise Forbidden("this is the site's last owner: make someone else owner first")

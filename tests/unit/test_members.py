"""The team rules (members.py), without a server: every pair of ranks, every act."""

from __future__ import annotations

import pytest

from papote.errors import Forbidden
from papote.members import (
    Seat,
    check_acts_on,
    check_change_role,
    check_grant,
    check_leave,
    check_operator_role_change,
    check_transfer,
)
from papote.types import Role

RANKS = [Role.AGENT, Role.ADMIN, Role.OWNER]


@pytest.mark.parametrize("actor", RANKS)
@pytest.mark.parametrize("target", RANKS)
def test_only_a_higher_rank_acts_on_a_member(actor: Role, target: Role) -> None:
    if actor.rank > target.rank:
        check_acts_on(Seat("a", actor), Seat("b", target))
    else:
        with pytest.raises(Forbidden):
            check_acts_on(Seat("a", actor), Seat("b", target))


def test_nobody_acts_on_themselves_and_owner_is_never_granted() -> None:
    with pytest.raises(Forbidden):
        check_acts_on(Seat("a", Role.OWNER), Seat("a", Role.OWNER))
    for actor in RANKS:
        with pytest.raises(Forbidden):
            check_grant(actor, Role.OWNER)
    check_grant(Role.ADMIN, Role.ADMIN)
    check_grant(Role.OWNER, Role.AGENT)
    with pytest.raises(Forbidden):
        check_grant(Role.AGENT, Role.AGENT)
    with pytest.raises(Forbidden):
        check_change_role(Seat("o", Role.OWNER), Seat("b", Role.ADMIN), Role.OWNER)


def test_the_last_owner_stays() -> None:
    one = [Seat("o", Role.OWNER), Seat("b", Role.ADMIN)]
    with pytest.raises(Forbidden):
        check_leave(one[0], one)
    check_leave(one[1], one)
    two = [*one, Seat("p", Role.OWNER)]
    check_leave(two[0], two)
    with pytest.raises(Forbidden):
        check_operator_role_change(one[0], Role.ADMIN, one)
    with pytest.raises(Forbidden):
        check_operator_role_change(one[0], None, one)
    check_operator_role_change(two[0], Role.ADMIN, two)


def test_transfer_is_an_owners_act_towards_an_active_member() -> None:
    owner, admin = Seat("o", Role.OWNER), Seat("b", Role.ADMIN)
    check_transfer(owner, admin)
    for actor, target in ((admin, owner), (owner, owner), (owner, Seat("b", Role.ADMIN, disabled=True))):
        with pytest.raises(Forbidden):
            check_transfer(actor, target)

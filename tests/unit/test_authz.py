from __future__ import annotations

import pytest

from papote.authz import Action, ConversationRef, Principal, authorize
from papote.errors import Forbidden, NotFound
from papote.types import PrincipalKind, Role

CONV = ConversationRef("c_1", "s_1", "v_1")


def visitor(vid: str = "v_1", site: str = "s_1") -> Principal:
    return Principal(PrincipalKind.VISITOR, vid, site_id=site)


def agent(roles: dict[str, Role]) -> Principal:
    return Principal(PrincipalKind.AGENT, "a_1", roles=roles)


def test_owner_visitor_may_read_write_rate() -> None:
    for action in (Action.READ, Action.WRITE, Action.RATE):
        authorize(visitor(), action, "s_1", CONV)


@pytest.mark.parametrize("principal", [visitor("v_2"), visitor(site="s_2"), agent({"s_2": Role.OWNER}),
                                       Principal(PrincipalKind.API_KEY, "k", site_id="s_2")])
def test_foreign_principals_get_not_found(principal: Principal) -> None:
    with pytest.raises(NotFound):
        authorize(principal, Action.READ, "s_1", CONV)


def test_visitor_cannot_handle_or_note() -> None:
    for action in (Action.NOTE, Action.HANDLE, Action.MANAGE_SITE):
        with pytest.raises(NotFound):
            authorize(visitor(), action, "s_1", CONV)


def test_agent_roles() -> None:
    authorize(agent({"s_1": Role.AGENT}), Action.HANDLE, "s_1", CONV)
    with pytest.raises(Forbidden):
        authorize(agent({"s_1": Role.AGENT}), Action.MANAGE_SITE, "s_1")
    authorize(agent({"s_1": Role.ADMIN}), Action.MANAGE_SITE, "s_1")


def test_conversation_of_another_site_is_not_found_even_for_its_agents() -> None:
    with pytest.raises(NotFound):
        authorize(agent({"s_2": Role.OWNER}), Action.READ, "s_2", CONV)

"""The one authorization function. Every read and write, over WebSocket or HTTP, goes through `authorize`.

A principal that may not *see* a conversation (another visitor's, another site's) gets `NotFound`, exactly
what a conversation that does not exist gives: ids are unguessable and existence leaks nothing. A principal
that may see it but not do the action gets `Forbidden`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from papote.errors import Forbidden, NotFound
from papote.types import AuthorKind, PrincipalKind, Role


class Action(Enum):
    READ = "read"  # history, typing, read marks
    WRITE = "write"  # send a text message
    NOTE = "note"  # private notes
    RATE = "rate"  # the visitor's rating of a closed conversation
    HANDLE = "handle"  # claim, assign, transfer, close, reopen, label
    VIEW_SITE = "view_site"  # inbox, reports, canned responses
    MANAGE_SITE = "manage_site"  # settings, secrets, agents, API keys
    PRIVACY = "privacy"  # export and erase a visitor, run the retention now
    AUDIT = "audit"  # read the audit log


#: The least role each site-level action needs.
_SITE_ROLE = {
    Action.READ: Role.AGENT,
    Action.WRITE: Role.AGENT,
    Action.NOTE: Role.AGENT,
    Action.HANDLE: Role.AGENT,
    Action.VIEW_SITE: Role.AGENT,
    Action.MANAGE_SITE: Role.ADMIN,
    Action.PRIVACY: Role.ADMIN,
    Action.AUDIT: Role.OWNER,
}
_VISITOR_ACTIONS = {Action.READ, Action.WRITE, Action.RATE}
_API_KEY_ACTIONS = {Action.READ, Action.WRITE, Action.NOTE, Action.HANDLE, Action.VIEW_SITE}


@dataclass(frozen=True)
class ConversationRef:
    """The immutable part of a conversation that authorization needs (cacheable)."""

    id: str
    site_id: str
    visitor_id: str


@dataclass
class Principal:
    kind: PrincipalKind
    id: str
    name: str = ""
    site_id: str | None = None  # a visitor's or an API key's one site
    roles: dict[str, Role] = field(default_factory=dict)  # an agent's sites
    avatar: str | None = None

    @property
    def author_kind(self) -> AuthorKind:
        """How this principal's messages are stored: an API key writes as an agent."""
        if self.kind is PrincipalKind.VISITOR:
            return AuthorKind.VISITOR
        if self.kind is PrincipalKind.SYSTEM:
            return AuthorKind.SYSTEM
        return AuthorKind.AGENT

    def author(self) -> dict[str, Any]:
        return {"kind": self.kind.value if self.kind is not PrincipalKind.API_KEY else "agent",
                "id": self.id, "name": self.name, "avatar": self.avatar}

    @property
    def site_ids(self) -> list[str]:
        if self.kind is PrincipalKind.AGENT:
            return list(self.roles)
        return [self.site_id] if self.site_id else []


def authorize(
    principal: Principal, action: Action, site_id: str, conversation: ConversationRef | None = None
) -> None:
    """Raise NotFound or Forbidden unless `principal` may do `action` on the site (and conversation)."""
    if conversation is not None and conversation.site_id != site_id:
        raise NotFound()
    kind = principal.kind
    if kind is PrincipalKind.SYSTEM:
        return
    if kind is PrincipalKind.VISITOR:
        if principal.site_id != site_id:
            raise NotFound()
        if conversation is not None and conversation.visitor_id != principal.id:
            raise NotFound()
        if action not in _VISITOR_ACTIONS:
            raise NotFound()
        return
    if kind is PrincipalKind.API_KEY:
        if principal.site_id != site_id:
            raise NotFound()
        if action not in _API_KEY_ACTIONS:
            raise Forbidden("API keys cannot do that")
        return
    role = principal.roles.get(site_id)
    if role is None or action is Action.RATE:
        raise NotFound()
    if role.rank < _SITE_ROLE[action].rank:
        raise Forbidden(f"this needs the {_SITE_ROLE[action].value} role on the site")

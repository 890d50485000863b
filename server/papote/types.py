"""The vocabulary of Papote, shared by every layer (kept deliberately tiny).

The enums are `StrEnum`s: they compare equal to, format as and are stored as their plain values."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

#: A decoded MessagePack frame, before or after validation.
Frame = dict[str, Any]
#: Milliseconds since the Unix epoch, UTC: the only time format on the wire and in the store.
Millis = int


class PrincipalKind(StrEnum):
    """Who is acting: the authorization function decides on (site, conversation, principal)."""

    VISITOR = "visitor"
    AGENT = "agent"
    API_KEY = "api_key"
    SYSTEM = "system"


class ConversationStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class AuthorKind(StrEnum):
    """Who wrote a message, as stored and as on the wire (an API key writes as an agent)."""

    VISITOR = "visitor"
    AGENT = "agent"
    SYSTEM = "system"
    BOT = "bot"  # the site's bot (bot/): it speaks for the site, never counts as a first response


class MessageKind(StrEnum):
    TEXT = "text"
    NOTE = "note"  # private to agents; never reaches a visitor
    EVENT = "event"  # a state change, in the same seq stream so resume replays it


class Role(StrEnum):
    """An agent's role on one site; each includes the powers of the ones below it."""

    AGENT = "agent"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return {"agent": 0, "admin": 1, "owner": 2}[self.value]


class AgentStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"

"""The vocabulary of Papote, shared by every layer (kept deliberately tiny)."""

from __future__ import annotations

from enum import Enum
from typing import Any

#: A decoded MessagePack frame, before or after validation.
Frame = dict[str, Any]
#: Milliseconds since the Unix epoch, UTC: the only time format on the wire and in the store.
Millis = int


class PrincipalKind(str, Enum):
    """Who is acting: the authorization function decides on (site, conversation, principal)."""

    VISITOR = "visitor"
    AGENT = "agent"
    API_KEY = "api_key"
    SYSTEM = "system"


class ConversationStatus(str, Enum):
    OPEN = "open"
    CLOSED = "closed"


class MessageKind(str, Enum):
    TEXT = "text"
    NOTE = "note"  # private to agents; never reaches a visitor
    EVENT = "event"  # a state change, in the same seq stream so resume replays it


class Role(str, Enum):
    """An agent's role on one site; each includes the powers of the ones below it."""

    AGENT = "agent"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return {"agent": 0, "admin": 1, "owner": 2}[self.value]


class AgentStatus(str, Enum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"

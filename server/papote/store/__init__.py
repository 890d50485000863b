"""The Store interface: everything Papote keeps, behind one narrow async API.

`SqliteStore` (store/sqlite.py) is the embedded default. A PostgreSQL store implements the same class for
several server nodes; nothing above this package knows which one runs. Records are plain dataclasses.

Every write that a client will be told about is committed before the call returns: `append` returning
means the message is on disk, so the caller may send `ack`.
"""

from __future__ import annotations

import abc
import asyncio
from dataclasses import dataclass, field
from typing import Any

from papote.types import Millis


@dataclass(slots=True)
class Site:
    id: str
    key: str
    name: str
    origins: list[str]
    secrets: list[str]
    settings: dict[str, Any]
    created_at: Millis


@dataclass(slots=True)
class Agent:
    id: str
    email: str
    name: str
    password_hash: str
    avatar: str | None
    disabled: bool
    status: str
    capacity: int
    last_assigned_at: Millis
    created_at: Millis


@dataclass(slots=True)
class Membership:
    site_id: str
    agent_id: str
    role: str


@dataclass(slots=True)
class Visitor:
    id: str
    site_id: str
    user_id: str | None
    name: str
    email: str
    verified: bool
    attributes: dict[str, Any]
    page: dict[str, Any]
    pages: list[dict[str, Any]]
    device: dict[str, Any]
    created_at: Millis
    last_seen: Millis


@dataclass(slots=True)
class Conversation:
    id: str
    site_id: str
    visitor_id: str
    status: str
    assignee_id: str | None
    last_seq: int
    labels: list[str]
    contact_email: str
    rating: int | None
    rating_comment: str
    created_at: Millis
    updated_at: Millis
    assigned_at: Millis | None
    first_response_at: Millis | None
    closed_at: Millis | None


@dataclass(slots=True)
class Message:
    conversation_id: str
    seq: int
    kind: str
    author_kind: str
    author_id: str
    author_name: str
    client_msg_id: str | None
    body: str
    event: str | None
    data: dict[str, Any] | None
    created_at: Millis


@dataclass(slots=True)
class NewMessage:
    """What `append` stores. With `conversation_id=None` a conversation is created for the visitor."""

    site_id: str
    conversation_id: str | None
    author_kind: str
    author_id: str
    author_name: str
    kind: str
    body: str
    client_msg_id: str | None = None
    event: str | None = None
    data: dict[str, Any] | None = None
    visitor_id: str | None = None  # needed only to create a conversation


@dataclass(slots=True)
class Appended:
    """The outcome of `append`. `duplicate` is true when a retry found the first copy."""

    message: Message
    conversation: Conversation
    duplicate: bool = False
    created: bool = False
    #: Set when a visitor's message reopened a closed conversation: the `reopened` event stored before it.
    reopened: Message | None = None


@dataclass(slots=True)
class ConversationQuery:
    site_ids: list[str]
    status: str | None = None
    assignee_id: str | None = None
    unassigned: bool = False
    visitor_id: str | None = None
    text: str | None = None
    limit: int = 50
    before_updated_at: Millis | None = None


@dataclass(slots=True)
class ApiKey:
    id: str
    site_id: str
    name: str
    created_at: Millis


@dataclass(slots=True)
class Invite:
    site_id: str
    email: str
    role: str
    created_by: str
    expires_at: Millis


@dataclass(slots=True)
class CannedResponse:
    id: str
    site_id: str
    shortcut: str
    body: str


@dataclass(slots=True)
class ReportRow:
    conversation_id: str
    assignee_id: str | None
    created_at: Millis
    assigned_at: Millis | None
    first_response_at: Millis | None
    closed_at: Millis | None
    rating: int | None


@dataclass(slots=True)
class VisitorEvent:
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    at: Millis = 0


class Store(abc.ABC):
    """Persistence for sites, people, conversations and messages. All methods are coroutine-safe."""

    epoch: str

    # -- lifecycle -----------------------------------------------------------------------------------
    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, migrate, check integrity, read the epoch."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush every pending write, then close."""

    # -- sites ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def create_site(self, name: str, origins: list[str], settings: dict[str, Any]) -> Site: ...
    @abc.abstractmethod
    async def get_site(self, site_id: str) -> Site | None: ...
    @abc.abstractmethod
    async def get_site_by_key(self, key: str) -> Site | None: ...
    @abc.abstractmethod
    async def list_sites(self, agent_id: str | None = None) -> list[Site]: ...
    @abc.abstractmethod
    async def update_site(
        self,
        site_id: str,
        *,
        name: str | None = None,
        origins: list[str] | None = None,
        secrets: list[str] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Site: ...

    # -- agents and sessions -------------------------------------------------------------------------
    @abc.abstractmethod
    async def create_agent(self, email: str, name: str, password_hash: str) -> Agent: ...
    @abc.abstractmethod
    async def get_agent(self, agent_id: str) -> Agent | None: ...
    @abc.abstractmethod
    async def get_agent_by_email(self, email: str) -> Agent | None: ...
    @abc.abstractmethod
    async def list_agents(self, site_id: str | None = None) -> list[tuple[Agent, str | None]]:
        """Agents with their role on `site_id` (or None when listing all)."""

    @abc.abstractmethod
    async def update_agent(self, agent_id: str, **changes: Any) -> Agent: ...
    @abc.abstractmethod
    async def set_membership(self, site_id: str, agent_id: str, role: str | None) -> None:
        """Grant a role on a site, or remove the agent from it with `role=None`."""

    @abc.abstractmethod
    async def memberships(self, agent_id: str) -> list[Membership]: ...
    @abc.abstractmethod
    async def record_login_failure(self, email: str, at: Millis) -> None: ...
    @abc.abstractmethod
    async def count_login_failures(self, email: str, since: Millis) -> int: ...
    @abc.abstractmethod
    async def clear_login_failures(self, email: str) -> None: ...
    @abc.abstractmethod
    async def create_session(self, token_hash: str, agent_id: str, expires_at: Millis) -> None: ...
    @abc.abstractmethod
    async def get_session(self, token_hash: str, now: Millis) -> str | None:
        """The agent id of a live session, or None."""

    @abc.abstractmethod
    async def delete_sessions(self, *, token_hash: str | None = None, agent_id: str | None = None) -> None: ...
    @abc.abstractmethod
    async def create_api_key(self, site_id: str, key_hash: str, name: str) -> ApiKey: ...
    @abc.abstractmethod
    async def get_api_key(self, key_hash: str) -> ApiKey | None: ...
    @abc.abstractmethod
    async def list_api_keys(self, site_id: str) -> list[ApiKey]: ...
    @abc.abstractmethod
    async def delete_api_key(self, site_id: str, key_id: str) -> bool: ...

    @abc.abstractmethod
    async def create_invite(self, token_hash: str, invite: Invite) -> None: ...
    @abc.abstractmethod
    async def get_invite(self, token_hash: str, now: Millis) -> Invite | None: ...
    @abc.abstractmethod
    async def delete_invite(self, token_hash: str) -> None: ...

    # -- visitors ------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def create_visitor(self, site_id: str, token_hash: str) -> Visitor: ...
    @abc.abstractmethod
    async def get_visitor(self, visitor_id: str) -> Visitor | None: ...
    @abc.abstractmethod
    async def get_visitors(self, visitor_ids: list[str]) -> dict[str, Visitor]: ...
    @abc.abstractmethod
    async def get_visitor_by_token(self, site_id: str, token_hash: str) -> Visitor | None: ...
    @abc.abstractmethod
    async def get_visitor_by_user(self, site_id: str, user_id: str) -> Visitor | None: ...
    @abc.abstractmethod
    async def update_visitor(self, visitor_id: str, **changes: Any) -> Visitor: ...
    @abc.abstractmethod
    async def add_visitor_token(self, visitor_id: str, token_hash: str) -> None: ...
    @abc.abstractmethod
    async def delete_visitor_token(self, token_hash: str) -> None: ...
    @abc.abstractmethod
    async def merge_visitor(self, from_id: str, into_id: str) -> None:
        """Move every conversation of `from_id` to `into_id` (an anonymous visitor who identified)."""

    @abc.abstractmethod
    async def add_visitor_event(self, visitor_id: str, event: VisitorEvent) -> None: ...
    @abc.abstractmethod
    async def visitor_events(self, visitor_id: str, limit: int = 50) -> list[VisitorEvent]: ...
    @abc.abstractmethod
    async def create_link_code(self, code_hash: str, visitor_id: str, expires_at: Millis) -> None: ...
    @abc.abstractmethod
    async def take_link_code(self, code_hash: str, now: Millis) -> str | None:
        """The visitor id a live link code points to; the code is used up."""

    # -- conversations and messages -----------------------------------------------------------------
    @abc.abstractmethod
    def append_nowait(self, new: NewMessage) -> asyncio.Future[Appended]:
        """Queue a message for the next seq of its conversation; the future resolves after COMMIT.

        Appends queued by one caller are stored in the order they were queued. The future fails with
        NotFound for an unknown conversation, and Conflict when `client_msg_id` was already used by
        this author with another body.
        """

    async def append(self, new: NewMessage) -> Appended:
        """`append_nowait`, awaited: committed on return."""
        return await self.append_nowait(new)

    @abc.abstractmethod
    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...
    @abc.abstractmethod
    async def list_conversations(self, query: ConversationQuery) -> list[Conversation]: ...
    @abc.abstractmethod
    async def update_conversation(self, conversation_id: str, **changes: Any) -> Conversation: ...
    @abc.abstractmethod
    async def assign(
        self, conversation_id: str, agent_id: str, at: Millis, *, only_if_unassigned: bool
    ) -> Conversation | None:
        """Set the assignee of an open conversation in one atomic step; None when it is closed (or,
        with `only_if_unassigned`, already taken): routing and claims race safely, across nodes too."""

    @abc.abstractmethod
    async def messages_after(
        self, conversation_id: str, after_seq: int, limit: int, *, include_notes: bool
    ) -> list[Message]: ...
    @abc.abstractmethod
    async def messages_before(
        self, conversation_id: str, before_seq: int | None, limit: int, *, include_notes: bool
    ) -> list[Message]:
        """The latest `limit` messages before `before_seq` (None: the end), oldest first."""

    @abc.abstractmethod
    async def last_messages(self, conversation_ids: list[str], *, include_notes: bool) -> dict[str, Message]:
        """The latest message of each conversation (for inbox previews), in one read."""

    @abc.abstractmethod
    async def set_read(self, conversation_id: str, participant_id: str, kind: str, seq: int) -> int:
        """Move a read position forward (never back); returns the stored read_seq."""

    @abc.abstractmethod
    async def reads(self, conversation_ids: list[str]) -> dict[str, dict[str, tuple[str, int]]]:
        """{conversation: {participant_id: (kind, read_seq)}}."""

    @abc.abstractmethod
    async def count_unread(
        self, conversation_ids: list[str], reader_kind: str, reader_id: str
    ) -> dict[str, int]: ...
    @abc.abstractmethod
    async def agent_loads(self, agent_ids: list[str]) -> dict[str, int]:
        """Open conversations assigned to each agent (routing compares them to capacity)."""

    @abc.abstractmethod
    async def queued(self, site_id: str, limit: int | None = None) -> list[Conversation]:
        """Open, unassigned conversations of a site, first come first (the first `limit` of them)."""

    @abc.abstractmethod
    async def queue_places(self, conversations: list[Conversation]) -> dict[str, int]:
        """1-based places in their site's queue of those of `conversations` that wait for an agent."""

    @abc.abstractmethod
    async def handling_times(self, site_id: str, limit: int) -> list[int]:
        """Milliseconds from assignment to close, for the site's latest closed conversations."""

    @abc.abstractmethod
    async def last_agent_for_visitor(self, visitor_id: str) -> str | None:
        """Who last handled this visitor (a returning visitor goes back to them)."""

    @abc.abstractmethod
    async def report_rows(self, site_id: str, since: Millis, until: Millis) -> list[ReportRow]: ...

    # -- canned responses ----------------------------------------------------------------------------
    @abc.abstractmethod
    async def list_canned(self, site_id: str) -> list[CannedResponse]: ...
    @abc.abstractmethod
    async def save_canned(self, site_id: str, shortcut: str, body: str) -> CannedResponse: ...
    @abc.abstractmethod
    async def delete_canned(self, site_id: str, canned_id: str) -> bool: ...

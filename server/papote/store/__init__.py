"""The Store interface: everything Papote keeps, behind one narrow async API.

`SqliteStore` (store/sqlite/) is the embedded default; `PostgresStore` (store/postgres/) serves several
server nodes. Nothing above this package knows which one runs. Records are plain dataclasses whose
status and kind fields are the enums of papote.types; changes are typed change sets (`AgentChanges`,
`ConversationChanges`, `VisitorChanges`: a field left at `KEEP` is not touched).

The rules (store/rules.py) live above the backends: this class builds new records (ids, defaults,
secrets) and plans every append (first response, reopen) before a backend stores them, and the
backends call the same rule functions for what must hold inside their transaction (a retry's dedupe).

Every write that a client will be told about is committed before the call returns: `append` returning
means the message is on disk, so the caller may send `ack`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, fields
from typing import Any

from papote.ids import new_id, now_ms
from papote.store import rules
from papote.store.bots import BotStore
from papote.store.channels import ChannelIdentity, ChannelStore
from papote.store.mail import MailStore
from papote.store.moderation import ModerationStore
from papote.store.outbox import Delivery, OutboxStore
from papote.store.privacy import PrivacyStore
from papote.store.push import PushStore
from papote.store.webhooks import WebhookStore
from papote.types import AgentStatus, AuthorKind, ConversationStatus, MessageKind, Millis, Role

#: A visitor's fired proactive rules as read back: a site has at most 50 rules at a time (sites.py), so
#: more than this only happens as rules are renamed over the years, and the oldest matter least.
MAX_FIRED_RULES = 200


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
    status: AgentStatus
    capacity: int
    last_assigned_at: Millis
    created_at: Millis


@dataclass(slots=True)
class Membership:
    site_id: str
    agent_id: str
    role: Role
    #: Disabled on this site only (by a member of higher rank); the account and its other sites go on.
    disabled: bool = False


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
    status: ConversationStatus
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
    #: Set aside by an agent until then (conversations/snooze.py); None when not snoozed, and in what the
    #: PostgreSQL store's append returns (an append never changes it; `ChatBase.snoozed` is what a
    #: visitor's message is checked against).
    snoozed_until: Millis | None = None


@dataclass(slots=True)
class Message:
    conversation_id: str
    seq: int
    kind: MessageKind
    author_kind: AuthorKind
    author_id: str
    author_name: str
    client_msg_id: str | None
    body: str
    event: str | None
    data: dict[str, Any] | None
    created_at: Millis
    #: The files sent with the message, as clients see them (`rules.attachment_view`), in the order
    #: sent. The message's `data` names them (`{"attachments": [id, …]}`, kept by `append` like any
    #: data); the reads fill this from the attachments table. Empty for most messages.
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Attachment:
    """A file uploaded to a site, bound to the message it was sent with (channels will bind theirs the
    same way: an inbound email's files belong to the message its provider id names).

    Uploaded first, on its own (`uploader_id` may send it), then claimed by the uploader's
    `client_msg_id` just before the append, and bound to the message's (conversation, seq) once it is
    committed. Never claimed within a while, it is deleted (`stale_attachments`)."""

    id: str
    site_id: str
    uploader_kind: AuthorKind
    uploader_id: str
    #: "image" (re-encoded, with a thumbnail and dimensions; shown inline) or "file" (downloaded).
    kind: str
    content_type: str
    size: int
    name: str
    storage_key: str
    thumbnail_key: str | None
    width: int | None
    height: int | None
    created_at: Millis
    client_msg_id: str | None = None
    conversation_id: str | None = None
    seq: int | None = None


@dataclass(slots=True)
class NewMessage:
    """What `append` stores. With `conversation_id=None` a conversation is created for the visitor."""

    site_id: str
    conversation_id: str | None
    author_kind: AuthorKind
    author_id: str
    author_name: str
    kind: MessageKind
    body: str
    client_msg_id: str | None = None
    event: str | None = None
    data: dict[str, Any] | None = None
    visitor_id: str | None = None  # needed only to create a conversation
    #: The id the conversation this message creates takes (`conversation_id=None`), instead of a fresh
    #: one. When that conversation exists already — created by a first message racing this one, on this
    #: node or another — this message joins it (it must be the same visitor's, else `NotFound`): so the
    #: first messages of a customer that arrive at once on several nodes open one conversation (a
    #: channel's newcomer, a new mail contact: `ids.first_conversation_id`).
    new_conversation_id: str | None = None
    #: Outbound deliveries of this message (a reply on a messaging channel), stored in the append's own
    #: transaction with the seq it takes: a committed message always has its sends queued. A retry (the
    #: same client_msg_id) stores none again.
    deliveries: list[Delivery] = field(default_factory=list)


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
    status: ConversationStatus | None = None
    assignee_id: str | None = None
    unassigned: bool = False
    visitor_id: str | None = None
    text: str | None = None
    limit: int = 50
    before_updated_at: Millis | None = None
    #: True: only the snoozed ones; False: none of them; None: either.
    snoozed: bool | None = None


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
    role: Role
    created_by: str
    expires_at: Millis
    id: str = ""
    created_at: Millis = 0


@dataclass(slots=True)
class LoginFailures:
    """Failed sign-ins in the lockout window, counted three ways."""

    account: int  # for this email, from devices it does not trust
    address: int  # from this client address, to any email, from untrusted devices
    device: int  # for this email, from this very device


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


@dataclass(slots=True)
class EmailCandidate:
    """A conversation with messages past its email cursor, whose visitor left an address."""

    conversation: Conversation
    visitor: Visitor
    emailed_seq: int
    #: The visitor's read position in the conversation.
    read_seq: int = 0


class Keep(enum.Enum):
    """The value of a change-set field that is not to change (None is a value: it clears a column)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def changed(changes: AgentChanges | ConversationChanges | VisitorChanges) -> dict[str, Any]:
    """{column: new value} of the fields a change set touches, in declaration order."""
    out: dict[str, Any] = {}
    for f in fields(changes):
        value = getattr(changes, f.name)
        if value is not KEEP:
            out[f.name] = value
    return out


@dataclass(slots=True)
class AgentChanges:
    name: str | Keep = KEEP
    email: str | Keep = KEEP
    password_hash: str | Keep = KEEP
    avatar: str | Keep | None = KEEP
    disabled: bool | Keep = KEEP
    status: AgentStatus | Keep = KEEP
    capacity: int | Keep = KEEP
    last_assigned_at: Millis | Keep = KEEP


@dataclass(slots=True)
class ConversationChanges:
    status: ConversationStatus | Keep = KEEP
    assignee_id: str | Keep | None = KEEP
    labels: list[str] | Keep = KEEP
    contact_email: str | Keep = KEEP
    rating: int | Keep | None = KEEP
    rating_comment: str | Keep = KEEP
    assigned_at: Millis | Keep | None = KEEP
    closed_at: Millis | Keep | None = KEEP
    updated_at: Millis | Keep = KEEP
    visitor_id: str | Keep = KEEP
    snoozed_until: Millis | Keep | None = KEEP
    #: The conversation's last seq when it was snoozed: its visitor's next message wakes it.
    snoozed_seq: int | Keep | None = KEEP


@dataclass(slots=True)
class VisitorChanges:
    """`page` is the page being visited: the backend also extends the trail (`rules.visited`)."""

    name: str | Keep = KEEP
    email: str | Keep = KEEP
    verified: bool | Keep = KEEP
    attributes: dict[str, Any] | Keep = KEEP
    page: dict[str, Any] | Keep = KEEP
    device: dict[str, Any] | Keep = KEEP
    user_id: str | Keep | None = KEEP
    last_seen: Millis | Keep = KEEP


class Store(PushStore, OutboxStore, WebhookStore, ModerationStore, PrivacyStore, MailStore, ChannelStore, BotStore):
    """Persistence for sites, people, conversations and messages, the outbox of channels
    (store/outbox.py, store/webhooks.py, store/channels.py), moderation and NPS (store/moderation.py),
    what privacy needs (store/privacy.py), agents' mail (store/mail.py) and the bot's sessions
    (store/bots.py). All methods are coroutine-safe."""

    epoch: str
    #: Called on the loop once the futures of a commit's writes are resolved, so right before their
    #: callbacks run (in the loop's next round): the web layer arms its end-of-round flush of socket
    #: writes there (web/turn_writes.py), behind the acks and fan-outs those callbacks frame.
    on_settled: Callable[[], None] | None

    # -- lifecycle -----------------------------------------------------------------------------------
    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, migrate, check integrity, read the epoch."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush every pending write, then close."""

    @abc.abstractmethod
    def commit_stats(self) -> dict[str, int]:
        """How well group commit gathers, since the start: `commits` (transactions of the write path)
        and `writes` (the jobs they carried). `/healthz` shows them; the benchmarks read commits per
        message from them, each commit's fsync being the one cost no relay pays."""

    @contextlib.asynccontextmanager
    async def singleton(self, job: str) -> AsyncIterator[bool]:
        """Whether this node runs `job` now: True for one node at a time across every node sharing
        this store (the leader lock of periodic jobs). The claim lasts while the block runs.

        One SQLite file serves one process, so here it is always True; PostgreSQL holds
        `pg_try_advisory_xact_lock` in a transaction for the block (a transaction-level lock, which
        survives transaction pooling where a session lock would not)."""
        yield True

    # -- sites ---------------------------------------------------------------------------------------
    async def create_site(self, name: str, origins: list[str], settings: dict[str, Any]) -> Site:
        """A new site with a fresh public key and one freshly minted signing secret."""
        site = Site(new_id("s"), new_id("pk"), name, origins, [rules.new_site_secret()], settings, now_ms())
        await self.insert_site(site)
        return site

    @abc.abstractmethod
    async def insert_site(self, site: Site) -> None: ...
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
    async def create_agent(self, email: str, name: str, password_hash: str) -> Agent:
        """A new agent with the defaults of `rules`; Conflict when the email is taken."""
        agent = Agent(new_id("a"), email, name, password_hash, None, False, rules.DEFAULT_AGENT_STATUS,
                      rules.DEFAULT_CAPACITY, 0, now_ms())
        await self.insert_agent(agent)
        return agent

    @abc.abstractmethod
    async def insert_agent(self, agent: Agent) -> None:
        """Store a new agent; Conflict when another has the same email."""
    @abc.abstractmethod
    async def get_agent(self, agent_id: str) -> Agent | None: ...
    @abc.abstractmethod
    async def get_agent_by_email(self, email: str) -> Agent | None: ...
    async def list_agents(self, site_id: str | None = None) -> list[tuple[Agent, Role | None]]:
        """Agents with their role on `site_id` (every agent, with no role, when it is None)."""
        if site_id is None:
            return [(agent, None) for agent in await self.all_agents()]
        return list(await self.members(site_id))

    @abc.abstractmethod
    async def all_agents(self) -> list[Agent]:
        """Every agent, oldest first."""

    @abc.abstractmethod
    async def site_members(self, site_ids: list[str]) -> dict[str, list[tuple[Agent, Role]]]:
        """{site id: its active agents (not disabled there) with their role, oldest first}, in one read."""

    async def members(self, site_id: str) -> list[tuple[Agent, Role]]:
        """The agents of one site with their role."""
        return (await self.site_members([site_id]))[site_id]

    @abc.abstractmethod
    async def update_agent(self, agent_id: str, changes: AgentChanges) -> Agent: ...
    @abc.abstractmethod
    async def set_membership(self, site_id: str, agent_id: str, role: Role | None) -> None:
        """Grant a role on a site, or remove the agent from it with `role=None`."""

    @abc.abstractmethod
    async def memberships(self, agent_id: str) -> list[Membership]:
        """The agent's active memberships (a disabled one gives no access, so it is left out)."""

    @abc.abstractmethod
    async def create_session(self, token_hash: str, agent_id: str, expires_at: Millis) -> None: ...
    @abc.abstractmethod
    async def get_session(self, token_hash: str, now: Millis) -> str | None:
        """The agent id of a live session, or None."""

    @abc.abstractmethod
    async def delete_sessions(
        self, *, token_hash: str | None = None, agent_id: str | None = None, expired_at: Millis | None = None
    ) -> None:
        """Delete one session, every session of an agent, or every session expired at `expired_at`."""

    async def create_api_key(self, site_id: str, key_hash: str, name: str) -> ApiKey:
        key = ApiKey(new_id("k"), site_id, name, now_ms())
        await self.insert_api_key(key, key_hash)
        return key

    @abc.abstractmethod
    async def insert_api_key(self, key: ApiKey, key_hash: str) -> None: ...
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
    async def create_visitor(self, site_id: str, token_hash: str) -> Visitor:
        """A new anonymous visitor, found again by `token_hash`."""
        now = now_ms()
        visitor = Visitor(new_id("v"), site_id, None, "", "", False, {}, {}, [], {}, now, now)
        await self.insert_visitor(visitor, token_hash)
        return visitor

    @abc.abstractmethod
    async def insert_visitor(self, visitor: Visitor, token_hash: str) -> None: ...

    # Parts of the channel and mail contracts (store/channels.py, store/mail.py) that name this module's
    # records, declared here so that those modules need not import this one.
    @abc.abstractmethod
    async def add_channel_identity(self, identity: ChannelIdentity,
                                   visitor: tuple[Visitor, str] | None = None) -> ChannelIdentity:
        """Store a new identity, or return the one already stored for (account, address): the first
        writer wins, so two deliveries of a newcomer's first message agree on one visitor — on one node
        or several. `visitor` (the identity's new visitor and its token hash) is inserted in the same
        transaction, and only if the identity is new: the loser of a race writes nothing at all."""

    @abc.abstractmethod
    async def waiting_candidates(self, since: Millis, due: Millis, limit: int) -> list[Message]:
        """The conversations "a conversation is waiting" may be due for, oldest first: open, updated
        since `since`, never announced (`waiting_notices`), with a visitor text written since `since`
        and no agent text after it. For each, the first such text (the one the mail quotes), when it
        was written at or before `due`."""

    @abc.abstractmethod
    async def insert_visitor_once(self, visitor: Visitor, token_hash: str) -> tuple[Visitor, bool]:
        """Insert `visitor` (its name, email and device too) found by `token_hash`, unless a visitor of
        this site holds that token already: then nothing is written and that one is returned. True
        when `visitor` was inserted. For a token derived from what a customer is (a mail contact's
        address), so that their first mails arriving at once on several nodes make one visitor."""
    @abc.abstractmethod
    async def get_visitor(self, visitor_id: str) -> Visitor | None: ...
    @abc.abstractmethod
    async def get_visitors(self, visitor_ids: list[str]) -> dict[str, Visitor]: ...
    @abc.abstractmethod
    async def get_visitor_by_token(self, site_id: str, token_hash: str) -> Visitor | None: ...
    @abc.abstractmethod
    async def get_visitor_by_user(self, site_id: str, user_id: str) -> Visitor | None: ...
    @abc.abstractmethod
    async def update_visitor(self, visitor_id: str, changes: VisitorChanges) -> Visitor:
        """Apply `changes`; a `page` also extends the trail as `rules.visited` says, atomically."""
    @abc.abstractmethod
    async def add_visitor_token(self, visitor_id: str, token_hash: str) -> None: ...
    @abc.abstractmethod
    async def delete_visitor_token(self, token_hash: str) -> None: ...
    @abc.abstractmethod
    async def merge_visitor(self, from_id: str, into_id: str) -> None:
        """Move everything of `from_id` to `into_id` and delete `from_id`, in one transaction: every
        row of every table the personal-data registry says names a visitor (tokens, conversations,
        events, link codes, read positions, uploads, blocks, held messages, surveys, channel identities,
        email addresses' standing, deliveries), and the authorship of its messages — with it their
        dedupe keys, so exactly-once holds across the merge (a retried `client_msg_id` gets its first
        ack, a channel's re-delivery finds its first copy). Where a unique key would hold twice the
        kept person's row stands (a rule's first showing, the first block, the further read); a message
        or held message of `from_id` with the same key stays, without the key. Both visitors are of one
        site (the caller checks). Used by a verified identify and by an agent's explicit merge."""

    @abc.abstractmethod
    async def add_visitor_event(self, visitor_id: str, event: VisitorEvent) -> None: ...
    @abc.abstractmethod
    async def visitor_events(self, visitor_id: str, limit: int = 50) -> list[VisitorEvent]: ...
    @abc.abstractmethod
    async def mark_rule_fired(self, visitor_id: str, rule_id: str, at: Millis) -> bool:
        """Record that the site's proactive rule `rule_id` was shown to the visitor (on any of their
        devices); False when it already was (the first time is kept)."""
    @abc.abstractmethod
    async def fired_rules(self, visitor_id: str) -> list[str]:
        """The proactive rules already shown to the visitor, most recent first, at most
        `MAX_FIRED_RULES`."""
    @abc.abstractmethod
    async def create_link_code(self, code_hash: str, visitor_id: str, expires_at: Millis) -> None: ...
    @abc.abstractmethod
    async def take_link_code(self, code_hash: str, now: Millis) -> str | None:
        """The visitor id a live link code points to; the code is used up."""

    # -- attachments (papote/attachments/) -----------------------------------------------------------
    @abc.abstractmethod
    async def insert_attachment(self, attachment: Attachment) -> None: ...
    @abc.abstractmethod
    async def get_attachments(self, attachment_ids: list[str]) -> dict[str, Attachment]:
        """{id: attachment} of those that exist, in one read."""

    async def get_attachment(self, attachment_id: str) -> Attachment | None:
        return (await self.get_attachments([attachment_id])).get(attachment_id)

    @abc.abstractmethod
    async def claim_attachments(self, attachment_ids: list[str], site_id: str, uploader_id: str,
                                client_msg_id: str) -> list[str]:
        """Reserve uploads for the message `client_msg_id` of `uploader_id`, atomically, before it is
        appended; returns the ids claimed by this call (those already claimed by the same message, a
        retry, are not). NotFound when one does not exist or is another uploader's or site's (the same
        answer as a missing one); Conflict when one belongs to another message, or when this message
        already claimed a different set (a retry with other files). Nothing is claimed on a refusal."""

    @abc.abstractmethod
    async def release_attachments(self, attachment_ids: list[str], client_msg_id: str) -> None:
        """Undo `claim_attachments` for a message that was not stored (refused): the uploads may be
        sent again. Bound ones are left alone."""

    @abc.abstractmethod
    async def bind_attachments(self, attachment_ids: list[str], conversation_id: str, seq: int) -> None:
        """Key claimed uploads to their committed message (idempotent: a retry binds nothing new)."""

    @abc.abstractmethod
    async def attach_to_message(self, attachment: Attachment) -> bool:
        """Keep a file a channel fetched after its message was stored (`attachment.conversation_id` and
        `seq` name the message): the row is inserted already bound and its id appended to the message's
        `data["attachments"]`, in one transaction. False, and nothing changed, when an attachment with
        this id exists (a fetch job run twice: its id is minted when the job is queued)."""

    @abc.abstractmethod
    async def message_by_client_id(self, author_id: str, client_msg_id: str) -> tuple[str, int] | None:
        """(conversation, seq) of the message `author_id` stored under `client_msg_id`, if any."""

    @abc.abstractmethod
    async def stale_attachments(self, before: Millis, limit: int) -> list[Attachment]:
        """Unbound uploads created before `before`, oldest first (the cleanup deletes them)."""

    @abc.abstractmethod
    async def delete_attachments(self, attachment_ids: list[str]) -> None:
        """Forget these rows (their stored bytes are the caller's to delete)."""

    @abc.abstractmethod
    async def put_blob(self, key: str, data: bytes) -> None:
        """Keep bytes in the database (the attachment storage of several nodes)."""
    @abc.abstractmethod
    async def get_blob(self, key: str) -> bytes | None: ...
    @abc.abstractmethod
    async def delete_blobs(self, keys: list[str]) -> None: ...

    async def with_attachments(self, messages: list[Message]) -> list[Message]:
        """Fill `attachments` of the messages whose data names some, in one read for all of them."""
        wanted = [m for m in messages if m.data and m.data.get("attachments")]
        if wanted:
            found = await self.get_attachments([i for m in wanted for i in rules.attachment_ids(m.data)])
            for m in wanted:
                m.attachments = [rules.attachment_view(found[i]) for i in rules.attachment_ids(m.data)
                                 if i in found]
        return messages

    # -- conversations and messages -----------------------------------------------------------------
    def append_nowait(self, new: NewMessage) -> asyncio.Future[Appended]:
        """Queue a message for the next seq of its conversation; the future resolves after COMMIT.

        Appends queued by one caller are stored in the order they were queued: a connection pipelines
        its sends (it queues the next before the previous one commits) and its acks and seqs must come
        out in the order of its frames. The future fails with NotFound for an unknown conversation, and
        Conflict when `client_msg_id` was already used by this author with another body (`rules.is_retry`).
        Seqs have no holes and no duplicates: the dedupe runs before a seq is taken.
        """
        return self.queue_append(rules.plan_append(new))

    @abc.abstractmethod
    def queue_append(self, plan: rules.AppendPlan) -> asyncio.Future[Appended]:
        """Store an append as planned, with `append_nowait`'s guarantees (order per caller, after COMMIT)."""

    async def append(self, new: NewMessage) -> Appended:
        """`append_nowait`, awaited: committed on return."""
        return await self.append_nowait(new)

    @abc.abstractmethod
    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...
    @abc.abstractmethod
    async def list_conversations(self, query: ConversationQuery) -> list[Conversation]: ...
    @abc.abstractmethod
    async def update_conversation(self, conversation_id: str, changes: ConversationChanges) -> Conversation: ...
    @abc.abstractmethod
    async def wake_snoozed(self, now: Millis) -> tuple[list[Conversation], list[str]]:
        """End the snoozes that are over: their time came (`snoozed_until <= now`) or their visitor
        wrote since (a visitor message after `snoozed_seq`). Returns the conversations woken, each by
        one node only however many sweep at once, and the ids of those still snoozed."""
    @abc.abstractmethod
    async def assign(
        self, conversation_id: str, agent_id: str, at: Millis, *, only_if_unassigned: bool,
        within_capacity: int | None = None,
    ) -> Conversation | None:
        """Set the assignee of an open conversation in one atomic step; None when it is closed (or,
        with `only_if_unassigned`, already taken): routing and claims race safely, across nodes too.

        With `within_capacity`, also None unless the agent holds fewer open conversations than that:
        the agent's row is locked while counting, so two nodes routing at once cannot both fill the
        agent's last slot (the cross-node routing lock: conversation row + agent row, one transaction)."""

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
    async def quick_reply_answer(self, conversation_id: str, seq: int) -> Message | None:
        """The first visitor text after `seq` that is a tap on the quick replies of the message at `seq`
        (`data.quick_reply.seq`), or None while they are unanswered."""

    @abc.abstractmethod
    async def last_messages(self, conversation_ids: list[str], *, include_notes: bool) -> dict[str, Message]:
        """The latest text or note of each conversation (notes only with `include_notes`), in one read:
        inbox previews show what someone said, never an event (`assigned`, `closed`) that came after."""

    @abc.abstractmethod
    async def set_read(self, conversation_id: str, participant_id: str, kind: AuthorKind, seq: int) -> int:
        """Move a read position forward (never back, never past the conversation's last seq); returns
        the stored read_seq."""

    @abc.abstractmethod
    async def reads(self, conversation_ids: list[str]) -> dict[str, dict[str, tuple[str, int]]]:
        """{conversation: {participant_id: (kind, read_seq)}}."""

    async def count_unread(
        self, conversation_ids: list[str], reader_kind: AuthorKind, reader_id: str
    ) -> dict[str, int]:
        """{conversation: messages the reader has not read yet}, as `rules.counts_as_unread` counts."""
        kind, authors = rules.counts_as_unread(reader_kind)
        return await self.count_after_read(conversation_ids, reader_id, kind, authors)

    @abc.abstractmethod
    async def count_after_read(
        self, conversation_ids: list[str], reader_id: str, kind: MessageKind, authors: frozenset[AuthorKind]
    ) -> dict[str, int]:
        """{conversation: messages of `kind` by `authors` after the reader's read_seq} (0 when none)."""
    @abc.abstractmethod
    async def agent_loads(self, agent_ids: list[str]) -> dict[str, int]:
        """Open conversations assigned to each agent, the snoozed ones left out (routing compares them to
        capacity; a snoozed conversation is off its agent's plate until it comes back)."""

    @abc.abstractmethod
    async def queued(self, site_id: str, limit: int | None = None) -> list[Conversation]:
        """Open, unassigned conversations of a site, first come first (the first `limit` of them)."""

    @abc.abstractmethod
    async def queue_places(self, conversations: list[Conversation]) -> dict[str, int]:
        """1-based places in their site's queue of those of `conversations` that wait for an agent, in
        one read whatever their number (a reconnecting crowd asks for many at once)."""

    @abc.abstractmethod
    async def handling_times(self, site_id: str, limit: int) -> list[int]:
        """Milliseconds from assignment to close, for the site's latest closed conversations."""

    @abc.abstractmethod
    async def last_agent_for_visitor(self, visitor_id: str) -> str | None:
        """Who last handled this visitor (a returning visitor goes back to them)."""

    @abc.abstractmethod
    async def report_rows(self, site_id: str, since: Millis, until: Millis) -> list[ReportRow]:
        """Conversations created in [since, until), in order of creation (then of id, within one millisecond)."""

    # -- channels (the rest of the outbox contract is store/outbox.py) ---------------------------------
    @abc.abstractmethod
    async def email_candidates(self, site_ids: list[str], since: Millis, limit: int) -> list[EmailCandidate]:
        """Conversations of `site_ids` updated at or after `since` whose last seq is past their email cursor
        and whose visitor has an email (their own or the conversation's contact email), least recently
        updated first. Read through the sites' inbox index: the append path gains no index to update."""

    # -- canned responses ----------------------------------------------------------------------------
    @abc.abstractmethod
    async def list_canned(self, site_id: str) -> list[CannedResponse]: ...
    @abc.abstractmethod
    async def save_canned(self, site_id: str, shortcut: str, body: str) -> CannedResponse: ...
    @abc.abstractmethod
    async def delete_canned(self, site_id: str, canned_id: str) -> bool: ...

    # -- teams and sign-ins (docs/operations.md, "Security model") -----------------------------------
    @abc.abstractmethod
    async def team(self, site_id: str) -> list[tuple[Agent, Membership]]:
        """Every member of a site, disabled ones too (`members` gives the active ones)."""

    @abc.abstractmethod
    async def membership(self, site_id: str, agent_id: str) -> Membership | None: ...
    @abc.abstractmethod
    async def set_member_disabled(self, site_id: str, agent_id: str, disabled: bool) -> None: ...
    @abc.abstractmethod
    async def is_operator(self, agent_id: str) -> bool: ...
    @abc.abstractmethod
    async def set_operator(self, agent_id: str, operator: bool) -> None: ...
    @abc.abstractmethod
    async def operators(self) -> list[Agent]: ...
    @abc.abstractmethod
    async def trusted_device(self, token_hash: str, agent_id: str, since: Millis) -> bool:
        """Whether this device signed in to this account, and was seen since `since`."""

    @abc.abstractmethod
    async def remember_device(self, token_hash: str, agent_id: str, at: Millis, forget_before: Millis) -> None:
        """Trust the device for the account (or refresh it); forget devices unseen since `forget_before`."""

    @abc.abstractmethod
    async def record_sign_in_failure(self, email: str, address: str, device: str, trusted: bool,
                                     at: Millis) -> None: ...
    @abc.abstractmethod
    async def sign_in_failures(self, email: str, address: str, device: str, since: Millis) -> LoginFailures: ...
    @abc.abstractmethod
    async def clear_sign_in_failures(self, email: str, address: str, device: str) -> None:
        """After a success: forget this email's failures from this address or this device (only)."""

    @abc.abstractmethod
    async def delete_other_sessions(self, agent_id: str, keep_token_hash: str) -> None: ...
    @abc.abstractmethod
    async def live_sessions(self, token_hashes: list[str], now: Millis) -> set[str]:
        """Those of `token_hashes` that are unexpired sessions of enabled accounts."""

    @abc.abstractmethod
    async def list_invites(self, now: Millis, *, site_id: str | None = None,
                           email: str | None = None) -> list[Invite]:
        """Unexpired invitations of a site, or to an email."""

    @abc.abstractmethod
    async def get_invite_by_id(self, invite_id: str, now: Millis) -> Invite | None: ...
    @abc.abstractmethod
    async def delete_invite_by_id(self, invite_id: str) -> bool: ...

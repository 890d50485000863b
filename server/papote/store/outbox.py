"""What the store keeps for channels: the outbox of deliveries, and email continuation's own state.

The outbox is how anything leaves Papote for another system (an email today; a WhatsApp message or a
webhook later). A `Delivery` row is written in the same transaction as the decision that causes it, and
a worker claims due rows, sends them, and records the outcome (channels/outbox.py). Claiming leases a row
(`status=sending`, `next_attempt_at` = the lease's end): a node that dies mid-send leaves the row to be
claimed again once the lease runs out, so a crash costs at most one duplicate, never the send.

Email continuation decides per conversation, from durable state only: `emailed_seq` (a cursor like a
read position) says up to which seq the decision "email the visitor or not" was taken. A scan finds
conversations with agent messages past it; the digest's delivery row and the cursor's move are one
transaction (`advance_email_cursor`), so no crash between "decided" and "queued" can lose or double a
digest. Email addresses carry a per-site state (confirmed, pending, unsubscribed, bouncing).
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import Any

from papote.types import Millis

#: The outbox channel of the customers' files to fetch from a messaging provider: written with their
#: message, worked by channels/messaging/media.py, waited for by the webhooks (channels/webhooks/).
MEDIA_FETCH = "media"


class DeliveryStatus(str, enum.Enum):
    QUEUED = "queued"  # due at next_attempt_at
    SENDING = "sending"  # claimed; next_attempt_at is the lease's end, after which another claim may take it
    SENT = "sent"
    FAILED = "failed"  # for good: a permanent refusal, or too many attempts (`error` says which)

    def __str__(self) -> str:
        return self.value


class AddressState(str, enum.Enum):
    PENDING = "pending"  # a confirmation link was sent; nothing with content goes there before it is used
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCING = "bouncing"  # a delivery failed permanently or a bounce came back: no more mail

    def __str__(self) -> str:
        return self.value


@dataclass(slots=True)
class Delivery:
    id: str
    site_id: str
    conversation_id: str | None
    visitor_id: str
    channel: str  # "email", "webhook" or "messaging"
    #: the channel's own: for email "digest", "confirm", "reply" (email channel), "transcript", and the
    #: agents' "invite", "reset" and "waiting"; for a webhook its event type; for messaging the provider
    kind: str
    target: str  # where: an email address, a webhook endpoint's id, a messaging address
    payload: dict[str, Any]  # everything the sender needs, rendered when queued (a retry sends the same)
    status: DeliveryStatus = DeliveryStatus.QUEUED
    attempts: int = 0
    next_attempt_at: Millis = 0
    error: str = ""
    created_at: Millis = 0
    sent_at: Millis | None = None
    #: Its place among the deliveries to the same target for the same conversation, for the channels
    #: that keep order (`claim_ordered_deliveries`); 0 for those that do not.
    position: int = 0
    #: Messaging channels: the message this delivery carries, the channel account it leaves by, and the
    #: provider's id for it once accepted (its status callbacks name that id).
    seq: int | None = None
    account_id: str | None = None
    provider_msg_id: str | None = None


def sending_order(claimed: list[Delivery]) -> list[Delivery]:
    """The order a worker sends what one claim gave it: oldest first, except that a conversation's own
    deliveries go in the order of its messages (seq), and a message's in the order they were queued.

    `created_at` alone is not enough: a bot's two answers, or the text and files of one message, are
    queued within the same millisecond, and ids are random, so a customer on WhatsApp read them in
    either order. Each conversation keeps the slots its deliveries hold in the oldest-first order;
    they are filled in message order."""
    in_message_order: dict[str | None, list[Delivery]] = {}
    for delivery in sorted(claimed, key=lambda d: (-1 if d.seq is None else d.seq, d.created_at, d.id)):
        in_message_order.setdefault(delivery.conversation_id, []).append(delivery)
    turns = {cid: iter(queue) for cid, queue in in_message_order.items()}
    return [next(turns[d.conversation_id]) for d in sorted(claimed, key=lambda d: (d.created_at, d.id))]


@dataclass(slots=True)
class EmailAddress:
    site_id: str
    email: str  # case-folded
    state: AddressState
    visitor_id: str = ""
    updated_at: Millis = 0


class OutboxStore(abc.ABC):
    """The channel part of the Store contract (mixed into `Store`, which adds `email_candidates`: its
    records are the store's own)."""

    @abc.abstractmethod
    async def advance_email_cursor(self, conversation_id: str, from_seq: int, to_seq: int,
                                   delivery: Delivery | None = None) -> bool:
        """Move `emailed_seq` from `from_seq` to `to_seq` and queue `delivery`, in one transaction; False
        (and nothing written) when the cursor is no longer at `from_seq` (another node decided first)."""

    @abc.abstractmethod
    async def request_confirmation(self, address: EmailAddress, delivery: Delivery) -> bool:
        """Record a pending address and queue its confirmation mail, in one transaction; False (and
        nothing written) when the address already has a state on this site."""

    @abc.abstractmethod
    async def email_address(self, site_id: str, email: str) -> EmailAddress | None: ...

    @abc.abstractmethod
    async def set_email_state(self, site_id: str, email: str, state: AddressState, visitor_id: str = "") -> None:
        """Create or overwrite the state of an address on a site."""

    @abc.abstractmethod
    async def claim_deliveries(self, channel: str, now: Millis, lease_ms: int, limit: int) -> list[Delivery]:
        """Due deliveries (queued, or sending with an expired lease), leased to the caller until
        `now + lease_ms`, attempts counted: each to one caller only, across nodes."""

    @abc.abstractmethod
    async def finish_delivery(self, delivery_id: str, status: DeliveryStatus, at: Millis, *, error: str = "",
                              retry_at: Millis = 0, provider_msg_id: str | None = None) -> None:
        """Record an attempt's outcome: sent (with the provider's id for it, if it gave one), failed for
        good, or queued again for `retry_at`."""

    @abc.abstractmethod
    async def first_unsettled_seq(self, conversation_id: str, channel: str) -> int | None:
        """The lowest seq of the conversation with a delivery of `channel` neither sent nor failed for
        good yet; None when there is none. (Webhooks hold a message's event until the customer's files
        it came with are fetched or given up: channel "media".)"""

    @abc.abstractmethod
    async def deliveries(self, conversation_id: str) -> list[Delivery]:
        """Every delivery of a conversation, oldest first (threading reads the earlier ones)."""

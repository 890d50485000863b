"""What the store keeps for messaging channels (WhatsApp, Telegram, Twilio SMS, Messenger, Instagram).

* `ChannelAccount`: a site's account on a provider. `config` (a phone number id, a page id, a template
  name) is shown to the site's admins; `secrets` (an access token, an app secret) never leaves the
  server once saved: the API shows only `hint`, the last characters.
* `ChannelIdentity`: a customer on one account (a phone number, a Telegram chat, a page-scoped id),
  mapped to the visitor they are and the conversation their next message lands in.
* Receipts: what the provider says became of a message it accepted. States are ranked and the furthest
  wins, whatever order the callbacks arrive in (`RANK`); a callback that arrives before our own record
  of the send (the provider answered, then called back, faster than our commit) is kept until it is.

Outbound messages ride the outbox (store/outbox.py): the agent's append writes their deliveries in its
own transaction (`NewMessage.deliveries`), each naming its message's seq and its account.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from papote.types import Millis

#: Provider states as ranked: a later callback of a lower rank changes nothing. `failed` is terminal.
#: `queued` is ours (not yet accepted by the provider); `blocked` is a send refused before it left.
RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


@dataclass(slots=True)
class ChannelAccount:
    id: str
    site_id: str
    kind: str  # whatsapp | telegram | twilio | messenger | instagram
    name: str
    config: dict[str, Any]
    secrets: dict[str, str]
    created_at: Millis


@dataclass(slots=True)
class ChannelIdentity:
    account_id: str
    address: str
    site_id: str
    visitor_id: str
    conversation_id: str | None = None
    name: str = ""
    last_inbound_at: Millis = 0
    created_at: Millis = 0


@dataclass(slots=True)
class MessageDelivery:
    """Where an outbound message stands, as agents see it: `state` one of RANK's, `error` why it failed."""

    conversation_id: str
    seq: int
    channel: str  # the provider (the delivery's kind: whatsapp, telegram…)
    state: str
    error: str = ""


class ChannelStore(abc.ABC):
    """The messaging part of the Store contract (mixed into `Store`)."""

    @abc.abstractmethod
    async def insert_channel_account(self, account: ChannelAccount) -> None: ...
    @abc.abstractmethod
    async def channel_accounts(self, site_id: str) -> list[ChannelAccount]:
        """A site's accounts, oldest first."""
    @abc.abstractmethod
    async def get_channel_account(self, account_id: str) -> ChannelAccount | None: ...
    @abc.abstractmethod
    async def delete_channel_account(self, site_id: str, account_id: str) -> bool:
        """Forget an account and its identities (their visitors and conversations stay); False if none."""

    @abc.abstractmethod
    async def channel_identity(self, account_id: str, address: str) -> ChannelIdentity | None: ...
    # `add_channel_identity` is declared in papote.store (it names a Visitor).
    @abc.abstractmethod
    async def set_identity_conversation(self, account_id: str, address: str, conversation_id: str) -> None: ...
    @abc.abstractmethod
    async def touch_identity(self, account_id: str, address: str, at: Millis) -> None:
        """The customer wrote at `at`: `last_inbound_at` moves forward (never back)."""
    @abc.abstractmethod
    async def identity_of_conversation(self, conversation_id: str) -> ChannelIdentity | None:
        """The identity the conversation's customer writes from: the one naming the conversation, else
        its visitor's (a new conversation is named just after its first message is stored)."""

    @abc.abstractmethod
    async def visitor_identities(self, visitor_id: str) -> list[ChannelIdentity]:
        """Every channel identity of the visitor (a phone number, a chat…), oldest first."""
    @abc.abstractmethod
    async def find_contacts(self, site_id: str, text: str, limit: int) -> list[str]:
        """The site's visitors whose name, email, user id or channel identity (address or name) holds
        `text` (case-insensitively, literally: no wildcard), or whose id it is; most recently seen first."""

    @abc.abstractmethod
    async def record_receipt(self, account_id: str, provider_msg_id: str, state: str, error: str,
                             at: Millis) -> MessageDelivery | None:
        """Merge a provider's status callback (the furthest state wins); the message's resulting
        delivery, or None while no delivery is known under that id (the receipt is kept for it)."""

    @abc.abstractmethod
    async def record_watermark(self, account_id: str, conversation_id: str, state: str,
                               at: Millis) -> list[MessageDelivery]:
        """A receipt that names no message but a time (Messenger's "everything before this watermark"):
        merged into every reply of the conversation sent through the account at or before `at`; the
        replies whose state moved."""

    @abc.abstractmethod
    async def delivery_state(self, delivery_id: str) -> MessageDelivery | None:
        """Where one delivery's message stands (after an attempt: a receipt may have come first)."""

    @abc.abstractmethod
    async def message_deliveries(self, conversation_id: str) -> dict[int, MessageDelivery]:
        """{seq: where it stands} for a conversation's outbound messages on a messaging channel."""


def furthest(status: str, error: str, receipt: str | None, receipt_error: str) -> tuple[str, str]:
    """A message's state from our delivery's status (queued, sending, sent, failed) and the provider's
    latest receipt, if any: the furthest of the two, with the error of the one that says failed."""
    ours = {"queued": "queued", "sending": "queued", "sent": "sent", "failed": "failed"}[status]
    if receipt is None or RANK[ours] >= RANK[receipt]:
        return ours, error if ours == "failed" else ""
    return receipt, receipt_error if receipt == "failed" else ""

"""What the store keeps for mail beyond continuation (docs/channels.md): agents' own mail and email as a
channel of its own.

* Password reset links: a random token whose digest is kept with its expiry. Using one deletes it (and
  the account's other ones), sets the new password and ends every session, in one transaction: a link
  works once, and whoever held the old password is out.
* "A conversation is waiting": a `waiting_notices` row per conversation, written in the same transaction
  as the agents' deliveries, so the mail goes once per conversation however many messages follow.
* Agents' mail preferences (the "a conversation is waiting" opt-out).
* Email threads: a conversation started by mail to a site's support address, with the subject agents'
  replies answer under.

Each mail is a `Delivery` of the outbox (store/outbox.py), queued in the transaction of its cause.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from papote.store.outbox import Delivery
from papote.types import Millis


@dataclass(slots=True)
class EmailThread:
    conversation_id: str
    site_id: str
    address: str  # the customer's, case-folded: where agents' replies go
    subject: str  # the subject of the mail that started it (replies say "Re: …")
    created_at: Millis = 0


class MailStore(abc.ABC):
    """The mail part of the Store contract (mixed into `Store`)."""

    @abc.abstractmethod
    async def queue_delivery(self, delivery: Delivery) -> None:
        """Queue a delivery that has no other write to share a transaction with (an invitation's mail is
        queued after the invitation: a lost mail is re-sent by inviting again)."""

    @abc.abstractmethod
    async def create_password_reset(self, token_hash: str, agent_id: str, expires_at: Millis,
                                    delivery: Delivery) -> None:
        """Record a reset link and queue its mail, in one transaction."""

    @abc.abstractmethod
    async def password_reset_live(self, token_hash: str, now: Millis) -> bool:
        """Whether a reset link exists and has not expired (its page says so before a password is typed)."""

    @abc.abstractmethod
    async def reset_password(self, token_hash: str, now: Millis, password_hash: str) -> str | None:
        """Use a reset link: when it exists and has not expired, delete it and the account's other links,
        set the password, end every session of the account, and return the agent's id — one
        transaction. None (and nothing written) for an unknown, used or expired link."""

    @abc.abstractmethod
    async def queue_waiting_notice(self, conversation_id: str, deliveries: list[Delivery], now: Millis) -> bool:
        """Mark the conversation as announced and queue `deliveries`, in one transaction; False (and
        nothing written) when it was announced before."""

    # `waiting_candidates` is declared in papote.store (it names a Message).
    @abc.abstractmethod
    async def waiting_emails(self, agent_ids: list[str]) -> dict[str, bool]:
        """Whether each agent wants "a conversation is waiting" mail (the default: yes)."""

    @abc.abstractmethod
    async def set_waiting_emails(self, agent_id: str, on: bool) -> None: ...

    @abc.abstractmethod
    async def save_email_thread(self, thread: EmailThread) -> EmailThread:
        """Record the thread of a conversation started by mail; the one already recorded wins."""

    @abc.abstractmethod
    async def email_thread(self, conversation_id: str) -> EmailThread | None: ...

    @abc.abstractmethod
    async def email_threads(self, conversation_ids: list[str]) -> dict[str, EmailThread]: ...

"""What the store keeps for outgoing webhooks: a site's endpoints, the cursor their events are derived
by, and the log of every attempt. The deliveries are rows of the outbox (store/outbox.py).

Events are derived from the seq stream, not from memory: `webhook_cursors` says, per conversation, up to
which seq the messages were turned into deliveries. Moving the cursor and inserting the deliveries are
one transaction (`advance_webhook_cursor`, compare-and-set like the email cursor), so a crash can
neither lose an event nor queue it twice, and two nodes deriving the same conversation cannot both win.

Deliveries to one endpoint for one conversation keep their order: `claim_ordered_deliveries` claims a
delivery only when no earlier one (lower `position`) to the same target for the same conversation is
still queued or being sent.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

from papote.store.outbox import Delivery
from papote.types import Millis


@dataclass(slots=True)
class WebhookEndpoint:
    id: str
    site_id: str
    url: str
    #: The event types it receives (docs/channels.md lists them).
    events: list[str]
    secret: str  # whsec_<base64>
    description: str = ""
    #: The secret before the last rotation: it signs too (a second signature) until `previous_until`.
    previous_secret: str = ""
    previous_until: Millis = 0
    created_at: Millis = 0

    def signing_secrets(self, now: Millis) -> list[str]:
        """The secrets that sign a request sent at `now`: the current one, and the previous one while it lasts."""
        if self.previous_secret and now < self.previous_until:
            return [self.secret, self.previous_secret]
        return [self.secret]


@dataclass(slots=True)
class WebhookCandidate:
    """A conversation of a site with endpoints, with messages past its webhook cursor."""

    conversation_id: str
    site_id: str
    visitor_id: str
    last_seq: int
    cursor: int
    updated_at: Millis


@dataclass(slots=True)
class WebhookAttempt:
    delivery_id: str
    attempt: int
    at: Millis
    #: The receiver's HTTP status, or None when there was no answer.
    status_code: int | None
    latency_ms: int
    error: str = ""


@dataclass(slots=True)
class WebhookLogEntry:
    """One delivery of the log, with its attempts (oldest first)."""

    delivery: Delivery
    attempts: list[WebhookAttempt] = field(default_factory=list)


class WebhookStore(abc.ABC):
    """The webhook part of the Store contract (mixed into `Store`)."""

    @abc.abstractmethod
    async def insert_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    @abc.abstractmethod
    async def update_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        """Overwrite an endpoint's url, events, description and secrets."""

    @abc.abstractmethod
    async def delete_webhook_endpoint(self, site_id: str, endpoint_id: str) -> bool:
        """Remove an endpoint of `site_id` and every delivery to it; False if there was none."""

    @abc.abstractmethod
    async def webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    @abc.abstractmethod
    async def webhook_endpoints(self, site_id: str | None = None) -> list[WebhookEndpoint]:
        """A site's endpoints, oldest first; every site's with None."""

    @abc.abstractmethod
    async def webhook_candidates(self, site_ids: list[str], since: Millis, limit: int) -> list[WebhookCandidate]:
        """Conversations of these sites updated at or after `since` whose last seq is past their cursor,
        by `updated_at` then id."""

    @abc.abstractmethod
    async def webhook_cursor(self, conversation_id: str) -> int:
        """The conversation's webhook cursor (0 when none was written)."""

    @abc.abstractmethod
    async def advance_webhook_cursor(self, conversation_id: str, from_seq: int, to_seq: int,
                                     deliveries: list[Delivery]) -> bool:
        """Move the cursor from `from_seq` to `to_seq` and queue `deliveries`, in one transaction; False
        (and nothing written) when the cursor is no longer at `from_seq`."""

    @abc.abstractmethod
    async def claim_ordered_deliveries(self, channel: str, now: Millis, lease_ms: int, limit: int) -> list[Delivery]:
        """Like `claim_deliveries`, but only the first unfinished delivery of each (target, conversation)
        by `position`: a later one waits until the earlier is sent or has failed for good."""

    @abc.abstractmethod
    async def queue_delivery(self, delivery: Delivery) -> None:
        """Queue one more delivery (a re-send from the log)."""

    @abc.abstractmethod
    async def get_delivery(self, delivery_id: str) -> Delivery | None: ...

    @abc.abstractmethod
    async def record_webhook_attempt(self, attempt: WebhookAttempt) -> None: ...

    @abc.abstractmethod
    async def webhook_log(self, endpoint_id: str, limit: int, before: Millis | None = None) -> list[WebhookLogEntry]:
        """The deliveries to an endpoint, newest first (created before `before`), each with its attempts."""

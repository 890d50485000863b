"""What the store keeps for Web Push: the server's VAPID key pair and the agents' subscriptions.

A subscription is one browser (one device) of one agent: the push service's endpoint, the keys the
browser gave to encrypt for it, and which alerts it wants. The key pair is made once, by whichever node
starts first, and every node reads the same one (`ensure_push_keys` keeps the first pair written).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from papote.types import Millis

#: The alerts an agent may choose, per device (the columns of `push_subscriptions`).
ALERTS = ("new_conversation", "visitor_reply", "transfer", "mention")


@dataclass(slots=True)
class PushSubscription:
    id: str
    agent_id: str
    #: The push service's URL for this browser (unique: a browser re-subscribing replaces its row).
    endpoint: str
    #: The browser's P-256 public key and auth secret, base64url, as `PushSubscription.toJSON()` gives them.
    p256dh: str
    auth: str
    #: What the agent calls this device ("Phone"); shown in their list of devices.
    label: str
    new_conversation: bool
    visitor_reply: bool
    transfer: bool
    created_at: Millis
    #: Another agent mentions me in a private note.
    mention: bool = True

    def wants(self, alert: str) -> bool:
        return bool(getattr(self, alert))


@dataclass(slots=True)
class VapidKeys:
    #: The private scalar, 32 bytes base64url (never leaves the server).
    private_key: str
    #: The uncompressed public point, 65 bytes base64url: the browser's `applicationServerKey`.
    public_key: str


class PushStore(abc.ABC):
    @abc.abstractmethod
    async def ensure_push_keys(self, candidate: VapidKeys) -> VapidKeys:
        """Store `candidate` unless a pair is already stored; return the stored pair (the same on
        every node, whichever wrote first)."""

    @abc.abstractmethod
    async def save_push_subscription(self, sub: PushSubscription) -> PushSubscription:
        """Insert, or replace the row of the same endpoint (whoever had it: a browser belongs to the
        agent who signed in last); the row keeps its id when the endpoint was the same agent's."""

    @abc.abstractmethod
    async def push_subscriptions(self, agent_id: str) -> list[PushSubscription]:
        """An agent's devices, oldest first."""

    @abc.abstractmethod
    async def update_push_alerts(self, agent_id: str, sub_id: str, alerts: dict[str, bool]) -> PushSubscription | None:
        """Change the alerts named (of `ALERTS`) of one of the agent's subscriptions; None if it has no such one."""

    @abc.abstractmethod
    async def delete_push_subscription(self, agent_id: str, sub_id: str) -> bool: ...

    @abc.abstractmethod
    async def delete_push_endpoint(self, endpoint: str) -> None:
        """The push service said the endpoint is gone (404, 410)."""

    @abc.abstractmethod
    async def push_owners(self) -> set[str]:
        """The agents with at least one device: the alerts' filter before any per-message read."""

    @abc.abstractmethod
    async def push_targets(self, agent_ids: list[str], alert: str) -> list[PushSubscription]:
        """The subscriptions of these agents that want `alert`."""

"""What the email services need of their node (papote.node.Papote), as a protocol: so that they are
tested with a small stand-in, and import no node."""

from __future__ import annotations

from typing import Protocol

from papote.attachments import Attachments
from papote.bus import Bus
from papote.config import Config
from papote.connections import Hub
from papote.conversations import Chat
from papote.inbound_limits import InboundLimits
from papote.ratelimits import Budgets
from papote.store import Site, Store


class Host(Protocol):
    """What the service needs of its node (papote.node.Papote): the store, the configuration, the
    conversation service a widget send goes through, the connections, and the cached sites."""

    store: Store
    config: Config
    chat: Chat
    budgets: Budgets
    #: The inbound paths' budgets: a sender over theirs is told to retry later (451).
    inbound_limits: InboundLimits
    #: Who is connected on this node (the NPS mail goes only to a visitor who left).
    hub: Hub
    #: Where an inbound mail's files are kept (mail_files.py), and the bus that tells agents of notes.
    attachments: Attachments
    bus: Bus

    async def site_by_id(self, site_id: str) -> Site | None: ...

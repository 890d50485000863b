"""Who gets "a conversation is waiting" (channels/email/agent_mail.py `announce`), on a real store (both
backends) and the real presence table: nobody when an agent is online or answered, once per
conversation, never to an agent who turned it off."""

from __future__ import annotations

import pytest

from papote.channels.email.agent_mail import WAITING_WINDOW_MS, AgentMail
from papote.config import Config
from papote.presence import Presence
from papote.ratelimits import Budgets
from papote.store import Message, NewMessage, Site, Store
from papote.types import AgentStatus, AuthorKind, MessageKind, Role

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


class Host:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.config = Config(smtp_url="smtp://127.0.0.1:1", email_from="papote@shop.test")
        self.presence = Presence()
        self.budgets = Budgets()
        self.pokes = 0

    async def site_by_id(self, site_id: str) -> Site | None:
        return await self.store.get_site(site_id)

    def poke(self) -> None:
        self.pokes += 1


async def visitor_text(store: Store, site: Site, body: str, cid: str | None = None) -> Message:
    visitor = await store.create_visitor(site.id, f"tokenhash-{body}")
    appended = await store.append(NewMessage(site.id, cid, AuthorKind.VISITOR, visitor.id, "Ann", MessageKind.TEXT,
                                             body, f"m-{body}", visitor_id=visitor.id))
    return appended.message


async def test_who_is_told(any_store: Store) -> None:
    store = any_store
    host = Host(store)
    mail = AgentMail(host, host.poke)
    site = await store.create_site("Shop", ["https://shop.test"], {})
    lea = await store.create_agent("lea@shop.test", "Léa", "h")
    max_ = await store.create_agent("max@shop.test", "Max", "h")
    zoe = await store.create_agent("zoe@shop.test", "Zoé", "h")
    for agent in (lea, max_, zoe):
        await store.set_membership(site.id, agent.id, Role.AGENT)
    await store.set_waiting_emails(zoe.id, False)

    # Léa is online: nobody is told, and the conversation is not marked (it may be announced later).
    host.presence.connected(lea.id, AgentStatus.ONLINE.value, 5)
    first = await visitor_text(store, site, "first")
    assert await mail.announce(first) is False
    assert await store.deliveries(first.conversation_id) == []
    # Away is not online.
    host.presence.set(lea.id, AgentStatus.AWAY.value, 5)
    assert await mail.announce(first) is True
    assert sorted(d.target for d in await store.deliveries(first.conversation_id)) == [lea.email, max_.email]
    assert host.pokes == 1
    # Once per conversation.
    assert await mail.announce(first) is False
    assert len(await store.deliveries(first.conversation_id)) == 2

    # An agent answered after the visitor's text: nobody is told.
    second = await visitor_text(store, site, "second")
    await store.append(NewMessage(site.id, second.conversation_id, AuthorKind.AGENT, max_.id, "Max", MessageKind.TEXT,
                                  "On it", "m-answer"))
    assert await mail.announce(second) is False
    assert await store.deliveries(second.conversation_id) == []


async def test_a_round_decides_from_the_store_alone(any_store: Store) -> None:
    """`scan_once` needs nothing a node remembers: the conversations whose first unanswered visitor text
    waited the grace period are announced, once; others wait, or are answered, or are too old."""
    store = any_store
    host = Host(store)
    mail = AgentMail(host, host.poke)  # never observed anything: a node that just started
    grace = host.config.waiting_mail_secs * 1000
    site = await store.create_site("Shop", ["https://shop.test"], {})
    lea = await store.create_agent("lea@shop.test", "Léa", "h")
    await store.set_membership(site.id, lea.id, Role.AGENT)
    waiting = await visitor_text(store, site, "waiting")
    await store.append(NewMessage(site.id, waiting.conversation_id, AuthorKind.VISITOR, waiting.author_id, "Ann",
                                  MessageKind.TEXT, "still there?", "m-again"))
    answered = await visitor_text(store, site, "answered")
    await store.append(NewMessage(site.id, answered.conversation_id, AuthorKind.AGENT, lea.id, "Léa",
                                  MessageKind.TEXT, "Yes?", "m-yes"))
    now = waiting.created_at
    assert await mail.scan_once(now + grace - 1) == 0  # not due yet
    assert await mail.scan_once(now + grace + 10) == 1
    [sent] = await store.deliveries(waiting.conversation_id)
    assert sent.kind == "waiting" and sent.target == lea.email and "waiting" in sent.payload["text"]
    assert await store.deliveries(answered.conversation_id) == []
    assert await mail.scan_once(now + grace + 20) == 0  # once per conversation
    # A text unanswered for longer than the window is no news any more.
    late = await visitor_text(store, site, "late")
    assert await mail.scan_once(late.created_at + grace + WAITING_WINDOW_MS + 1) == 0

"""Fan-out keeps each conversation's commit order, also when one send needs more than a publish."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from papote.authz import Principal
from papote.bus.local import LocalBus
from papote.config import Config
from papote.conversations import Chat, conv_topic
from papote.presence import Presence
from papote.store import Appended, NewMessage
from papote.store.sqlite import SqliteStore
from papote.types import PrincipalKind, Role


@pytest.mark.asyncio
async def test_replies_committed_after_a_claim_wait_for_the_reply_that_started_it(store: SqliteStore) -> None:
    # One batch can hold: a reply to a waiting conversation (its fan-out goes through `finish`, which
    # starts the claim), the claim, then more replies that already see the conversation assigned. All
    # settle in one turn of the loop; the later ones used to reach the visitor first.
    site = await store.create_site("Shop", ["https://shop.test"], {})
    visitor = await store.create_visitor(site.id, "tokenhash")
    agent = await store.create_agent("a@shop.test", "Ann", "hash")
    await store.set_membership(site.id, agent.id, "agent")
    first = await store.append(NewMessage(site.id, None, "visitor", visitor.id, "", "text", "hi", "v-1",
                                          visitor_id=visitor.id))
    cid = first.message.conversation_id
    bus = LocalBus()
    chat = Chat(store, bus, Config.from_env({}), Presence())
    seen: list[int] = []
    bus.subscribe(conv_topic(cid), lambda topic, event: seen.append(event.event.seq))
    principal = Principal(PrincipalKind.AGENT, agent.id, "Ann", roles={site.id: Role.AGENT})
    waiting = await store.append(NewMessage(site.id, cid, "agent", agent.id, "Ann", "text", "hello", "a-1"))
    later = await store.append(NewMessage(site.id, cid, "agent", agent.id, "Ann", "text", "more", "a-2"))
    assert waiting.conversation.assignee_id is None
    assigned = Appended(later.message, dataclasses.replace(later.conversation, assignee_id=agent.id))

    assert chat.finish_simple(principal, waiting) is None  # needs `finish`: it starts the claim
    assert chat.finish_simple(principal, assigned) is None  # waits its turn behind it
    assert seen == []
    acks = await asyncio.gather(chat.finish(principal, assigned), chat.finish(principal, waiting))
    assert [a["seq"] for a in acks] == [later.message.seq, waiting.message.seq]
    assert seen == [waiting.message.seq, later.message.seq]
    # Once that fan-out is done, a plain reply is published at once again.
    third = await store.append(NewMessage(site.id, cid, "agent", agent.id, "Ann", "text", "again", "a-3"))
    ready = Appended(third.message, dataclasses.replace(third.conversation, assignee_id=agent.id))
    assert chat.finish_simple(principal, ready) is not None
    assert seen[-1] == third.message.seq

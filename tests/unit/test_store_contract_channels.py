"""The store contract for messaging channels (store/channels.py), run unchanged on SQLite and PostgreSQL:
accounts, identities, a reply's deliveries written in its append's transaction, and receipts where the
furthest state wins whatever the order they arrive in."""

from __future__ import annotations

import itertools

import pytest
import pytest_asyncio

from papote.errors import NotFound
from papote.ids import first_conversation_id, new_id, now_ms
from papote.store import NewMessage, Store, Visitor
from papote.store.channels import ChannelAccount, ChannelIdentity, furthest
from papote.store.outbox import Delivery, DeliveryStatus
from papote.types import AuthorKind, MessageKind

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


async def thread(store: Store) -> tuple[ChannelAccount, ChannelIdentity, str]:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    account = ChannelAccount(new_id("ch"), site.id, "whatsapp", "Support", {"phone_number_id": "123456"},
                             {"access_token": "secret-token"}, now_ms())
    await store.insert_channel_account(account)
    visitor = await store.create_visitor(site.id, "tokenhash-" + new_id("x"))
    identity = await store.add_channel_identity(ChannelIdentity(account.id, "33611", site.id, visitor.id,
                                                                created_at=now_ms()))
    first = await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, visitor.id, "Ann", MessageKind.TEXT,
                                          "hello", "whatsapp:wamid.1", visitor_id=visitor.id))
    await store.set_identity_conversation(account.id, "33611", first.conversation.id)
    return account, identity, first.conversation.id


def reply(account: ChannelAccount, identity: ChannelIdentity, cid: str) -> Delivery:
    return Delivery(new_id("d"), account.site_id, cid, identity.visitor_id, "messaging", "whatsapp", identity.address,
                    {"to": identity.address}, next_attempt_at=0, created_at=now_ms(), account_id=account.id)


async def test_accounts_and_identities(store: Store) -> None:
    account, identity, cid = await thread(store)
    assert [a.id for a in await store.channel_accounts(account.site_id)] == [account.id]
    got = await store.get_channel_account(account.id)
    assert got is not None and got.secrets == {"access_token": "secret-token"} and got.config["phone_number_id"]
    # The first writer of an identity wins: a second visitor for the same address is not stored.
    other = await store.add_channel_identity(ChannelIdentity(account.id, "33611", account.site_id, "v_other",
                                                             created_at=now_ms()))
    assert other.visitor_id == identity.visitor_id
    found = await store.identity_of_conversation(cid)
    assert found is not None and found.address == "33611"
    await store.touch_identity(account.id, "33611", 5000)
    await store.touch_identity(account.id, "33611", 4000)  # never back
    assert (await store.channel_identity(account.id, "33611")).last_inbound_at == 5000  # type: ignore[union-attr]
    assert await store.delete_channel_account("s_other", account.id) is False
    assert await store.delete_channel_account(account.site_id, account.id) is True
    assert await store.channel_identity(account.id, "33611") is None
    assert await store.channel_accounts(account.site_id) == []


async def test_a_reply_and_its_delivery_are_one_append(store: Store) -> None:
    account, identity, cid = await thread(store)
    agent = new_id("a")
    d = reply(account, identity, cid)
    new = NewMessage(account.site_id, cid, AuthorKind.AGENT, agent, "Bob", MessageKind.TEXT, "hi Ann", "r1",
                     deliveries=[d])
    appended = await store.append(new)
    [stored] = [x for x in await store.deliveries(cid) if x.channel == "messaging"]
    assert stored.seq == appended.message.seq and stored.account_id == account.id
    # A retry of the same message queues nothing more.
    again = await store.append(NewMessage(account.site_id, cid, AuthorKind.AGENT, agent, "Bob", MessageKind.TEXT,
                                          "hi Ann", "r1", deliveries=[reply(account, identity, cid)]))
    assert again.duplicate
    assert len([x for x in await store.deliveries(cid) if x.channel == "messaging"]) == 1
    assert (await store.message_deliveries(cid))[appended.message.seq].state == "queued"


async def test_receipts_in_any_order_end_at_the_furthest_state(store: Store) -> None:
    account, identity, cid = await thread(store)
    seqs = []
    for n, order in enumerate(itertools.permutations(["sent", "delivered", "read"])):
        d = reply(account, identity, cid)
        appended = await store.append(NewMessage(account.site_id, cid, AuthorKind.AGENT, "a_1", "Bob",
                                                 MessageKind.TEXT, f"m{n}", f"r{n}", deliveries=[d]))
        seqs.append(appended.message.seq)
        pid = f"wamid.{n}"
        # The first receipt beats our record of the send: kept, and applied once the send is recorded.
        assert await store.record_receipt(account.id, pid, order[0], "", 1) is None
        [claimed] = await store.claim_deliveries("messaging", now_ms(), 1000, 1)
        await store.finish_delivery(claimed.id, DeliveryStatus.SENT, now_ms(), provider_msg_id=pid)
        state = await store.delivery_state(claimed.id)
        assert state is not None and state.state == order[0] and state.seq == appended.message.seq
        assert state.channel == "whatsapp"
        for s in order[1:]:
            got = await store.record_receipt(account.id, pid, s, "", 2)
            assert got is not None and got.conversation_id == cid
        assert (await store.record_receipt(account.id, pid, "sent", "", 3)).state == "read"  # type: ignore[union-attr]
    states = await store.message_deliveries(cid)
    assert [states[s].state for s in seqs] == ["read"] * 6


async def test_a_watermark_moves_every_reply_sent_before_it(store: Store) -> None:
    account, identity, cid = await thread(store)
    seqs = []
    for n in range(3):
        appended = await store.append(NewMessage(account.site_id, cid, AuthorKind.AGENT, "a_1", "Bob",
                                                 MessageKind.TEXT, f"w{n}", f"w{n}",
                                                 deliveries=[reply(account, identity, cid)]))
        seqs.append(appended.message.seq)
        [claimed] = await store.claim_deliveries("messaging", now_ms(), 1000, 1)
        await store.finish_delivery(claimed.id, DeliveryStatus.SENT, 1000 * (n + 1), provider_msg_id=f"mid.{n}")
    moved = await store.record_watermark(account.id, cid, "read", 2000)
    assert sorted(m.seq for m in moved) == seqs[:2] and {m.state for m in moved} == {"read"}
    assert await store.record_watermark(account.id, cid, "delivered", 2000) == []  # nothing moves back
    states = await store.message_deliveries(cid)
    assert [states[s].state for s in seqs] == ["read", "read", "sent"]


async def test_the_furthest_state_rule() -> None:
    assert furthest("sending", "", None, "") == ("queued", "")
    assert furthest("sent", "", "delivered", "") == ("delivered", "")
    assert furthest("failed", "refused", None, "") == ("failed", "refused")
    assert furthest("sent", "", "failed", "131047 Re-engagement message") == ("failed", "131047 Re-engagement message")


async def test_a_newcomer_and_its_first_conversation_are_made_once(store: Store) -> None:
    """What the database arbitrates when a customer's first messages race (channels/messaging/service.py,
    channels/email/support.py): the identity with its visitor, a contact, and the first conversation."""
    site = await store.create_site("Shop", ["https://shop.test"], {})
    account = ChannelAccount(new_id("ch"), site.id, "telegram", "Bot", {}, {"bot_token": "t"}, now_ms())
    await store.insert_channel_account(account)

    def newcomer() -> tuple[ChannelIdentity, tuple[Visitor, str]]:
        now = now_ms()
        v = Visitor(new_id("v"), site.id, None, "Ann", "", False, {}, {}, [], {"channel": "telegram"}, now, now)
        return ChannelIdentity(account.id, "chat-7", site.id, v.id, None, "Ann", 0, now), (v, "channel-" + v.id)

    first_identity, first_visitor = newcomer()
    won = await store.add_channel_identity(first_identity, first_visitor)
    assert won.visitor_id == first_visitor[0].id
    stored = await store.get_visitor(won.visitor_id)
    assert stored is not None and stored.name == "Ann" and stored.device == {"channel": "telegram"}
    second_identity, second_visitor = newcomer()
    lost = await store.add_channel_identity(second_identity, second_visitor)
    assert lost.visitor_id == won.visitor_id
    assert await store.get_visitor(second_visitor[0].id) is None  # the loser wrote nothing

    # A contact found by a token derived from what they are: the second insert finds the first one.
    now = now_ms()
    bea = Visitor(new_id("v"), site.id, None, "Bea", "bea@example.test", False, {}, {}, [], {"channel": "email"},
                  now, now)
    assert await store.insert_visitor_once(bea, "contact-bea") == (bea, True)
    again = Visitor(new_id("v"), site.id, None, "Bea", "bea@example.test", False, {}, {}, [], {}, now, now)
    found, inserted = await store.insert_visitor_once(again, "contact-bea")
    assert (found.id, found.email, inserted) == (bea.id, "bea@example.test", False)
    assert await store.get_visitor(again.id) is None

    # Two first messages naming one conversation id: the first creates it, the second joins it.
    cid = first_conversation_id(won.visitor_id)

    def opening(n: int) -> NewMessage:
        return NewMessage(site.id, None, AuthorKind.VISITOR, won.visitor_id, "Ann", MessageKind.TEXT, f"hi {n}",
                          f"telegram:{n}", visitor_id=won.visitor_id, new_conversation_id=cid)

    one = await store.append(opening(1))
    two = await store.append(opening(2))
    assert (one.conversation.id, one.created, one.message.seq) == (cid, True, 1)
    assert (two.conversation.id, two.created, two.message.seq) == (cid, False, 2)
    # Another visitor naming that id does not get in.
    with pytest.raises(NotFound):
        await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, bea.id, "Bea", MessageKind.TEXT, "me too",
                                      "x:1", visitor_id=bea.id, new_conversation_id=cid))

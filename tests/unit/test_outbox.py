"""The outbox worker (channels/outbox.py) over a real SQLite store, with a scripted sender and an
injected clock: sent, retried with backoff, failed for good, and the channel told."""

from __future__ import annotations

import pytest

from papote.channels.outbox import FIRST_RETRY_MS, MAX_ATTEMPTS, DeliveryError, Outbox
from papote.ids import new_id
from papote.store import NewMessage, Store
from papote.store.outbox import Delivery, DeliveryStatus, sending_order
from papote.types import AuthorKind, MessageKind

pytestmark = pytest.mark.asyncio


async def queue(store: Store, n: int, now: int) -> str:
    site = await store.create_site("Shop", [], {})
    visitor = await store.create_visitor(site.id, "t")
    cid = (await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, visitor.id, "", MessageKind.TEXT, "hi",
                                         "m1", visitor_id=visitor.id))).conversation.id
    for i in range(n):
        d = Delivery(new_id("d"), site.id, cid, visitor.id, "email", "digest", f"u{i}@x.test", {"i": i},
                     next_attempt_at=now, created_at=now + i)
        assert await store.advance_email_cursor(cid, i, i + 1, d)
    return cid


async def test_sent_retried_and_failed(store: Store) -> None:
    now = 1_000_000
    clock = [now]
    cid = await queue(store, 3, now)
    outcomes = {"u0@x.test": None, "u1@x.test": DeliveryError("451 greylisted"),
                "u2@x.test": DeliveryError("550 no such user", permanent=True)}
    told: list[tuple[str, bool]] = []

    async def send(d: Delivery) -> None:
        failure = outcomes[d.target]
        if failure is not None:
            raise failure

    async def failed(d: Delivery, reason: str, permanent: bool) -> None:
        told.append((d.target, permanent))

    outbox = Outbox(store, "email", send, lease_ms=10_000, every_secs=1, on_failed=failed, clock=lambda: clock[0])
    assert await outbox.run_once() == 3
    rows = {d.target: d for d in await store.deliveries(cid)}
    assert rows["u0@x.test"].status is DeliveryStatus.SENT
    assert rows["u1@x.test"].status is DeliveryStatus.QUEUED and rows["u1@x.test"].error == "451 greylisted"
    wait = rows["u1@x.test"].next_attempt_at - now
    assert 0.8 * FIRST_RETRY_MS <= wait <= 1.2 * FIRST_RETRY_MS
    assert rows["u2@x.test"].status is DeliveryStatus.FAILED and told == [("u2@x.test", True)]
    assert await outbox.run_once() == 0  # the retry is not due yet

    # The greylisting relay never gives in: after MAX_ATTEMPTS the delivery fails, not permanently.
    for _ in range(MAX_ATTEMPTS - 1):
        clock[0] = (await store.deliveries(cid))[1].next_attempt_at
        assert await outbox.run_once() == 1
    last = (await store.deliveries(cid))[1]
    assert last.status is DeliveryStatus.FAILED and last.attempts == MAX_ATTEMPTS
    assert told == [("u2@x.test", True), ("u1@x.test", False)]


async def test_a_conversations_deliveries_are_sent_in_message_order_whatever_their_ids() -> None:
    """Two bot answers (seq 5 then 6), queued in the same millisecond, and a file of seq 5 queued the
    millisecond after: whatever the random ids, the customer receives 5, its file, then 6; another
    conversation's older delivery still goes first."""

    def delivery(id_: str, conversation: str, seq: int, created_at: int) -> Delivery:
        return Delivery(id_, "s_1", conversation, "v_1", "messaging", "whatsapp", "+33600000000", {},
                        created_at=created_at, seq=seq)

    other = delivery("d_z", "c_other", 1, 999)
    first, second = delivery("d_y", "c_1", 5, 1000), delivery("d_a", "c_1", 6, 1000)
    file_of_first = delivery("d_b", "c_1", 5, 1001)
    for claimed in ([second, file_of_first, first, other], [file_of_first, first, other, second]):
        assert [d.id for d in sending_order(claimed)] == ["d_z", "d_y", "d_b", "d_a"]

"""The bus codec: every domain event survives the trip to bytes and back; garbage is refused."""

from __future__ import annotations

import msgpack
import pytest

from papote.bus.codec import CodecError, decode, encode
from papote.events import (
    EVENT_TYPES,
    AttachmentsAdded,
    AvailabilityChanged,
    CacheInvalidated,
    ConversationChanged,
    DeliveryChanged,
    Event,
    Mentioned,
    MessageAppended,
    NodePresence,
    PresenceChanged,
    QueueChanged,
    ReadMarked,
    Revoked,
    Typing,
    VisitorChanged,
    VisitorErased,
    VisitorMerged,
)
from papote.store import Conversation, Message

AUTHOR = {"kind": "agent", "id": "a_1", "name": "Ann", "avatar": None}
EVENTS: list[Event] = [
    MessageAppended(Message("c_1", 7, "event", "system", "", "", None, "", "assigned",
                            {"agent": AUTHOR}, 1796300000000)),
    MessageAppended(Message("c_1", 8, "text", "visitor", "v_1", "Zoé", "m-00000001", "héllo ✓", None, None, 1)),
    ConversationChanged(Conversation("c_1", "s_1", "v_1", "open", None, 8, ["vip", "fr"], "", None, "", 1, 2,
                                     None, None, None), "pk_1", None, {"id": "v_1", "name": "Zoé",
                                                                       "email": "", "verified": True}),
    ReadMarked("c_1", AUTHOR, 8),
    Typing("c_1", AUTHOR, False),
    PresenceChanged(AUTHOR, "away", 3, 2),
    AvailabilityChanged("s_1", 0, False),
    QueueChanged("c_1", 4, None),
    VisitorChanged({"id": "v_1", "page": {"url": "https://shop.test/"}}, False, {"name": "cart", "data": {}}),
    Revoked("3f" * 32),
    Revoked(),
    NodePresence("9f" * 8, {"a_1": ["online", 3], "a_2": ["away", 5]}, 15.0),
    NodePresence("9f" * 8, {}, 15.0, True),
    CacheInvalidated("site", "s_1"),
    VisitorErased("v_1", "s_1"),
    VisitorMerged("v_1", "v_2", "s_1"),
    DeliveryChanged("c_1", 9, "whatsapp", "failed", "131047 Re-engagement message"),
    AttachmentsAdded("c_1", 4, [{"id": "at_1", "kind": "image", "content_type": "image/jpeg", "size": 10,
                                 "name": "image.jpg", "width": 2, "height": 2, "thumbnail": True}]),
    Mentioned("c_1", 5, {"kind": "agent", "id": "a_1", "name": "Léa", "avatar": None}, "@Bea can you look?"),
]


def test_every_event_type_is_covered() -> None:
    assert {type(e).__name__ for e in EVENTS} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_round_trip(event: Event) -> None:
    data = encode(event, "node1", "node1.17")
    assert decode(data) == (event, "node1", "node1.17")
    assert decode(encode(event, "n2", None)) == (event, "n2", None)


def test_a_message_publication_stays_small() -> None:
    data = encode(EVENTS[1], "0123456789abcdef", "0123456789abcdef.123")
    assert len(data) < 120  # arrays, not maps: no field names on the wire


@pytest.mark.parametrize("data", [
    b"", b"\xc1", msgpack.packb([2, "n", None, "Revoked", [None]]),
    msgpack.packb([1, "n", None, "Nope", []]), msgpack.packb([1, "n", None, "Revoked", []]),
    msgpack.packb([1, 5, None, "Revoked", [None]]), msgpack.packb({"a": 1}),
    msgpack.packb([1, "n", None, "MessageAppended", [["c_1", 1]]]),
])
def test_garbage_is_refused_with_a_codec_error(data: bytes) -> None:
    with pytest.raises(CodecError):
        decode(data)

"""Per-audience rendering of domain events, without sockets: who sees what is a rule of frames.py."""

from __future__ import annotations

import pytest

from papote.authz import Principal
from papote.bus import BusEvent
from papote.bus.local import LocalBus
from papote.connections import Connection, Hub, rendered
from papote.events import (
    AttachmentsAdded,
    AvailabilityChanged,
    ConversationChanged,
    DeliveryChanged,
    MessageAppended,
    PresenceChanged,
    QueueChanged,
    ReadMarked,
    Revoked,
    Typing,
    VisitorChanged,
)
from papote.frames import render
from papote.protocol import Endpoint, decode
from papote.store import Conversation, Message
from papote.types import PrincipalKind, Role

AGENT, VISITOR = Endpoint.AGENT, Endpoint.VISITOR


def message(seq: int, kind: str = "text") -> Message:
    return Message("c_1", seq, kind, "agent", "a_1", "Ann", f"m-{seq:08d}", f"body {seq}", None, None, 1000)


def conversation() -> Conversation:
    return Conversation("c_1", "s_1", "v_1", "open", "a_1", 3, ["vip"], "v@shop.test", 5, "great", 1, 2, 2,
                        2, None)


def test_a_note_is_rendered_for_agents_only() -> None:
    note = MessageAppended(message(4, "note"))
    assert render(note, VISITOR) is None
    frame = render(note, AGENT)
    assert frame is not None and frame["kind"] == "note" and frame["seq"] == 4
    text = MessageAppended(message(5))
    assert render(text, VISITOR) == render(text, AGENT)


def test_a_visitor_sees_its_conversation_without_the_agents_fields() -> None:
    event = ConversationChanged(conversation(), "pk_1", {"kind": "agent", "id": "a_1", "name": "Ann",
                                                        "avatar": None},
                                {"id": "v_1", "name": "", "email": "", "verified": False})
    seen = render(event, VISITOR)
    full = render(event, AGENT)
    assert seen is not None and full is not None
    private = {"labels", "contact_email", "rating", "rating_comment", "visitor", "site_id"}
    assert not private & set(seen["conversation"])
    assert private <= set(full["conversation"])
    assert seen["conversation"]["assignee"]["name"] == "Ann"
    assert "audience" not in seen and "audience" not in full


@pytest.mark.parametrize(("event", "visitor", "agent"), [
    (ReadMarked("c_1", {"kind": "agent", "id": "a_1"}, 3), True, True),
    (Typing("c_1", {"kind": "visitor", "id": "v_1"}, True), True, True),
    (QueueChanged("c_1", 2, 60), True, False),
    (AvailabilityChanged("s_1", 1, True), True, False),
    (PresenceChanged({"kind": "agent", "id": "a_1", "name": "Ann", "avatar": None}, "online", 5, 1), False, True),
    (VisitorChanged({"id": "v_1"}, True, {"name": "cart"}), False, True),
    (Revoked(), False, False),
    (DeliveryChanged("c_1", 4, "whatsapp", "read"), False, True),
    (AttachmentsAdded("c_1", 4, []), False, True),
])
def test_each_event_has_an_audience_rule(event: object, visitor: bool, agent: bool) -> None:
    assert (render(event, VISITOR) is not None) is visitor  # type: ignore[arg-type]
    assert (render(event, AGENT) is not None) is agent  # type: ignore[arg-type]


def test_a_publication_is_encoded_once_per_audience_not_per_connection() -> None:
    published = BusEvent(MessageAppended(message(7)))
    first = rendered(published, AGENT)
    assert first is not None
    assert rendered(published, AGENT) is first
    assert rendered(published, VISITOR) is first  # a text is the same frame for both: encoded once
    note = BusEvent(MessageAppended(message(8, "note")))
    assert rendered(note, VISITOR) is None and rendered(note, AGENT) is not None


def connection(kind: PrincipalKind, endpoint: Endpoint) -> Connection:
    principal = (Principal(kind, "a_1", roles={"s_1": Role.AGENT}) if kind is PrincipalKind.AGENT
                 else Principal(kind, "v_1", site_id="s_1"))
    return Connection(principal, endpoint, 64, lambda code, reason: None)


def drained(conn: Connection) -> list[dict[str, object]]:
    out = []
    while not conn.queue.empty():
        out.append(decode(conn.queue.get_nowait(), 1 << 16))
    return out


@pytest.mark.asyncio
async def test_connections_of_both_audiences_on_one_topic_get_their_own_frames() -> None:
    bus = LocalBus()
    hub = Hub(bus)
    visitor = connection(PrincipalKind.VISITOR, VISITOR)
    agent = connection(PrincipalKind.AGENT, AGENT)
    for conn in (visitor, agent):
        hub.add(conn)
        await hub.subscribe(conn, "conv:c_1")
    bus.publish("conv:c_1", MessageAppended(message(1)))
    bus.publish("conv:c_1", MessageAppended(message(2, "note")))
    bus.publish("conv:c_1", MessageAppended(message(3)), origin=agent.id)  # the sender has its ack
    assert [f["seq"] for f in drained(visitor)] == [1, 3]
    assert [f["seq"] for f in drained(agent)] == [1, 2]


def test_publishers_are_named_by_node_and_connection() -> None:
    one, two = connection(PrincipalKind.VISITOR, VISITOR), connection(PrincipalKind.VISITOR, VISITOR)
    node, _, counter = one.id.partition(".")
    assert node and counter.isdigit() and one.id != two.id and two.id.startswith(node + ".")

"""The protocol core, without sockets: bytes in, commands and error frames out."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papote.errors import CloseCode, ErrorCode, ProtocolError
from papote.protocol import (
    CloseRequested,
    Command,
    Endpoint,
    ProtocolConnection,
    State,
    VisitorSend,
    decode,
    encode,
    frame_types,
    parse_command,
)


def pack(frame: Any) -> bytes:
    return msgpack.packb(frame, use_bin_type=True)


def opened(endpoint: Endpoint = Endpoint.VISITOR) -> ProtocolConnection:
    conn = ProtocolConnection(endpoint)
    hello = {"t": "hello", "v": 1, "site": "pk_abc"} if endpoint is Endpoint.VISITOR else {"t": "hello", "v": 1}
    conn.receive_data(pack(hello))
    [event] = conn.events_received()
    assert isinstance(event, Command) and event.type == "hello"
    return conn


def errors_sent(conn: ProtocolConnection) -> list[dict[str, Any]]:
    return [msgpack.unpackb(d) for d in conn.data_to_send()]


def test_hello_opens_the_connection() -> None:
    conn = opened()
    assert conn.state is State.OPEN


def test_first_frame_must_be_hello() -> None:
    conn = ProtocolConnection(Endpoint.VISITOR)
    conn.receive_data(pack({"t": "ping"}))
    [event] = conn.events_received()
    assert event == CloseRequested(CloseCode.BAD_HELLO, "first frame must be hello")
    assert conn.state is State.CLOSING


def test_garbage_first_frame_closes_with_bad_hello() -> None:
    conn = ProtocolConnection(Endpoint.AGENT)
    conn.receive_data(b"\xc1\xff\x00")
    [event] = conn.events_received()
    assert isinstance(event, CloseRequested) and event.code is CloseCode.BAD_HELLO


def test_unsupported_version_is_refused() -> None:
    conn = ProtocolConnection(Endpoint.AGENT)
    conn.receive_data(pack({"t": "hello", "v": 2}))
    [event] = conn.events_received()
    assert isinstance(event, CloseRequested) and event.code is CloseCode.VERSION_UNSUPPORTED


def test_send_is_validated_and_normalised() -> None:
    conn = opened()
    conn.receive_data(pack({"t": "send", "ref": 7, "client_msg_id": "m-12345678", "body": "hi", "extra": 1}))
    [cmd] = conn.events_received()
    assert cmd == VisitorSend(ref=7, conversation=None, client_msg_id="m-12345678", body="hi")
    assert cmd.type == "send"


@pytest.mark.parametrize(
    ("frame", "code", "needle"),
    [
        ({"t": "send", "client_msg_id": "m-12345678"}, ErrorCode.BAD_FIELD, "'body' is required"),
        ({"t": "send", "client_msg_id": "short", "body": "x"}, ErrorCode.BAD_FIELD, "client_msg_id"),
        ({"t": "send", "client_msg_id": "m-12345678", "body": ""}, ErrorCode.BAD_FIELD, "body"),
        ({"t": "send", "client_msg_id": "m-12345678", "body": "x" * 4001}, ErrorCode.TOO_LARGE, "body"),
        ({"t": "send", "client_msg_id": "m-12345678", "body": 42}, ErrorCode.BAD_FIELD, "body"),
        ({"t": "claim", "conversation": "c_1"}, ErrorCode.UNKNOWN_TYPE, "claim"),
        ({"t": "read", "conversation": "c_1", "seq": -1}, ErrorCode.BAD_FIELD, "seq"),
        ({"t": "read", "conversation": "c_1", "seq": True}, ErrorCode.BAD_FIELD, "seq"),
        ({"t": "resume", "epoch": "e", "conversations": {"c 1": 1}}, ErrorCode.BAD_FIELD, "conversations"),
        ({"t": "rate", "conversation": "c_1", "rating": 6}, ErrorCode.BAD_FIELD, "rating"),
        ({"t": "track", "event": "cart", "data": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}},
         ErrorCode.TOO_LARGE, "nested"),
        ({"t": "set", "attributes": {"bad key!": 1}}, ErrorCode.BAD_FIELD, "attributes"),
    ],
)
def test_bad_fields_are_answered_with_a_coded_error(frame: dict[str, Any], code: ErrorCode, needle: str) -> None:
    conn = opened()
    conn.receive_data(pack({**frame, "ref": "r1"}))
    assert conn.events_received() == []
    [error] = errors_sent(conn)
    assert error["t"] == "error" and error["code"] == code.value and error["ref"] == "r1"
    assert needle in error["message"]
    assert conn.state is State.OPEN


def test_not_a_map_and_no_type() -> None:
    conn = opened()
    conn.receive_data(pack([1, 2, 3]))
    conn.receive_data(pack({"type": "send"}))
    conn.receive_data(b"\x92")  # truncated array
    errors = errors_sent(conn)
    assert [e["code"] for e in errors] == ["bad_frame"] * 3


def test_extension_types_and_binary_are_refused() -> None:
    with pytest.raises(ProtocolError):
        decode(msgpack.packb({"t": "ping", "x": msgpack.ExtType(5, b"xx")}), 65536)
    with pytest.raises(ProtocolError):
        decode(msgpack.packb({"t": "ping", "x": b"bytes"}, use_bin_type=True), 65536)


def test_oversized_frame_is_too_large() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_command(b"\x80" * 70000, Endpoint.VISITOR, 65536)
    assert info.value.code is ErrorCode.TOO_LARGE


def test_a_second_hello_is_an_error_not_a_reset() -> None:
    conn = opened()
    conn.receive_data(pack({"t": "hello", "v": 1, "site": "pk_abc", "ref": 3}))
    assert conn.events_received() == []
    [error] = errors_sent(conn)
    assert error["ref"] == 3 and error["frame"] == "hello"


def test_too_many_errors_close_the_connection() -> None:
    conn = opened()
    for _ in range(60):
        conn.receive_data(b"\xc1")
    events = conn.events_received()
    assert events == [CloseRequested(CloseCode.RATE_LIMITED, "too many invalid frames")]
    assert conn.state is State.CLOSING


def test_agent_frames_are_not_visitor_frames() -> None:
    assert "claim" in frame_types(Endpoint.AGENT)
    assert "claim" not in frame_types(Endpoint.VISITOR)
    assert "identify" not in frame_types(Endpoint.AGENT)


def test_encode_roundtrip() -> None:
    frame = {"t": "message", "seq": 3, "body": "héllo", "data": None}
    assert msgpack.unpackb(encode(frame)) == frame


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise(data: bytes) -> None:
    conn = opened()
    conn.receive_data(data)
    for event in conn.events_received():
        assert isinstance(event, Command | CloseRequested)


_plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(frame_types(Endpoint.AGENT))), st.dictionaries(st.text(max_size=12), _plain))
def test_valid_msgpack_of_any_shape_is_answered(kind: str, fields: dict[str, Any]) -> None:
    conn = opened(Endpoint.AGENT)
    conn.receive_data(pack({**fields, "t": kind}))
    events = conn.events_received()
    sent = errors_sent(conn)
    # Either a validated command, or exactly one error frame: never an exception, never silence.
    assert len(events) + len(sent) == 1


def test_a_ref_out_of_shape_is_a_bad_field() -> None:
    conn = opened()
    conn.receive_data(pack({"t": "ping", "ref": "r" * 500}))
    assert conn.events_received() == []
    [error] = errors_sent(conn)
    assert error["code"] == "bad_field" and "ref" in error["message"] and "ref" not in error

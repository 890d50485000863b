"""Property-based fuzz of the protocol decoder: whatever bytes arrive, `ProtocolConnection` answers.

Through its public entry points only (`receive_data`, `events_received`, `data_to_send`): random bytes,
MessagePack of every shape, frames of every documented type with fields of the wrong type, size and
depth, truncated frames. Properties: nothing raises; before `hello` a bad frame ends the connection
with a close code; after it, each frame gives exactly one command or one coded `error` frame (naming
the frame's `ref` when it had a usable one), until too many errors close the connection with 4008;
after a close nothing more comes out. CI runs a few hundred sequences; `make soak` runs many more.
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papote.errors import CloseCode, ErrorCode
from papote.protocol import CloseRequested, Endpoint, ProtocolConnection, frame_types

CODES = {c.value for c in ErrorCode}
#: Sequences per endpoint: CI, then `make soak`.
SIZES = [pytest.param(300, id="ci"), pytest.param(20_000, id="soak", marks=pytest.mark.soak)]
MAX_FRAME = 4096

# MessagePack values: every type it has, including those the protocol refuses (bin, ext, huge ints).
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(), st.text(max_size=40),
    st.binary(max_size=16), st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=4)),
)
KEY = st.one_of(st.text(max_size=10), st.integers(-(2**63), 2**63 - 1))
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(KEY, inner, max_size=5)), max_leaves=20)
FIELD_NAMES = ["conversation", "client_msg_id", "body", "seq", "on", "n", "epoch", "conversations",
               "before_seq", "limit", "url", "title", "user_id", "hash", "jwt", "name", "email",
               "attributes", "event", "data", "rating", "comment", "agent", "note", "add", "remove",
               "status", "capacity", "site", "token", "page", "device", "ref", "v", "link_code"]


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def frames(endpoint: Endpoint) -> st.SearchStrategy[bytes]:
    kinds = st.one_of(st.sampled_from(sorted(frame_types(endpoint))), st.text(max_size=12), VALUE)
    fields = st.dictionaries(st.sampled_from(FIELD_NAMES), st.one_of(VALUE, st.builds(deep, st.integers(5, 120))),
                             max_size=6)
    shaped = st.builds(lambda t, f, ref: {**f, "t": t, **({"ref": ref} if ref is not None else {})},
                       kinds, fields, st.one_of(st.none(), VALUE))

    def packed(frame: Any) -> bytes:
        return msgpack.packb(frame, use_bin_type=True)  # type: ignore[no-any-return]

    return st.one_of(
        shaped.map(packed),
        VALUE.map(packed),
        st.binary(max_size=64),
        st.tuples(shaped.map(packed), st.integers(0, 40)).map(lambda p: p[0][: p[1]]),  # truncated
        st.builds(lambda n: b"\xdc" + n.to_bytes(2, "big"), st.integers(0, 65535)),  # array header, no items
        st.integers(1, 3).map(lambda n: packed({"t": "send", "body": "x" * (MAX_FRAME * n)})),  # over the limit
    )


def hello(endpoint: Endpoint) -> bytes:
    frame = {"t": "hello", "v": 1, "site": "pk_fuzz"} if endpoint is Endpoint.VISITOR else {"t": "hello", "v": 1}
    return msgpack.packb(frame)  # type: ignore[no-any-return]


def ref_of(data: bytes) -> Any:
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception:
        return None
    ref = obj.get("ref") if isinstance(obj, dict) else None
    ok = (isinstance(ref, int) and not isinstance(ref, bool) and abs(ref) <= 2**53) or (
        isinstance(ref, str) and 0 < len(ref) <= 64)
    return ref if ok else None


def check_sequence(endpoint: Endpoint, messages: list[bytes], open_first: bool) -> None:
    conn = ProtocolConnection(endpoint, max_frame_bytes=MAX_FRAME, max_body_chars=200)
    if open_first:
        conn.receive_data(hello(endpoint))
        [event] = conn.events_received()
        assert not isinstance(event, CloseRequested)
        assert conn.data_to_send() == []
    closed = False
    for i, data in enumerate(messages):
        conn.receive_data(data)  # never raises
        events = conn.events_received()
        sent = [msgpack.unpackb(d, raw=False) for d in conn.data_to_send()]
        if closed:
            assert events == [] and sent == [], "nothing comes out of a closed connection"
            continue
        closes = [e for e in events if isinstance(e, CloseRequested)]
        commands = [e for e in events if not isinstance(e, CloseRequested)]
        errors = [f for f in sent if f.get("t") == "error"]
        assert len(sent) == len(errors), f"only error frames are queued by the core: {sent}"
        for frame in errors:
            assert frame["code"] in CODES and isinstance(frame["message"], str), frame
        if not open_first and i == 0:
            # Before hello: the frame opens the connection, or ends it with a close code. No error frame.
            assert len(events) == 1 and errors == []
            if closes:
                assert closes[0].code in (CloseCode.BAD_HELLO, CloseCode.VERSION_UNSUPPORTED)
                closed = True
            continue
        assert len(commands) + len(errors) == 1, f"one answer per frame: {events} {sent}"
        if errors:
            assert errors[0].get("ref") == ref_of(data)
        if closes:
            assert closes == [CloseRequested(CloseCode.RATE_LIMITED, "too many invalid frames")] and errors
            closed = True


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("endpoint", list(Endpoint))
def test_every_frame_gets_an_answer(endpoint: Endpoint, size: int) -> None:
    @settings(max_examples=size, derandomize=size < 1000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(frames(endpoint), min_size=1, max_size=60), st.booleans())
    def run(messages: list[bytes], open_first: bool) -> None:
        check_sequence(endpoint, messages, open_first)

    run()


def test_fifty_bad_frames_close_the_connection() -> None:
    conn = ProtocolConnection(Endpoint.VISITOR)
    conn.receive_data(hello(Endpoint.VISITOR))
    conn.events_received()
    for _ in range(50):
        conn.receive_data(b"\xc1")
    assert conn.events_received() == [CloseRequested(CloseCode.RATE_LIMITED, "too many invalid frames")]
    assert len(conn.data_to_send()) == 50

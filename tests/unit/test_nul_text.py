"""A NUL (U+0000) in text: PostgreSQL's text cannot hold one, SQLite's can, so no entry point lets one
through to a store, and both backends answer alike (the store side is in test_store_contract.py).
Every refusal is `bad_field`, with nothing stored."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from papote.errors import ErrorCode, PapoteError, ProtocolError
from papote.protocol import AgentSend, Endpoint, build_command, parse_command
from papote.store.rules import NUL_REFUSED, check_storable, holds_nul
from papote.web.http import parse_json

CID = "c_0123456789"


def frame(**fields: Any) -> bytes:
    return msgpack.packb({"t": "send", "client_msg_id": "cmid-0001", "conversation": CID, **fields})


@pytest.mark.parametrize("body", ["a\x00b", "\x00", "end\x00"])
def test_a_frame_with_a_nul_is_refused(body: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_command(frame(body=body), Endpoint.VISITOR, 65536)
    assert (info.value.code, info.value.message) == (ErrorCode.BAD_FIELD, NUL_REFUSED)


def test_a_frame_with_a_zero_byte_but_no_nul_is_fine() -> None:
    # 0x00 is also how MessagePack writes the integer 0: such a frame is walked, and passes.
    data = msgpack.packb({"t": "fetch", "conversation": CID, "before": 0, "limit": 10})
    assert b"\x00" in data
    parse_command(data, Endpoint.AGENT, 65536)


def test_nul_in_a_nested_field_or_a_key() -> None:
    data = msgpack.packb({"t": "track", "name": "cart", "data": {"sku": ["a", "b\x00"]}})
    with pytest.raises(ProtocolError) as info:
        parse_command(data, Endpoint.VISITOR, 65536)
    assert info.value.code == ErrorCode.BAD_FIELD
    assert holds_nul({"k\x00": 1}) and not holds_nul({"k": [1, "x", {"y": None}]})


def test_a_json_body_with_a_nul_is_refused() -> None:
    for raw in (b'{"body": "a\\u0000b"}', b'{"a\\u0000": 1}', b'{"a": ["x", {"b": "\\u0000"}]}'):
        with pytest.raises(PapoteError) as info:
            parse_json(raw)
        assert (info.value.code, info.value.message) == (ErrorCode.BAD_FIELD, NUL_REFUSED)
    assert parse_json(b'{"body": "a\\\\u0000b"}') == {"body": "a\\u0000b"}  # an escaped backslash: no NUL


def test_a_command_built_from_fields_with_a_nul_is_refused() -> None:
    with pytest.raises(ProtocolError) as info:
        build_command(AgentSend, {"conversation": CID, "client_msg_id": "api_1234567", "body": "x\x00"}, 100)
    assert info.value.code == ErrorCode.BAD_FIELD


def test_the_rule_itself() -> None:
    check_storable("plain", None, {"a": ["b"]}, 0)
    with pytest.raises(PapoteError) as info:
        check_storable("ok", {"data": "\x00"})
    assert info.value.code == ErrorCode.BAD_FIELD

"""Every client frame type as a typed command, without sockets: valid, then each field missing, of the
wrong type and over its limit, each answered with the code docs/protocol.md §5 gives.

The cases are generated from the command classes themselves (msgspec's view of each field), so a new
frame type fails `test_every_frame_type_has_an_example` until it has a valid example here, and then gets
every case below without another line.
"""

from __future__ import annotations

from typing import Any

import msgpack
import msgspec.inspect as mi
import pytest

from papote.errors import ErrorCode, ProtocolError
from papote.protocol import (
    FRAMES,
    AgentSend,
    Command,
    Endpoint,
    Fetch,
    Status,
    Track,
    VisitorHello,
    VisitorSend,
    build_command,
    frame_type,
    frame_types,
    parse_command,
)

CID = "c_8fK2mQ9xZpL3vR7t"
#: One valid frame of every type, per endpoint, with every field it may carry.
VALID: dict[Endpoint, dict[str, dict[str, Any]]] = {
    Endpoint.VISITOR: {
        "hello": {"v": 1, "site": "pk_abc", "token": "vt_" + "a" * 20, "link_code": "LINK-1234",
                  "locale": "fr-FR", "page": {"url": "https://shop.test/", "title": "Shop", "referrer": ""},
                  "device": {"tz": "Europe/Paris", "lang": "fr", "screen": "1920x1080"}},
        "resume": {"epoch": "e_1", "conversations": {CID: 3}},
        "fetch": {"conversation": CID, "before_seq": 10, "limit": 20},
        "send": {"conversation": CID, "client_msg_id": "m-12345678", "body": "hello",
                 "quick_reply": {"seq": 3, "option": 1}, "attachments": ["at_12345678"]},
        "typing": {"conversation": CID, "on": True},
        "read": {"conversation": CID, "seq": 4},
        "ping": {"n": 1},
        "page": {"url": "https://shop.test/cart", "title": "Cart", "referrer": "https://shop.test/"},
        "identify": {"user_id": "u-42", "hash": "ab" * 32, "jwt": "header.payload.sig", "name": "Ann",
                     "email": "ann@shop.test"},
        "set": {"attributes": {"plan": "pro", "seats": 3, "trial": False, "gone": None}, "name": "Ann",
                "email": "ann@shop.test"},
        "track": {"event": "cart:add", "data": {"sku": "A1", "qty": 2, "tags": ["x"]}},
        "contact": {"email": "ann@shop.test", "conversation": CID},
        "rate": {"conversation": CID, "rating": 5, "comment": "great"},
        "nps": {"conversation": CID, "survey": "n_abc", "score": 10, "comment": "great"},
        "transcript": {"conversation": CID},
        "link": {"url": "https://shop.example/cart"},
        "redeem": {"code": "ABCDEFGHJK"},
        "fired": {"rule": "cart-40"},
    },
    Endpoint.AGENT: {
        "hello": {"v": 1},
        "resume": {"epoch": "", "conversations": {}},
        "fetch": {"conversation": CID},
        "send": {"conversation": CID, "client_msg_id": "a-12345678", "body": "hi", "note": True,
                 "quick_replies": [{"label": "Yes", "value": "yes"}, {"label": "No"}], "attachments": ["at_12345678"],
                 "mentions": ["a_12345678"]},
        "typing": {"conversation": CID, "on": False},
        "read": {"conversation": CID, "seq": 0},
        "ping": {},
        "subscribe": {"conversations": [CID]},
        "unsubscribe": {"conversations": [CID]},
        "claim": {"conversation": CID},
        "assign": {"conversation": CID, "agent": "a_1"},
        "transfer": {"conversation": CID, "agent": "a_1", "note": "over to you"},
        "close": {"conversation": CID},
        "reopen": {"conversation": CID},
        "snooze": {"conversation": CID, "until": 1_800_000_000_000},
        "unsnooze": {"conversation": CID},
        "label": {"conversation": CID, "add": ["vip"], "remove": ["new"]},
        "status": {"status": "away", "capacity": 5},
    },
}

#: A sample of each MessagePack kind, to find one a field does not accept.
SAMPLES: dict[str, Any] = {"str": "text", "int": 7, "bool": True, "float": 1.5, "list": [1], "map": {"k": 1}}


def parse(endpoint: Endpoint, kind: str, fields: dict[str, Any], max_body: int = 4000) -> Command:
    return parse_command(msgpack.packb({"t": kind, **fields}), endpoint, 65536, max_body)


def refused(endpoint: Endpoint, kind: str, fields: dict[str, Any]) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(endpoint, kind, fields)
    return info.value


def kinds_of(t: mi.Type) -> set[str]:
    """The MessagePack kinds a field's type accepts."""
    if isinstance(t, mi.UnionType):
        return set().union(*(kinds_of(member) for member in t.types))
    if isinstance(t, mi.AnyType):
        return set(SAMPLES)
    return {
        mi.StrType: {"str"}, mi.IntType: {"int"}, mi.BoolType: {"bool"}, mi.FloatType: {"float", "int"},
        mi.ListType: {"list"}, mi.DictType: {"map"}, mi.TypedDictType: {"map"}, mi.LiteralType: {"str"},
        mi.NoneType: set(),
    }[type(t)]


def bounded(t: mi.Type) -> mi.StrType | mi.ListType | mi.DictType | None:
    """The member of a field's type that has a maximum length, if any."""
    members = t.types if isinstance(t, mi.UnionType) else (t,)
    for member in members:
        if isinstance(member, mi.StrType | mi.ListType | mi.DictType) and member.max_length is not None:
            return member
    return None


def field_cases() -> list[tuple[Endpoint, str, mi.Field]]:
    cases = []
    for endpoint, classes in FRAMES.items():
        for cls in classes:
            info = mi.type_info(cls)
            assert isinstance(info, mi.StructType)
            for f in info.fields:
                if f.name != "ref":
                    cases.append((endpoint, frame_type(cls), f))
    return cases


def ids(cases: list[tuple[Endpoint, str, mi.Field]]) -> list[str]:
    return [f"{endpoint.value}-{kind}-{f.name}" for endpoint, kind, f in cases]


def wrong_values(field: mi.Field) -> list[Any]:
    accepted = kinds_of(field.type)
    return [sample for name, sample in SAMPLES.items() if name not in accepted]


CASES = field_cases()
#: Every field but free-form data (track's `data`, checked in test_track_data_is_bounded) has a wrong type.
TYPED = [case for case in CASES if wrong_values(case[2])]
#: Fields with a length of their own; the others are bounded by a range (numbers) or by the frame.
LENGTHS = [case for case in CASES if bounded(case[2].type) is not None]
ALL_FRAMES = [(endpoint, frame_type(cls)) for endpoint, classes in FRAMES.items() for cls in classes]


def test_every_frame_type_has_an_example() -> None:
    for endpoint in Endpoint:
        assert sorted(VALID[endpoint]) == sorted(frame_types(endpoint)), f"give every {endpoint.value} frame an example"


@pytest.mark.parametrize(("endpoint", "kind"), ALL_FRAMES, ids=[f"{e.value}-{k}" for e, k in ALL_FRAMES])
def test_a_valid_frame_is_its_command(endpoint: Endpoint, kind: str) -> None:
    fields = VALID[endpoint][kind]
    command = parse(endpoint, kind, {**fields, "ref": "r-1", "not_in_the_protocol": [1, 2]})
    [cls] = [c for c in FRAMES[endpoint] if frame_type(c) == kind]
    assert type(command) is cls and command.type == kind and command.ref == "r-1"
    for name, value in fields.items():
        assert getattr(command, name) == value
    # Nothing the protocol does not name is kept.
    assert not hasattr(command, "not_in_the_protocol")


@pytest.mark.parametrize(("endpoint", "kind", "field"), CASES, ids=ids(CASES))
def test_a_missing_or_nil_field(endpoint: Endpoint, kind: str, field: mi.Field) -> None:
    fields = dict(VALID[endpoint][kind])
    if kind == "send" and field.name == "body":
        # A send's body may be left out when the message carries attachments, and only then.
        for without in ({k: v for k, v in fields.items() if k != "body"}, {**fields, "body": None}):
            assert parse(endpoint, kind, without).body is None
            error = refused(endpoint, kind, {**without, "attachments": None})
            assert (error.code, error.message.startswith("field 'body' is required")) == (ErrorCode.BAD_FIELD, True)
        return
    for without in ({k: v for k, v in fields.items() if k != field.name}, {**fields, field.name: None}):
        if field.required:
            error = refused(endpoint, kind, without)
            assert error.code is ErrorCode.BAD_FIELD
            assert error.message.startswith(f"field '{field.name}' is required")
        else:
            assert getattr(parse(endpoint, kind, without), field.name) == field.default


@pytest.mark.parametrize(("endpoint", "kind", "field"), TYPED, ids=ids(TYPED))
def test_a_field_of_the_wrong_type(endpoint: Endpoint, kind: str, field: mi.Field) -> None:
    for value in wrong_values(field):
        error = refused(endpoint, kind, {**VALID[endpoint][kind], field.name: value})
        assert error.code is ErrorCode.BAD_FIELD, error.message
        assert error.message.startswith(f"field '{field.name}"), error.message


@pytest.mark.parametrize(("endpoint", "kind", "field"), LENGTHS, ids=ids(LENGTHS))
def test_a_field_over_its_limit_is_too_large(endpoint: Endpoint, kind: str, field: mi.Field) -> None:
    bound = bounded(field.type)
    assert bound is not None and bound.max_length is not None
    over = bound.max_length + 1
    value: Any
    if isinstance(bound, mi.StrType):
        value = "a" * over
    elif isinstance(bound, mi.ListType):
        value = [VALID[endpoint][kind][field.name][0]] * over
    else:
        value = {f"k{i}": 1 for i in range(over)}
    error = refused(endpoint, kind, {**VALID[endpoint][kind], field.name: value})
    assert error.code is ErrorCode.TOO_LARGE, error.message
    assert error.message.startswith(f"field '{field.name}'"), error.message


@pytest.mark.parametrize(("endpoint", "kind", "field", "value", "needle"), [
    (Endpoint.VISITOR, "send", "client_msg_id", "short", "at least 8 characters"),
    (Endpoint.VISITOR, "send", "client_msg_id", "has space!", "characters that are not allowed"),
    (Endpoint.VISITOR, "send", "client_msg_id", "trailing-newline\n", "characters that are not allowed"),
    (Endpoint.VISITOR, "send", "body", "", "at least 1 characters"),
    (Endpoint.VISITOR, "send", "answers", "not a rule id!", "characters that are not allowed"),
    (Endpoint.VISITOR, "read", "seq", -1, "at least 0"),
    (Endpoint.VISITOR, "read", "seq", 2**53 + 1, "at most"),
    (Endpoint.VISITOR, "read", "seq", 2**64 - 1, "at most"),
    (Endpoint.VISITOR, "read", "seq", 3.0, "must be an integer"),
    (Endpoint.VISITOR, "rate", "rating", 0, "at least 1"),
    (Endpoint.VISITOR, "rate", "rating", 6, "at most 5"),
    (Endpoint.VISITOR, "nps", "score", -1, "at least 0"),
    (Endpoint.VISITOR, "nps", "score", 11, "at most 10"),
    (Endpoint.VISITOR, "fetch", "limit", 101, "at most 100"),
    (Endpoint.VISITOR, "fetch", "before_seq", 0, "at least 1"),
    (Endpoint.VISITOR, "hello", "v", True, "must be an integer"),
    (Endpoint.VISITOR, "hello", "token", "short", "at least 16"),
    (Endpoint.VISITOR, "hello", "page", {"title": "no url"}, "'page.url' is required"),
    (Endpoint.VISITOR, "identify", "hash", "z" * 64, "characters that are not allowed"),
    (Endpoint.VISITOR, "identify", "email", "not-an-email", "characters that are not allowed"),
    (Endpoint.VISITOR, "set", "attributes", {"bad key!": 1}, "a key has characters"),
    (Endpoint.VISITOR, "set", "attributes", {"nested": [1]}, "a value must be"),
    (Endpoint.VISITOR, "resume", "conversations", {"c 1": 1}, "a key has characters"),
    (Endpoint.VISITOR, "resume", "conversations", {CID: -1}, "a value must be at least 0"),
    (Endpoint.VISITOR, "track", "event", "white space", "characters that are not allowed"),
    (Endpoint.AGENT, "subscribe", "conversations", ["ok", "not ok"], "an item has characters"),
    (Endpoint.AGENT, "label", "add", [""], "an item must be at least 1"),
    (Endpoint.AGENT, "status", "status", "busy", "must be one of online, away, offline"),
    (Endpoint.AGENT, "status", "capacity", 51, "at most 50"),
])
def test_values_out_of_range_name_the_field(endpoint: Endpoint, kind: str, field: str, value: Any,
                                            needle: str) -> None:
    error = refused(endpoint, kind, {**VALID[endpoint][kind], field: value})
    assert error.code is ErrorCode.BAD_FIELD, error.message
    assert error.message.startswith(f"field '{field}") and needle in error.message, error.message


def test_the_body_limit_is_the_servers_setting() -> None:
    fields = VALID[Endpoint.VISITOR]["send"]
    assert isinstance(parse(Endpoint.VISITOR, "send", {**fields, "body": "x" * 200}, max_body=200), VisitorSend)
    with pytest.raises(ProtocolError) as info:
        parse(Endpoint.VISITOR, "send", {**fields, "body": "x" * 201}, max_body=200)
    assert info.value.code is ErrorCode.TOO_LARGE
    assert info.value.message == "field 'body' must be at most 200 characters"


@pytest.mark.parametrize(("data", "code", "needle"), [
    ({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}, ErrorCode.TOO_LARGE, "nested too deeply"),
    ({"s": "x" * 1001}, ErrorCode.TOO_LARGE, "string over 1000"),
    (list(range(51)), ErrorCode.TOO_LARGE, "list over 50"),
    ({f"k{i}": i for i in range(51)}, ErrorCode.TOO_LARGE, "over 50 keys"),
    ({"": 1}, ErrorCode.BAD_FIELD, "key that is not a short string"),
    ({1: 1}, ErrorCode.BAD_FIELD, "key that is not a short string"),
    ({"b": b"bytes"}, ErrorCode.BAD_FIELD, "not plain data"),
])
def test_track_data_is_bounded(data: Any, code: ErrorCode, needle: str) -> None:
    raw = msgpack.packb({"t": "track", "event": "e", "data": data}, use_bin_type=True, strict_types=False)
    with pytest.raises(ProtocolError) as info:
        parse_command(raw, Endpoint.VISITOR, 65536)
    assert info.value.code is code and info.value.message.startswith("field 'data'") and needle in info.value.message


def test_track_data_within_bounds_is_kept() -> None:
    data = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}, "list": [None, 1.5, True, "x" * 1000]}
    command = parse(Endpoint.VISITOR, "track", {"event": "e", "data": data})
    assert isinstance(command, Track) and command.data == data


@pytest.mark.parametrize(("raw", "code", "message"), [
    (msgpack.packb([1, 2]), ErrorCode.BAD_FRAME, "a frame must be a MessagePack map"),
    (msgpack.packb({"type": "send"}), ErrorCode.BAD_FRAME, "a frame needs a string 't' naming its type"),
    (msgpack.packb({"t": 7}), ErrorCode.BAD_FRAME, "a frame needs a string 't' naming its type"),
    (msgpack.packb({"t": "nope"}), ErrorCode.UNKNOWN_TYPE, "unknown frame type 'nope'"),
    (msgpack.packb({"t": "n" * 100}), ErrorCode.UNKNOWN_TYPE, "unknown frame type '" + "n" * 32 + "'"),
    (msgpack.packb({"t": "x' - at `$.ref`"}), ErrorCode.UNKNOWN_TYPE, "unknown frame type 'x' - at `$.ref`'"),
    (msgpack.packb({"t": "ping", 1: 2}), ErrorCode.BAD_FRAME, "frame keys must be strings"),
    (msgpack.packb({"t": "ping", "ref": True}), ErrorCode.BAD_FIELD,
     "field 'ref' must be an integer or a string of 1 to 64 characters"),
    (msgpack.packb({"t": "ping", "ref": 2**60}), ErrorCode.BAD_FIELD,
     "field 'ref' must be an integer or a string of 1 to 64 characters"),
    (msgpack.packb({"t": "ping", "ref": ""}), ErrorCode.BAD_FIELD,
     "field 'ref' must be an integer or a string of 1 to 64 characters"),
    (msgpack.packb({"t": "track", "event": "e", "data": msgpack.ExtType(1, b"x")}), ErrorCode.BAD_FRAME,
     "MessagePack extension types are not part of the protocol"),
    (msgpack.packb({"t": "send", "client_msg_id": b"m-12345678", "body": "x"}, use_bin_type=True),
     ErrorCode.BAD_FIELD, "field 'client_msg_id' must be a string"),
    (b"\xc1", ErrorCode.BAD_FRAME, "not a MessagePack frame (DecodeError)"),
    (msgpack.packb({"t": "ping"})[:-1], ErrorCode.BAD_FRAME, "not a MessagePack frame (DecodeError)"),
    (b"\x82\xa1t\xa5track\xa4data" + b"\x91" * 100_000 + b"\xc0", ErrorCode.BAD_FRAME,
     "not a MessagePack frame (RecursionError)"),
    (b"\x81\xa1t\xdb\xff\xff\xff\xff", ErrorCode.BAD_FRAME, "not a MessagePack frame (DecodeError)"),
])
def test_frames_out_of_shape(raw: bytes, code: ErrorCode, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_command(raw, Endpoint.VISITOR, 1_000_000)
    assert (info.value.code, info.value.message) == (code, message)


def test_endpoints_differ_where_the_protocol_says() -> None:
    # A visitor may start a conversation; an agent must name one, and may write a private note.
    visitor = parse(Endpoint.VISITOR, "send", {"client_msg_id": "m-12345678", "body": "x", "note": True})
    assert isinstance(visitor, VisitorSend) and visitor.conversation is None and not hasattr(visitor, "note")
    agent = parse(Endpoint.AGENT, "send", {"conversation": CID, "client_msg_id": "m-12345678", "body": "x"})
    assert isinstance(agent, AgentSend) and agent.note is None
    assert isinstance(parse(Endpoint.VISITOR, "hello", {"v": 1, "site": "pk"}), VisitorHello)
    assert refused(Endpoint.AGENT, "identify", {"user_id": "u"}).code is ErrorCode.UNKNOWN_TYPE
    assert refused(Endpoint.VISITOR, "status", {"status": "online"}).code is ErrorCode.UNKNOWN_TYPE


def test_defaults_a_handler_relies_on() -> None:
    fetch = parse(Endpoint.VISITOR, "fetch", {"conversation": CID})
    assert isinstance(fetch, Fetch) and fetch.limit is None and Fetch.DEFAULT_LIMIT == 50
    status = parse(Endpoint.AGENT, "status", {"status": "online"})
    assert isinstance(status, Status) and status.capacity is None


def test_a_command_built_from_fields_follows_the_same_rules() -> None:
    # The REST API's message post builds the socket's agent send.
    send = build_command(AgentSend, {"conversation": CID, "client_msg_id": "api_1234567", "body": "x"}, 10)
    assert send == AgentSend(conversation=CID, client_msg_id="api_1234567", body="x")
    with pytest.raises(ProtocolError) as info:
        build_command(AgentSend, {"conversation": CID, "client_msg_id": "api_1234567", "body": "x" * 11}, 10)
    assert (info.value.code, info.value.message) == (ErrorCode.TOO_LARGE, "field 'body' must be at most 10 characters")
    with pytest.raises(ProtocolError) as info:
        build_command(AgentSend, {"conversation": CID, "client_msg_id": "api_1234567", "body": "x", "note": 1}, 10)
    assert (info.value.code, info.value.message) == (ErrorCode.BAD_FIELD, "field 'note' must be true or false")

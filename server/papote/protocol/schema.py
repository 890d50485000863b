"""The frame tables: every client frame type each endpoint accepts, and the fields of each.

`parse_command` turns one binary message into a validated `Command` or raises `ProtocolError` with the
documented code (docs/protocol.md §5): `bad_frame`, `unknown_type`, `bad_field` or `too_large`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from papote.errors import ErrorCode, ProtocolError
from papote.protocol.wire import decode, ref_of

#: Deep nesting is how decoders are made to recurse; nothing in the protocol needs more than this.
MAX_DEPTH = 6
#: Free-form maps (attributes, tracked event data) are bounded in keys so one frame cannot balloon the store.
MAX_MAP_KEYS = 50
MAX_STR_IN_DATA = 1000
#: Conversations one `resume` may name. Each costs a lookup, and an unknown one is a lookup for nothing:
#: the cap bounds what one frame can cost. A client following more sends several (the widget and the
#: console split theirs).
MAX_RESUME_CONVERSATIONS = 100


class Endpoint(str, Enum):
    VISITOR = "visitor"
    AGENT = "agent"


@dataclass(frozen=True)
class Command:
    """One validated client frame. `fields` holds only the documented keys, with defaults filled in."""

    type: str
    fields: dict[str, Any]
    ref: int | str | None = None

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        value = self.fields.get(key)
        return default if value is None else value


# ---------------------------------------------------------------------------------------------------
# Field validators: each takes the raw value and returns the clean one or raises ProtocolError.

Validator = Callable[[Any], Any]


def _bad(name: str, why: str) -> ProtocolError:
    return ProtocolError(f"field '{name}' {why}", ErrorCode.BAD_FIELD)


def text(min_len: int = 0, max_len: int = 1000, pattern: str | None = None) -> Validator:
    compiled = re.compile(pattern) if pattern else None

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError("must be a string")
        if len(value) > max_len:
            raise OverflowError(f"must be at most {max_len} characters")
        if len(value) < min_len:
            raise ValueError(f"must be at least {min_len} characters")
        if compiled is not None and not compiled.fullmatch(value):
            raise ValueError("has characters that are not allowed")
        return value

    return check


def integer(low: int, high: int) -> Validator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("must be an integer")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return check


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("must be true or false")
    return value


def one_of(*choices: str) -> Validator:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError("must be one of " + ", ".join(choices))
        return str(value)

    return check


def list_of(item: Validator, max_items: int) -> Validator:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise TypeError("must be a list")
        if len(value) > max_items:
            raise OverflowError(f"must have at most {max_items} items")
        return [item(v) for v in value]

    return check


def record(**spec: tuple[Validator, bool]) -> Validator:
    """A nested map with its own documented fields: `name=(validator, required)`."""

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise TypeError("must be a map")
        return _validate_fields(value, spec)

    return check


def seq_map(value: Any) -> dict[str, int]:
    """`{conversation_id: last_seq}` as sent by `resume`."""
    if not isinstance(value, dict):
        raise TypeError("must be a map of conversation id to seq")
    if len(value) > MAX_RESUME_CONVERSATIONS:
        raise OverflowError(f"must name at most {MAX_RESUME_CONVERSATIONS} conversations")
    clean: dict[str, int] = {}
    for key, seq in value.items():
        clean[ID(key)] = integer(0, 2**53)(seq)
    return clean


def plain_data(value: Any, depth: int = 0) -> Any:
    """Free-form data (custom attributes, tracked events): scalars, lists and maps, bounded."""
    if depth > MAX_DEPTH:
        raise OverflowError("is nested too deeply")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value) > MAX_STR_IN_DATA:
            raise OverflowError(f"has a string over {MAX_STR_IN_DATA} characters")
        return value
    if isinstance(value, list):
        if len(value) > MAX_MAP_KEYS:
            raise OverflowError(f"has a list over {MAX_MAP_KEYS} items")
        return [plain_data(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if len(value) > MAX_MAP_KEYS:
            raise OverflowError(f"has over {MAX_MAP_KEYS} keys")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not 0 < len(k) <= 64:
                raise TypeError("has a key that is not a short string")
            out[k] = plain_data(v, depth + 1)
        return out
    raise TypeError("holds a value that is not plain data")


def attributes(value: Any) -> dict[str, Any]:
    """Custom attributes are flat: a string key to a scalar, so agents can show and filter them."""
    if not isinstance(value, dict):
        raise TypeError("must be a map")
    if len(value) > MAX_MAP_KEYS:
        raise OverflowError(f"must have at most {MAX_MAP_KEYS} keys")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", k):
            raise ValueError("keys must be 1-64 characters of letters, digits, _ . -")
        if v is not None and not isinstance(v, str | int | float | bool):
            raise TypeError("values must be strings, numbers, booleans or nil")
        if isinstance(v, str) and len(v) > 500:
            raise OverflowError("values must be at most 500 characters")
        out[k] = v
    return out


ID = text(1, 64, r"[A-Za-z0-9_-]+")
CLIENT_MSG_ID = text(8, 64, r"[A-Za-z0-9_-]+")
URL = text(0, 2048)
EMAIL = text(3, 254, r"[^@\s]+@[^@\s]+\.[^@\s]+")
NAME = text(0, 120)
REF_TEXT = text(1, 64)
PAGE = record(url=(URL, True), title=(text(0, 300), False), referrer=(URL, False))

# ---------------------------------------------------------------------------------------------------
# Frame schemas per endpoint: {type: {field: (validator, required)}}. A field not listed is dropped.

Spec = dict[str, tuple[Validator, bool]]

_COMMON: dict[str, Spec] = {
    "resume": {"epoch": (text(0, 64), True), "conversations": (seq_map, True)},
    "fetch": {
        "conversation": (ID, True),
        "before_seq": (integer(1, 2**53), False),
        "limit": (integer(1, 100), False),
    },
    "typing": {"conversation": (ID, True), "on": (boolean, True)},
    "read": {"conversation": (ID, True), "seq": (integer(0, 2**53), True)},
    "ping": {"n": (integer(0, 2**53), False)},
}

_BODY_PLACEHOLDER: Validator = text(1, 4000)  # replaced per connection by the configured limit

VISITOR_FRAMES: dict[str, Spec] = {
    "hello": {
        "v": (integer(0, 1000), True),
        "site": (ID, True),
        "token": (text(16, 128, r"[A-Za-z0-9_-]+"), False),
        "link_code": (text(4, 64, r"[A-Za-z0-9_-]+"), False),
        "locale": (text(2, 16, r"[A-Za-z-]+"), False),
        "page": (PAGE, False),
        "device": (
            record(tz=(text(0, 64), False), lang=(text(0, 35), False), screen=(text(0, 32), False)),
            False,
        ),
    },
    **_COMMON,
    "send": {
        "conversation": (ID, False),
        "client_msg_id": (CLIENT_MSG_ID, True),
        "body": (_BODY_PLACEHOLDER, True),
    },
    "page": {"url": (URL, True), "title": (text(0, 300), False), "referrer": (URL, False)},
    "identify": {
        "user_id": (text(1, 128), True),
        "hash": (text(64, 64, r"[0-9a-fA-F]+"), False),
        "jwt": (text(10, 4096), False),
        "name": (NAME, False),
        "email": (EMAIL, False),
    },
    "set": {"attributes": (attributes, False), "name": (NAME, False), "email": (EMAIL, False)},
    "track": {"event": (text(1, 64, r"[A-Za-z0-9_.:-]+"), True), "data": (plain_data, False)},
    "contact": {"email": (EMAIL, True), "conversation": (ID, False)},
    "rate": {
        "conversation": (ID, True),
        "rating": (integer(1, 5), True),
        "comment": (text(0, 2000), False),
    },
    "link": {},
}

AGENT_FRAMES: dict[str, Spec] = {
    "hello": {"v": (integer(0, 1000), True)},
    **_COMMON,
    "send": {
        "conversation": (ID, True),
        "client_msg_id": (CLIENT_MSG_ID, True),
        "body": (_BODY_PLACEHOLDER, True),
        "note": (boolean, False),
    },
    "subscribe": {"conversations": (list_of(ID, 200), True)},
    "unsubscribe": {"conversations": (list_of(ID, 200), True)},
    "claim": {"conversation": (ID, True)},
    "assign": {"conversation": (ID, True), "agent": (ID, True)},
    "transfer": {"conversation": (ID, True), "agent": (ID, True), "note": (text(0, 4000), False)},
    "close": {"conversation": (ID, True)},
    "reopen": {"conversation": (ID, True)},
    "label": {
        "conversation": (ID, True),
        "add": (list_of(text(1, 40), 20), False),
        "remove": (list_of(text(1, 40), 20), False),
    },
    "status": {
        "status": (one_of("online", "away", "offline"), True),
        "capacity": (integer(1, 50), False),
    },
}

FRAMES: dict[Endpoint, dict[str, Spec]] = {
    Endpoint.VISITOR: VISITOR_FRAMES,
    Endpoint.AGENT: AGENT_FRAMES,
}


def _validate_fields(raw: dict[Any, Any], spec: Spec) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, (check, required) in spec.items():
        value = raw.get(name)
        if value is None:
            if required:
                raise _bad(name, "is required")
            clean[name] = None
            continue
        try:
            clean[name] = check(value)
        except ProtocolError:
            raise
        except OverflowError as exc:
            raise ProtocolError(f"field '{name}' {exc}", ErrorCode.TOO_LARGE) from None
        except (TypeError, ValueError) as exc:
            raise _bad(name, str(exc)) from None
    return clean


@functools.cache
def _with_body_limit(endpoint: Endpoint, kind: str, max_body: int) -> Spec:
    """The frame's spec with the configured body limit (built once per limit, not per frame)."""
    return {**FRAMES[endpoint][kind], "body": (text(1, max_body), True)}


def parse_command(
    data: bytes, endpoint: Endpoint, max_bytes: int, max_body: int = 4000
) -> Command:
    """Decode and validate one client frame for `endpoint`. Raises ProtocolError."""
    raw = decode(data, max_bytes)
    kind = raw["t"]
    spec = FRAMES[endpoint].get(kind)
    if spec is None:
        raise ProtocolError(f"unknown frame type '{kind[:32]}'", ErrorCode.UNKNOWN_TYPE)
    if "body" in spec:
        spec = _with_body_limit(endpoint, kind, max_body)
    ref = ref_of(raw)
    if ref is None and raw.get("ref") is not None:
        raise ProtocolError("field 'ref' must be an integer or a string of 1 to 64 characters", ErrorCode.BAD_FIELD)
    fields = _validate_fields(raw, spec)
    return Command(kind, fields, ref)




def frame_types(endpoint: Endpoint) -> Iterable[str]:
    """Every client frame type an endpoint accepts (the authorization matrix is generated from it)."""
    return FRAMES[endpoint].keys()

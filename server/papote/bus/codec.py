"""Domain events to bytes for a broker, and back (MessagePack).

A publication on the wire between nodes is one MessagePack array:

    [1, node, origin, type, [field, ...]]

`1` is the codec version (a node that reads another version drops the publication: the gap repair
fills what it missed), `node` the publishing node's id (a node ignores its own echo: it delivered the
event locally already), `origin` the publishing connection or nil, `type` the event class's name
(events.EVENT_TYPES) and then the event's fields in declaration order. Records (`Message`,
`Conversation`) nest as arrays of their fields, in declaration order too. Arrays, not maps: field
names would double the size of a message publication. Both ends run the same code (a rolling upgrade
that changes an event bumps the version).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack

from papote.events import EVENT_TYPES, Event
from papote.store import Conversation, Message

VERSION = 1
#: Records that events carry, rebuilt by position.
_RECORDS: dict[str, type[Any]] = {"Message": Message, "Conversation": Conversation}


class CodecError(ValueError):
    """Bytes that are not a publication of this codec version."""


def _layout(cls: type[Any]) -> tuple[tuple[str, type[Any] | None], ...]:
    """(field name, record class or None) for each field of an event class."""
    out = []
    for f in dataclasses.fields(cls):
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        out.append((f.name, _RECORDS.get(kind)))
    return tuple(out)


_LAYOUTS = {name: _layout(cls) for name, cls in EVENT_TYPES.items()}
_RECORD_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _RECORDS.values()}
_packer = msgpack.Packer(use_bin_type=True)


def encode(event: Event, node: str, origin: str | None) -> bytes:
    name = type(event).__name__
    values: list[Any] = []
    for field_name, record in _LAYOUTS[name]:
        value = getattr(event, field_name)
        if record is not None:
            value = [getattr(value, f) for f in _RECORD_FIELDS[record]]
        values.append(value)
    data: bytes = _packer.pack([VERSION, node, origin, name, values])
    return data


def decode(data: bytes) -> tuple[Event, str, str | None]:
    """(event, publishing node, origin). Raises CodecError on anything else."""
    try:
        version, node, origin, name, values = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise CodecError(f"not a publication: {exc}") from exc
    if version != VERSION:
        raise CodecError(f"codec version {version!r}, this node reads {VERSION}")
    layout = _LAYOUTS.get(name) if isinstance(name, str) else None
    if layout is None or not isinstance(values, list) or len(values) != len(layout):
        raise CodecError(f"unknown event {name!r}")
    if not isinstance(node, str) or not (origin is None or isinstance(origin, str)):
        raise CodecError("bad publisher")
    args = []
    try:
        for (_, record), value in zip(layout, values, strict=True):
            args.append(record(*value) if record is not None else value)
        return EVENT_TYPES[name](*args), node, origin
    except TypeError as exc:
        raise CodecError(f"bad {name}: {exc}") from exc

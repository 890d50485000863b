"""MessagePack on the wire: frames → bytes, the `error` frame's shape, and a bounded raw decoder.

Client frames are decoded into commands by protocol/core.py; `decode` here gives the raw map (tests and
tools read server frames with it), and `peek_ref`/`peek_type` read what they can of a frame that failed
validation. Limits are applied while decoding, so a hostile header (an array claiming 2^32 items, a
string longer than the frame) cannot make the decoder allocate before it is refused.
"""

from __future__ import annotations

from typing import Any

import msgpack

from papote.errors import ErrorCode, ProtocolError
from papote.types import Frame


def _refuse_ext(code: int, data: bytes) -> Any:
    raise ProtocolError("MessagePack extension types are not part of the protocol")


def decode(data: bytes, max_bytes: int) -> dict[Any, Any]:
    """Bytes → a raw map, or ProtocolError. Limits are set so a hostile header cannot allocate much."""
    if len(data) > max_bytes:
        raise ProtocolError(f"frame is over {max_bytes} bytes", ErrorCode.TOO_LARGE)
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            ext_hook=_refuse_ext,
            max_str_len=max_bytes,
            max_bin_len=0,
            max_array_len=1000,
            max_map_len=1000,
            max_ext_len=0,
        )
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises ValueError subclasses, StackError, UnicodeDecodeError…
        raise ProtocolError(f"not a MessagePack frame ({type(exc).__name__})") from None
    if not isinstance(obj, dict):
        raise ProtocolError("a frame must be a MessagePack map")
    if not isinstance(obj.get("t"), str):
        raise ProtocolError("a frame needs a string 't' naming its type")
    return obj


#: One packer for the process: `packb` builds a new one per call. Frames are encoded on the event loop
#: only, never from two threads at once.
_pack = msgpack.Packer(use_bin_type=True).pack


def encode(frame: Frame) -> bytes:
    return _pack(frame)  # type: ignore[no-any-return]


def error_frame(
    code: ErrorCode, message: str, ref: int | str | None = None, frame: str | None = None
) -> Frame:
    out: Frame = {"t": "error", "code": code.value, "message": message}
    if ref is not None:
        out["ref"] = ref
    if frame is not None:
        out["frame"] = frame
    return out


def ref_of(raw: dict[Any, Any]) -> int | str | None:
    """The frame's `ref` if it has the documented shape, else None."""
    ref = raw.get("ref")
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int) and -(2**53) <= ref <= 2**53:
        return ref
    if isinstance(ref, str) and 0 < len(ref) <= 64:
        return ref
    return None


def _peek(data: bytes) -> dict[Any, Any] | None:
    try:
        # Binary and ext values are read too (the frame is bounded already): refusing them made a frame
        # holding one lose its `ref`, so its error could not be matched to it.
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False, max_array_len=1000, max_map_len=1000)
    except Exception:
        return None
    return obj if isinstance(obj, dict) else None


def peek_ref(data: bytes) -> int | str | None:
    """The `ref` of a frame that failed validation, so its error can still be matched to it."""
    obj = _peek(data)
    return ref_of(obj) if obj is not None else None


def peek_type(data: bytes) -> str | None:
    """The `t` of a frame that failed validation (cut to 32 characters), for the error's `frame`."""
    obj = _peek(data)
    kind = obj.get("t") if obj is not None else None
    return kind[:32] if isinstance(kind, str) else None

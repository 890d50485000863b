"""The wire protocol, sans-I/O: bytes in, validated commands out; frames in, bytes out.

* `core`   — `ProtocolConnection`, the state machine of one WebSocket (hello, budget of errors, close).
* `schema` — the frame tables per endpoint and `parse_command`, which validates one frame against them.
* `wire`   — MessagePack decoding with bounds, encoding, the `error` frame.

docs/protocol.md is the reference for every frame and field; this package enforces it.
"""

from papote.protocol.core import (
    MAX_ERRORS_PER_CONNECTION,
    PROTOCOL_VERSION,
    CloseRequested,
    ProtocolConnection,
    State,
)
from papote.protocol.schema import AGENT_FRAMES, FRAMES, VISITOR_FRAMES, Command, Endpoint, frame_types, parse_command
from papote.protocol.wire import decode, encode, error_frame

__all__ = [
    "AGENT_FRAMES",
    "FRAMES",
    "MAX_ERRORS_PER_CONNECTION",
    "PROTOCOL_VERSION",
    "VISITOR_FRAMES",
    "CloseRequested",
    "Command",
    "Endpoint",
    "ProtocolConnection",
    "State",
    "decode",
    "encode",
    "error_frame",
    "frame_types",
    "parse_command",
]

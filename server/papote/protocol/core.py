"""The connection state machine: bytes in, typed commands out; frames in, bytes out. No I/O here.

`ProtocolConnection` is the state machine of one WebSocket as the server sees it. The network layer feeds
it each binary message with `receive_data`, takes the commands (protocol/commands.py) from
`events_received`, queues answers with `send`, and writes what `data_to_send` returns. Validation errors
never raise out of `receive_data`: they become an `error` frame queued for the client (and, past a budget,
a close request), so a malformed frame can never crash a connection task. docs/protocol.md is the
reference for every field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar, Union

import msgspec

from papote.errors import CloseCode, ErrorCode, ProtocolError
from papote.protocol.commands import FRAMES, Command, Endpoint, Hello, Send, protocol_error
from papote.protocol.wire import encode, error_frame, peek_ref, peek_type
from papote.store.rules import NUL_REFUSED, holds_nul
from papote.types import Frame

PROTOCOL_VERSION = 1
#: A client that sends this many invalid frames is closed: a buggy client is told, a hostile one is cut off.
MAX_ERRORS_PER_CONNECTION = 50


class State(Enum):
    """A connection first waits for `hello`, then is open until a close is requested."""

    AWAITING_HELLO = 1
    OPEN = 2
    CLOSING = 3


@dataclass(frozen=True)
class CloseRequested:
    """The core decided the connection must end (bad hello, too many errors): close with this code."""

    code: CloseCode
    reason: str


def _refuse_ext(code: int, data: memoryview) -> Any:
    raise ProtocolError("MessagePack extension types are not part of the protocol")


#: One decoder per endpoint, for the union of its command classes (tagged by `t`).
_DECODERS: dict[Endpoint, msgspec.msgpack.Decoder[Command]] = {
    endpoint: msgspec.msgpack.Decoder(Union[classes], ext_hook=_refuse_ext)  # noqa: UP007
    for endpoint, classes in FRAMES.items()
}


def parse_command(data: bytes, endpoint: Endpoint, max_bytes: int, max_body: int = 4000) -> Command:
    """Decode and validate one client frame for `endpoint`. Raises ProtocolError with its code."""
    if len(data) > max_bytes:
        raise ProtocolError(f"frame is over {max_bytes} bytes", ErrorCode.TOO_LARGE)
    try:
        command = _DECODERS[endpoint].decode(data)
    except msgspec.ValidationError as exc:
        raise protocol_error(str(exc)) from None
    except ProtocolError:
        raise
    except Exception as exc:  # DecodeError (malformed, truncated), RecursionError (nesting)…
        raise ProtocolError(f"not a MessagePack frame ({type(exc).__name__})") from None
    if isinstance(command, Send) and len(command.text) > max_body:
        raise ProtocolError(f"field 'body' must be at most {max_body} characters", ErrorCode.TOO_LARGE)
    # A NUL inside a MessagePack string is a 0x00 byte: a frame without one (most) needs no walk.
    if b"\x00" in data and holds_nul(msgspec.to_builtins(command)):
        raise ProtocolError(NUL_REFUSED, ErrorCode.BAD_FIELD)
    return command


C = TypeVar("C", bound=Command)


def build_command(cls: type[C], fields: dict[str, Any], max_body: int) -> C:
    """The command `cls` from fields that did not come as a frame (a REST body, later a channel's
    webhook), validated exactly as a frame is: same rules, same coded errors."""
    try:
        command = msgspec.convert(fields, cls)
    except msgspec.ValidationError as exc:
        raise protocol_error(str(exc)) from None
    if isinstance(command, Send) and len(command.text) > max_body:
        raise ProtocolError(f"field 'body' must be at most {max_body} characters", ErrorCode.TOO_LARGE)
    if holds_nul(fields):
        raise ProtocolError(NUL_REFUSED, ErrorCode.BAD_FIELD)
    return command


@dataclass
class ProtocolConnection:
    """What one WebSocket has said and must be told, without the socket.

    Usage by the network layer::

        conn.receive_data(message_bytes)
        for event in conn.events_received():   # a Command or CloseRequested
            ...
        conn.send(frame)
        for data in conn.data_to_send():
            await websocket.send_bytes(data)
    """

    endpoint: Endpoint
    max_frame_bytes: int = 65536
    max_body_chars: int = 4000
    state: State = State.AWAITING_HELLO
    errors: int = 0
    _events: list[Command | CloseRequested] = field(default_factory=list)
    _outgoing: list[bytes] = field(default_factory=list)

    def receive_data(self, data: bytes) -> None:
        """Feed one binary WebSocket message. Never raises for bad input."""
        if self.state is State.CLOSING:
            return
        try:
            command = parse_command(data, self.endpoint, self.max_frame_bytes, self.max_body_chars)
        except ProtocolError as exc:
            if self.state is State.AWAITING_HELLO:
                self._close(CloseCode.BAD_HELLO, f"first frame must be a valid hello: {exc.message}")
                return
            self.reject(exc, peek_ref(data), peek_type(data))
            return
        if self.state is State.AWAITING_HELLO:
            if not isinstance(command, Hello):
                self._close(CloseCode.BAD_HELLO, "first frame must be hello")
                return
            if command.v != PROTOCOL_VERSION:
                self._close(
                    CloseCode.VERSION_UNSUPPORTED,
                    f"protocol version {command.v} is not supported (this server speaks 1)",
                )
                return
            self.state = State.OPEN
        elif isinstance(command, Hello):
            self.reject(ProtocolError("hello was already received", ErrorCode.BAD_FRAME), command.ref, "hello")
            return
        self._events.append(command)

    def events_received(self) -> list[Command | CloseRequested]:
        events, self._events = self._events, []
        return events

    def send(self, frame: Frame) -> None:
        if self.state is not State.CLOSING:
            self._outgoing.append(encode(frame))

    def reject(self, exc: ProtocolError | Exception, ref: int | str | None, frame: str | None) -> None:
        """Answer a frame with an error; too many errors end the connection."""
        code = exc.code if isinstance(exc, ProtocolError) else ErrorCode.INTERNAL
        message = exc.message if isinstance(exc, ProtocolError) else "internal error"
        self.send(error_frame(code, message, ref, frame))
        self.errors += 1
        if self.errors >= MAX_ERRORS_PER_CONNECTION:
            self._close(CloseCode.RATE_LIMITED, "too many invalid frames")

    def data_to_send(self) -> list[bytes]:
        out, self._outgoing = self._outgoing, []
        return out

    def _close(self, code: CloseCode, reason: str) -> None:
        if self.state is State.CLOSING:
            return
        self.state = State.CLOSING
        self._events.append(CloseRequested(code, reason[:120]))

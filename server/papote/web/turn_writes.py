"""Frames decided in one turn of the loop leave in one write per socket.

A group commit settles many messages in one turn: an agent's socket may then owe a dozen frames (the
acks of its replies, its visitors' messages), and the ASGI `send` writes each on its own, a system call
and a trip through the loopback or network stack per frame. When the server runs on uvicorn's Sans-I/O
WebSocket protocol, the frames of a turn are instead handed to that protocol's framer (websockets'
`ServerProtocol.send_binary`, which only buffers) and written together once the turn's callbacks are
done (`Flusher`): one `transport.write` per socket and turn.

Order is kept by construction: every other write on the socket (an ASGI `send` of the slow path, a
close frame, uvicorn's keepalive ping, a pong) takes its bytes from the same framer's buffer, behind the
frames already in it. Flow control is uvicorn's: while its transport asks to pause, `DirectSocket.write`
declines, and the frame takes the ASGI path, which waits (web/outgoing.py queues what follows it).

Any other server (another WebSocket implementation, a test double) has no such protocol behind its
`send`: `DirectSocket.of` says None, and every frame takes the ASGI `send`, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

#: The scope keys under which the application (papote/app.py) keeps, for each WebSocket, the server's
#: own ASGI `send`, before any middleware wraps it (the one `DirectSocket.of` looks behind), and its
#: `Flusher`.
SERVER_SEND = "papote.server_send"
FLUSHER = "papote.flusher"


log = logging.getLogger("papote.live")


class SocketGone(Exception):
    """The socket is closing or closed: the frame cannot leave."""


class DirectSocket:
    """The framer and transport of one uvicorn WebSocket connection (`websockets_sansio_impl`)."""

    __slots__ = ("_conn", "_flusher", "_pending", "_protocol")

    def __init__(self, protocol: Any, flusher: Flusher) -> None:
        self._protocol = protocol
        self._conn = protocol.conn
        self._flusher = flusher
        self._pending = False

    @classmethod
    def of(cls, scope: Mapping[str, Any]) -> DirectSocket | None:
        """The direct path behind the server's own `send`, if it is uvicorn's Sans-I/O protocol (the
        object its `send` is bound to, with the framer and the state this path reads)."""
        protocol = getattr(scope.get(SERVER_SEND), "__self__", None)
        flusher = scope.get(FLUSHER)
        if not isinstance(flusher, Flusher) or not all(
                hasattr(protocol, name) for name in ("conn", "transport", "writable", "disconnected",
                                                     "close_sent", "handshake_complete")):
            return None
        return cls(protocol, flusher)

    def write(self, data: bytes) -> bool:
        """Frame `data` now; its bytes leave at the end of this turn. False: the transport asked to
        pause (the caller sends through ASGI, which waits). Raises `SocketGone` once it is closing."""
        protocol = self._protocol
        if protocol.disconnected or protocol.close_sent or not protocol.handshake_complete:
            raise SocketGone
        if not protocol.writable.is_set():
            return False
        try:
            self._conn.send_binary(data)
        except Exception as exc:  # websockets' InvalidState: the closing handshake has begun
            raise SocketGone from exc
        self._flusher.frames += 1
        if not self._pending:
            self._pending = True
            self._flusher.add(self)
        return True

    def flush(self) -> None:
        """Write what the framer holds, in one go (nothing if another write took it meanwhile)."""
        self._pending = False
        data = self._conn.data_to_send()
        if not data:
            return
        transport = self._protocol.transport
        if not transport.is_closing():
            transport.write(b"".join(data))
            self._flusher.writes += 1


class Flusher:
    """The sockets with frames waiting for the end of this turn, written by one callback per turn.

    The callback is scheduled with `call_soon`, which on uvloop runs in the loop's next round, after
    a poll for I/O. So the store arms it (`arm`, as `Store.on_settled`) as soon as it has resolved a
    commit's futures: their callbacks, which frame the acks and fan-outs, are then due in the next
    round, and the flush runs right behind them in that same round rather than one poll later."""

    def __init__(self) -> None:
        self._waiting: list[DirectSocket] = []
        self._armed = False
        #: Since the start: frames framed for the end of their turn, and the writes that carried them.
        self.frames = 0
        self.writes = 0

    def stats(self) -> dict[str, int]:
        return {"frames": self.frames, "writes": self.writes}

    def add(self, socket: DirectSocket) -> None:
        self.arm()
        self._waiting.append(socket)

    def arm(self) -> None:
        """Flush once the callbacks already due have run (each may add frames)."""
        if not self._armed:
            self._armed = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._armed = False
        waiting, self._waiting = self._waiting, []
        for socket in waiting:
            try:
                socket.flush()
            except Exception:  # the transport reports its own failure: the socket's read loop ends
                log.debug("a turn's frames could not be written", exc_info=True)

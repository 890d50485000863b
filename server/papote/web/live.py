"""The life of one WebSocket, shared by the visitor and agent endpoints. It moves bytes; rules live elsewhere.

    accept → first frame `hello` (10 s) → `welcome` → loop: receive → protocol core → handler → socket
                                                         (or, behind a full socket: queue → writer task)

Every answer and every fanned-out frame leaves in the order it was decided: written in the turn that
decided it when nothing is ahead of it, else through the connection's bounded queue and its writer task
(outgoing.py). A handler error becomes an `error` frame; an unexpected exception is logged and answered
`internal` — the connection and the server carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, assert_never, cast

from limits import parse
from starlette.websockets import WebSocket

from papote.connections import Connection
from papote.errors import CloseCode, ErrorCode, PapoteError, ProtocolError, RateLimited
from papote.protocol import (
    CloseRequested,
    Command,
    Endpoint,
    Fetch,
    Hello,
    Ping,
    ProtocolConnection,
    Read,
    Resume,
    SharedCommand,
    Typing,
    encode,
    error_frame,
)
from papote.ratelimits import Window
from papote.types import Frame
from papote.web.outgoing import Outgoing
from papote.web.turn_writes import DirectSocket

if TYPE_CHECKING:
    from papote.node import Papote

log = logging.getLogger("papote.live")

#: A client has this long after the socket opens to say hello; then the slot is given back.
HELLO_TIMEOUT_SECS = 10.0
#: Sends a connection may have waiting for their commit at once. Reading goes on while they commit
#: (a phone flushing its outbox is not held to one message per fsync); past this, reading waits.
MAX_SENDS_IN_FLIGHT = 64
#: A connection refused this many frames for its rate within one window is closed 4008: a client told
#: `rate_limited` slows down; one that keeps sending is flooding, and reading its frames is work too.
RATE_REFUSALS_BEFORE_CLOSE = 20

HelloT = TypeVar("HelloT", bound=Hello)
#: The commands only this endpoint accepts (the shared ones are handled here, once).
CommandT = TypeVar("CommandT", bound=Command)


class LiveSession(ABC, Generic[HelloT, CommandT]):
    """One socket of an endpoint whose first frame is a `HelloT` and whose own commands are `CommandT`.
    The protocol core decodes for `endpoint`, so what it hands over is always one of those classes."""

    endpoint: Endpoint
    #: The digest of the console session this socket rides on (agents only: see agent_ws.py).
    session_digest: str | None = None

    def __init__(self, ws: WebSocket, papote: Papote) -> None:
        self.ws = ws
        self.papote = papote
        config = papote.config
        self.protocol = ProtocolConnection(self.endpoint, config.max_frame_bytes, config.max_body_chars)
        self.conn: Connection | None = None
        self.last_seen = time.monotonic()
        self._close: tuple[CloseCode, str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outgoing = Outgoing(lambda data: ws.send({"type": "websocket.send", "bytes": data}),
                                  lambda: self.request_close(CloseCode.NORMAL, "socket gone"),
                                  DirectSocket.of(ws.scope))
        self._in_flight = 0
        self._room = asyncio.Event()  # set when a send in flight finishes (cheaper than a Semaphore)
        self._completions: set[asyncio.Task[None]] = set()
        #: Every frame after hello is counted, on this connection and on its site (ratelimits.py).
        self._rate = Window(parse(config.rate_per_connection))
        self._site_rate_item = parse(config.rate_per_site)

    # -- to be provided by each endpoint ------------------------------------------------------------
    @abstractmethod
    async def pre_accept(self) -> CloseCode | None:
        """Checks that need no frame (Origin, session cookie). A code refuses the socket."""

    @abstractmethod
    async def on_hello(self, hello: HelloT) -> Connection:
        """Authenticate, queue `welcome`, return the registered connection."""

    @abstractmethod
    async def on_command(self, command: CommandT) -> None:
        """Handle one of the endpoint's own frames after hello (`match` on its classes)."""

    def resumed(self, conversation_id: str) -> None:
        """The endpoint's own bookkeeping for a conversation `resume` follows (the hub subscribes)."""

    def on_closed(self) -> None:
        """Called once the connection is gone (presence, typing)."""

    @property
    def site_id(self) -> str | None:
        return None

    # -- the loop ------------------------------------------------------------------------------------
    async def run(self) -> None:
        self._task = asyncio.current_task()
        refusal = await self.pre_accept()
        await self.ws.accept()
        if refusal is not None:
            await self._close_socket(refusal, refusal.name.lower())
            return
        try:
            conn = await self._handshake()
            if conn is None:
                return
            self.conn = conn
            self.papote.live_sessions.add(self)
            self._writer = asyncio.create_task(self._outgoing.drain(conn.queue), name=f"papote-writer-{conn.id}")
            conn.write_now = self._outgoing.write_now
            await self._read_loop()
        except asyncio.CancelledError:
            # Cancelled by `request_close` (slow consumer, revoked session, idle, shutdown): a decision
            # of ours, not a crash. Anything else cancelling us is re-raised.
            if self._close is None:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
        finally:
            await self._finish()

    async def _handshake(self) -> Connection | None:
        try:
            message = await asyncio.wait_for(self.ws.receive(), HELLO_TIMEOUT_SECS)
        except TimeoutError:
            await self._close_socket(CloseCode.BAD_HELLO, "no hello within 10 s")
            return None
        data = self._bytes_of(message)
        if data is None:
            if message["type"] != "websocket.disconnect":
                await self._close_socket(CloseCode.BAD_HELLO, "frames are binary MessagePack")
            return None
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, CloseRequested):
                await self._close_socket(event.code, event.reason)
                return None
            try:
                return await self.on_hello(cast(HelloT, event))  # the core lets only a hello through first
            except _Refused as refused:
                await self._close_socket(refused.code, refused.reason)
                return None
        return None

    async def _read_loop(self) -> None:
        assert self.conn is not None
        conn = self.conn
        protocol = self.protocol
        receive = self.ws.receive
        while True:
            message = await receive()
            self.last_seen = time.monotonic()
            data = self._bytes_of(message)
            if data is None:
                if message["type"] == "websocket.disconnect":
                    return
                protocol.reject(ProtocolError("frames are binary MessagePack"), None, None)
                self._flush_protocol(conn)
                continue
            protocol.receive_data(data)
            for event in protocol.events_received():
                if isinstance(event, CloseRequested):
                    self._flush_protocol(conn)
                    self.request_close(event.code, event.reason)
                    return
                await self._dispatch(event)
                if self._close is not None:  # closed by a handler (a flood): stop reading
                    self._flush_protocol(conn)
                    return
            self._flush_protocol(conn)

    async def _dispatch(self, command: Command) -> None:
        assert self.conn is not None
        if self.conn.holding and not isinstance(command, Resume):
            # The client skipped `resume`: stop holding the live frames of its conversations.
            self.conn.release_all()
        try:
            self._rate_check()
            if isinstance(command, SharedCommand):
                await self._on_shared(command)
            else:
                await self.on_command(cast(CommandT, command))  # decoded for this endpoint: one of its own
        except PapoteError as exc:
            self.send(error_frame(exc.code, exc.message, command.ref, command.type))
        except Exception:
            log.exception("handler failed on %s frame", command.type)
            self.send(error_frame(ErrorCode.INTERNAL, "internal error; nothing was stored",
                                  command.ref, command.type))

    async def _on_shared(self, command: SharedCommand) -> None:
        """The frames both endpoints accept, with the same meaning on both."""
        assert self.conn is not None
        conn = self.conn
        chat = self.papote.chat
        match command:
            case Resume():
                await self.papote.hub.resume(conn, chat, command.epoch, command.conversations, self.resumed)
            case Fetch():
                self.send(await chat.page(conn.principal, command.conversation, command.before_seq,
                                          command.limit or Fetch.DEFAULT_LIMIT))
            case Typing():
                await chat.typing(conn.principal, command.conversation, command.on, conn.id)
            case Read():
                await chat.mark_read(conn.principal, command.conversation, command.seq, conn.id)
            case Ping():
                self.send({"t": "pong", "n": command.n})
            case _:
                assert_never(command)

    async def pipeline(self, command: Command, stored: asyncio.Future[Any], note: bool = False,
                       on_ack: Callable[[Frame], object] | None = None) -> None:
        """Finish a submitted send once committed — its `ack` (or error) and fan-out — while this
        connection reads its next frames. Most sends finish in the future's callback, without a task
        of their own; those that start or reopen a conversation, or claim one, get a task. Acks carry
        `ref` and `client_msg_id`, so they may overtake each other; a conversation's seqs still follow
        the order the sends were read in."""
        while self._in_flight >= MAX_SENDS_IN_FLIGHT:
            self._room.clear()
            await self._room.wait()
        self._in_flight += 1
        assert self.conn is not None
        principal = self.conn.principal
        origin = self.conn.id
        chat = self.papote.chat

        def done(ack: Frame) -> None:
            if command.ref is not None:
                ack["ref"] = command.ref
            if on_ack is not None:
                on_ack(ack)
            if self.conn is not None:
                self.conn.acknowledged(ack["conversation"], ack["seq"])
            self.send(ack)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, PapoteError):
                self.send(error_frame(exc.code, exc.message, command.ref, command.type))
            else:
                log.error("send failed", exc_info=exc)
                self.send(error_frame(ErrorCode.INTERNAL, "internal error; nothing was stored",
                                      command.ref, command.type))

        def settled() -> None:
            self._in_flight -= 1
            self._room.set()

        async def finish_later(appended: Any) -> None:
            try:
                done(await chat.finish(principal, appended, note=note, origin=origin))
            except Exception as exc:
                failed(exc)
            finally:
                settled()

        def on_stored(future: asyncio.Future[Any]) -> None:
            if future.cancelled():  # the store went away before committing: nothing was acknowledged
                settled()
                return
            exc = future.exception()
            if exc is not None:
                failed(exc)
                settled()
                return
            appended = future.result()
            try:
                ack = chat.finish_simple(principal, appended, note=note, origin=origin)
            except Exception as error:
                failed(error)
                settled()
                return
            if ack is None:
                task = asyncio.create_task(finish_later(appended))
                self._completions.add(task)
                task.add_done_callback(self._completions.discard)
                return
            done(ack)
            settled()

        stored.add_done_callback(on_stored)

    def _rate_check(self) -> None:
        """Count this frame against the connection's and the site's budgets; refuse it over either.
        A connection that keeps sending once refused is closed 4008 (the site's budget closes nobody:
        one visitor's frame is not proof that this visitor floods)."""
        now = self.last_seen
        window = self._rate
        if not window.hit(now):
            if window.refused >= RATE_REFUSALS_BEFORE_CLOSE:
                self.request_close(CloseCode.RATE_LIMITED, "too many frames on this connection")
            raise RateLimited("too many frames on this connection; slow down")
        site = self.site_id
        if site is not None:
            if not self.papote.budgets.hit(self._site_rate_item, "site", site, now):
                raise RateLimited("this site is sending too many frames; slow down")
            shared = self.papote.shared_limits
            if shared is not None:
                if shared.blocked(site):
                    raise RateLimited("this site is sending too many frames; slow down")
                shared.hit(self._site_rate_item, site)

    def _flush_protocol(self, conn: Connection) -> None:
        for data in self.protocol.data_to_send():
            conn.push(data)

    def send(self, frame: Frame) -> None:
        if self.conn is not None:
            self.conn.push(encode(frame))

    # -- closing -------------------------------------------------------------------------------------
    def request_close(self, code: CloseCode, reason: str) -> None:
        """Close from anywhere (a bus listener, the idle reaper, shutdown): the read loop stops."""
        if self._close is not None:
            return
        self._close = (code, reason)
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    async def _finish(self) -> None:
        if self._in_flight:
            # Sends already read are committing: their acks should leave before the close frame.
            deadline = asyncio.get_running_loop().time() + 2.0
            while self._in_flight and asyncio.get_running_loop().time() < deadline:
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), 0.1)
        self.papote.live_sessions.discard(self)
        if self.conn is not None:
            self.papote.hub.remove(self.conn)
            with contextlib.suppress(Exception):
                self.on_closed()
        if self._writer is not None:
            if self._close is not None and self.conn is not None:
                # Let already-queued frames (an error, the last acks) leave before the close frame.
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(self._outgoing.flushed(self.conn.queue), 1.0)
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
        if self._close is not None:
            await self._close_socket(*self._close)

    async def _close_socket(self, code: CloseCode, reason: str) -> None:
        # A stalled peer may never let the close frame out; uvicorn's keepalive reaps it then.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(int(code), reason[:120]), 2.0)

    @staticmethod
    def _bytes_of(message: MutableMapping[str, Any]) -> bytes | None:
        if message["type"] != "websocket.receive":
            return None
        data = message.get("bytes")
        return data if isinstance(data, bytes) else None


class _Refused(Exception):
    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def refuse(code: CloseCode, reason: str) -> _Refused:
    """Raised from `on_hello` to close the socket with a documented code."""
    return _Refused(code, reason)

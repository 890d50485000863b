"""Garbage: malformed frames over many connections; the server answers each and keeps serving.

Kinds of garbage (reliability-anchors F8): random bytes, valid MessagePack of the wrong shape,
truncated frames, oversized frames, deep nesting, text frames, and garbage instead of `hello`.
Every frame must be answered by an `error` frame or a close; afterwards a normal visitor still
chats, and the server's log holds no unhandled exception. CI runs 1,000 frames; `-m soak` runs
the issue's 10,000 over 100 connections.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable

import msgpack
import pytest
from websockets.exceptions import InvalidHandshake

from .client import Closed, Session, Visitor, ws_url
from .conftest import SITE_ORIGIN, ServerProcess

# Protocol limits the garbage aims at (docs/protocol.md §6, server/papote/protocol/).
MAX_FRAME_BYTES = 64 * 1024
NESTING = 200  # far beyond the protocol's depth limit, well inside msgpack's own
# A loopback error answer slower than this is a missing answer.
ANSWER_SECS = 3.0
# What may appear in a server log without being a bug: nothing that says a handler crashed.
CRASH_MARKERS = ("Traceback", "Exception in ASGI application", "Task exception was never retrieved")


def random_bytes(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randint(0, 64))


def wrong_shape(rng: random.Random) -> bytes:
    return msgpack.packb(
        rng.choice(
            [
                [1, 2, 3],
                42,
                "send",
                None,
                {"no_type": 1},
                {"t": 7},
                {"t": "no_such_frame"},
                {"t": "send"},
                {"t": "send", "client_msg_id": 5, "body": "x"},
                {"t": "send", "client_msg_id": "short", "body": "x"},
                {"t": "send", "client_msg_id": "valid-id-0001", "body": ""},
                {"t": "send", "client_msg_id": "valid-id-0001", "body": 12},
                {"t": "send", "conversation": "c_doesnotexist", "client_msg_id": "x" * 80},
                {"t": "read", "conversation": ["x"], "seq": "one"},
                {"t": "typing", "conversation": None, "on": "yes"},
                {"t": "fetch", "conversation": "c_x", "limit": 10**9},
                {"t": "resume", "epoch": 5, "conversations": [1, 2]},
                {"t": "set", "attributes": {f"k{i}": i for i in range(500)}},
                {"t": "hello", "v": 1, "site": "pk_again"},
                {b"t": b"send"},
            ]
        )
    )


def truncated(rng: random.Random) -> bytes:
    whole = msgpack.packb({"t": "send", "client_msg_id": "trunc-0000001", "body": "hello there " * 4})
    return whole[: rng.randint(1, len(whole) - 1)]


def oversized(rng: random.Random) -> bytes:
    return msgpack.packb({"t": "send", "client_msg_id": "big-000001", "body": "x" * 70_000})


def too_long_body(rng: random.Random) -> bytes:
    return msgpack.packb({"t": "send", "client_msg_id": "long-000001", "body": "y" * 4001})


def nested(rng: random.Random) -> bytes:
    value: object = "deep"
    for _ in range(NESTING):
        value = {"t": value} if rng.random() < 0.5 else [value]
    return msgpack.packb({"t": "set", "attributes": {"a": value}})


def huge_header(rng: random.Random) -> bytes:
    # An array32 header claiming 2^32-1 items followed by nothing.
    return b"\xdd\xff\xff\xff\xff"


GARBAGE: list[Callable[[random.Random], bytes]] = [
    random_bytes,
    wrong_shape,
    wrong_shape,
    truncated,
    oversized,
    too_long_body,
    nested,
    huge_header,
]


async def hostile_connection(
    server: ServerProcess,
    frames: int,
    seed: int,
    tally: Counter[str],
    unanswered: list[str],
    internal: list[str],
) -> None:
    rng = random.Random(seed)
    visitor = Visitor(server.base_url, server.site_key, SITE_ORIGIN)
    sent = 0
    while sent < frames:
        if rng.random() < 0.05:
            # Garbage instead of hello: the server must close (4000), never crash.
            session = Session()
            await session.open(ws_url(server.base_url, "/ws/visitor"), {"Origin": SITE_ORIGIN})
            await session.send_raw(rng.choice(GARBAGE)(rng))
            sent += 1
            with pytest.raises(Closed):
                await session.next_frame("welcome")
            tally[f"close {session.close_code}"] += 1
            await session.close()
            continue
        try:
            await visitor.connect()
        except (OSError, InvalidHandshake, Closed) as error:
            tally[f"connect failed {type(error).__name__}"] += 1
            await asyncio.sleep(0.05)
            continue
        session = visitor.session
        try:
            while sent < frames:
                data = rng.choice(GARBAGE)(rng)
                sent += 1
                await session.send_raw(data)
                # Errors travel through the connection's send queue, so they are not ordered with
                # respect to pongs: wait for the error itself.
                try:
                    frame = await asyncio.wait_for(session.next_frame("error"), ANSWER_SECS)
                    tally[f"error {frame['code']}"] += 1
                    if frame["code"] == "internal":
                        # A bug on the server's side by definition (protocol §5): keep the frame.
                        internal.append(f"{frame.get('message')!r} for {data!r:.120}")
                except TimeoutError:
                    tally["unanswered"] += 1
                    unanswered.append(repr(data)[:120])
        except Closed:
            await session.close()
            tally[f"close {session.close_code}"] += 1
    await visitor.session.close()


async def run_garbage(server: ServerProcess, connections: int, frames_each: int) -> Counter[str]:
    tally: Counter[str] = Counter()
    unanswered: list[str] = []
    internal: list[str] = []
    await asyncio.to_thread(server.start)
    await asyncio.gather(
        *(hostile_connection(server, frames_each, seed, tally, unanswered, internal) for seed in range(connections))
    )
    if unanswered:
        print("frames neither answered nor closed:", unanswered[:10])
    if internal:
        print("frames answered `internal`:", internal[:10])
    # Still serving: an ordinary visitor chats normally afterwards.
    visitor = Visitor(server.base_url, server.site_key, SITE_ORIGIN)
    await visitor.connect()
    ack = await visitor.send("after-garbage-0001", "still there?")
    assert ack.seq >= 1
    await visitor.session.close()
    return tally


def check(server: ServerProcess, tally: Counter[str]) -> None:
    print(dict(tally))
    log = server.log_text()
    crashes = [marker for marker in CRASH_MARKERS if marker in log]
    assert not crashes, f"unhandled exceptions in the server log: {crashes}\n{server.log_tail()}"
    assert tally["unanswered"] == 0, f"frames neither answered nor closed: {dict(tally)}"
    assert tally["error internal"] == 0, f"garbage reached a server bug: {dict(tally)}"
    assert not any(k.startswith("connect failed") for k in tally), dict(tally)


@pytest.mark.asyncio
async def test_garbage_is_answered_and_server_keeps_serving(server_process: ServerProcess) -> None:
    tally = await run_garbage(server_process, connections=10, frames_each=100)
    check(server_process, tally)


@pytest.mark.soak
@pytest.mark.asyncio
async def test_garbage_full_size(server_process: ServerProcess) -> None:
    tally = await run_garbage(server_process, connections=100, frames_each=100)
    check(server_process, tally)


async def answer_to(server: ServerProcess, data: bytes | str) -> str:
    """What one malformed frame gets on an open visitor socket: an error code or a close."""
    await asyncio.to_thread(server.start)
    visitor = Visitor(server.base_url, server.site_key, SITE_ORIGIN)
    await visitor.connect()
    try:
        await visitor.session.send_raw(data)
        frame = await visitor.session.next_frame_any()
        return f"{frame['t']} {frame.get('code', '')}".strip()
    except Closed as closed:
        return f"close {closed.code}"
    finally:
        await visitor.session.close()


@pytest.mark.asyncio
async def test_text_frame_is_refused_cleanly(server_process: ServerProcess) -> None:
    # Protocol §0: text WebSocket messages are refused; `internal` means a bug (§5).
    answer = await answer_to(server_process, '{"t": "ping"}')
    assert answer in ("error bad_frame", "close 1003"), answer


@pytest.mark.asyncio
async def test_overlong_ref_is_refused(server_process: ServerProcess) -> None:
    # Protocol §2: `ref` is an integer or a string of at most 64 characters.
    answer = await answer_to(server_process, msgpack.packb({"t": "ping", "ref": "r" * 500}))
    assert answer == "error bad_field", answer

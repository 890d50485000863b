"""The baseline: the cheapest relay we can write on Papote's own stack.

Starlette on uvicorn (``--ws websockets-sansio``, permessage-deflate off), msgpack frames, no
persistence, no authentication. Every benchmark row is reported as a ratio to this server measured
in the same run, because the machine is shared and absolute figures drift by about ±30 %.

It speaks a tiny subset shaped like docs/protocol.md so the load generator's code paths stay alike:

    client → {t: "join", rooms: [conversation id, ...]}          server → {t: "joined"}
    client → {t: "send", ref, conversation, client_msg_id, body}
        sender          ← {t: "ack", ref, client_msg_id, conversation, seq}
        other members   ← {t: "message", conversation, seq, client_msg_id, body}

Left out on purpose: validation, authorization, persistence, heartbeats. Whatever Papote spends on
those is exactly what the ratio to this baseline shows.

Run: ``uvicorn --app-dir bench baseline_relay:app --ws websockets-sansio
--ws-per-message-deflate false`` (bench/run.py does it, pinned to one core).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgpack
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

# conversation id → the sockets that joined it. A set keeps join idempotent.
_rooms: defaultdict[str, set[WebSocket]] = defaultdict(set)
# conversation id → last seq handed out; the relay numbers messages like Papote does, in memory.
_seqs: defaultdict[str, int] = defaultdict(int)

_pack = msgpack.Packer().pack


async def relay(websocket: WebSocket) -> None:
    await websocket.accept()
    joined: list[str] = []
    try:
        while True:
            frame: dict[str, Any] = msgpack.unpackb(await websocket.receive_bytes())
            kind = frame.get("t")
            if kind == "send":
                conversation = frame["conversation"]
                seq = _seqs[conversation] + 1
                _seqs[conversation] = seq
                # Fan-out before the ack, like a server that acks after its own work is done.
                out = _pack(
                    {
                        "t": "message",
                        "conversation": conversation,
                        "seq": seq,
                        "client_msg_id": frame["client_msg_id"],
                        "body": frame["body"],
                    }
                )
                for member in tuple(_rooms[conversation]):
                    if member is not websocket:
                        try:
                            await member.send_bytes(out)
                        except (RuntimeError, OSError):
                            # The member is closing; its own task cleans the room up.
                            pass
                await websocket.send_bytes(
                    _pack(
                        {
                            "t": "ack",
                            "ref": frame.get("ref"),
                            "client_msg_id": frame["client_msg_id"],
                            "conversation": conversation,
                            "seq": seq,
                        }
                    )
                )
            elif kind == "join":
                for conversation in frame["rooms"]:
                    _rooms[conversation].add(websocket)
                    joined.append(conversation)
                await websocket.send_bytes(_pack({"t": "joined", "ref": frame.get("ref")}))
            elif kind == "ping":
                await websocket.send_bytes(_pack({"t": "pong"}))
    except WebSocketDisconnect:
        pass
    finally:
        leave(_rooms, joined, websocket)


def leave(rooms: dict[str, set[Any]], joined: list[str], member: object) -> None:
    """A closed connection leaves the rooms it joined; an empty room goes (bench/durable_relay.py too)."""
    for conversation in joined:
        members = rooms.get(conversation)
        if members is not None:
            members.discard(member)
            if not members:
                del rooms[conversation]


app = Starlette(routes=[WebSocketRoute("/ws", relay)])

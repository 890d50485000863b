"""The peer: the same relay as baseline_relay.py, written the way a Python developer would with
python-socketio (the ASGI server under uvicorn, msgpack serializer), persisting nothing.

Papote's row #1 target is to cost less CPU per delivered message than this server, even though
Papote persists every message and this one does not.

Events (Socket.IO namespace ``/``):

    emit("join", [conversation id, ...])  → ack True; the socket enters those rooms
    emit("send", {conversation, client_msg_id, body}) → ack {client_msg_id, conversation, seq};
        the room minus the sender gets event "message" {conversation, seq, client_msg_id, body}

Run: ``uvicorn --app-dir bench peer_socketio:app --ws websockets-sansio
--ws-per-message-deflate false`` (bench/run.py does it, pinned to one core).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import socketio

# The library's defaults, except the serializer: msgpack keeps the frames the same bytes on the
# wire as the baseline's, so the comparison measures the library, not JSON.
sio = socketio.AsyncServer(async_mode="asgi", serializer="msgpack", cors_allowed_origins="*")
app = socketio.ASGIApp(sio)

_seqs: defaultdict[str, int] = defaultdict(int)


@sio.event
async def join(sid: str, rooms: list[str]) -> bool:
    for conversation in rooms:
        await sio.enter_room(sid, conversation)
    return True


@sio.event
async def send(sid: str, frame: dict[str, Any]) -> dict[str, Any]:
    conversation = frame["conversation"]
    seq = _seqs[conversation] + 1
    _seqs[conversation] = seq
    await sio.emit(
        "message",
        {
            "conversation": conversation,
            "seq": seq,
            "client_msg_id": frame["client_msg_id"],
            "body": frame["body"],
        },
        room=conversation,
        skip_sid=sid,
    )
    return {"client_msg_id": frame["client_msg_id"], "conversation": conversation, "seq": seq}

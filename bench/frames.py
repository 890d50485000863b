"""Decode + validate, per client frame: the protocol core alone, without sockets or a server.

Each frame is fed to an open `ProtocolConnection` (`receive_data`, then `events_received`), as the
socket loop does, so the figure is what one frame costs the event loop before its handler runs. The
frames are the ones the benchmarks send (a send's 48-character body, a conversation id as the server
mints them) plus the other frames of the hot path. Pinned to one core, best of several repeats, in
CPU time (time waiting for a busy core is not counted).

    taskset -c 1 .venv/bin/python -m bench.frames            # the table, in µs per frame
    taskset -c 1 .venv/bin/python -m bench.frames --json     # the same as JSON

Run it against another version of the package with ``PYTHONPATH=<that checkout>/server`` to compare
two implementations in the same hour (docs/performance.md does).
"""

from __future__ import annotations

import argparse
import json
import time
import timeit
from typing import Any

import msgpack

from papote.protocol import Endpoint, ProtocolConnection

CONVERSATION = "c_8fK2mQ9xZpL3vR7tWc1bYq"  # 16 random bytes, url-safe, as `new_id("c")` mints them
BODY = "x" * 48  # bench/loadgen.py's body: a send time and padding
FRAMES: dict[str, tuple[Endpoint, dict[str, Any]]] = {
    "visitor send": (Endpoint.VISITOR, {"t": "send", "ref": 1234, "conversation": CONVERSATION,
                                        "client_msg_id": "b3f9a1v1234567", "body": BODY}),
    "agent send": (Endpoint.AGENT, {"t": "send", "ref": 1234, "conversation": CONVERSATION,
                                    "client_msg_id": "b3f9a1a1234567", "body": BODY}),
    "read": (Endpoint.VISITOR, {"t": "read", "conversation": CONVERSATION, "seq": 4242}),
    "typing": (Endpoint.VISITOR, {"t": "typing", "conversation": CONVERSATION, "on": True}),
    "ping": (Endpoint.VISITOR, {"t": "ping", "n": 17}),
    "resume, 10 conversations": (Endpoint.AGENT, {"t": "resume", "epoch": "e_7bfe49cf5e32f154",
                                                  "conversations": {f"{CONVERSATION[:-2]}{i:02}": i * 7
                                                                    for i in range(10)}}),
    "claim": (Endpoint.AGENT, {"t": "claim", "ref": 9, "conversation": CONVERSATION}),
    "bad field (body too long)": (Endpoint.VISITOR, {"t": "send", "ref": 5, "client_msg_id": "b3f9a1v1234567",
                                                     "body": "y" * 4001}),
}
HELLO = {Endpoint.VISITOR: {"t": "hello", "v": 1, "site": "pk_abc"}, Endpoint.AGENT: {"t": "hello", "v": 1}}


def opened(endpoint: Endpoint) -> ProtocolConnection:
    conn = ProtocolConnection(endpoint)
    conn.receive_data(msgpack.packb(HELLO[endpoint]))
    conn.events_received()
    return conn


def per_frame_us(endpoint: Endpoint, frame: dict[str, Any], number: int, repeat: int) -> float:
    conn = opened(endpoint)
    data = msgpack.packb(frame, use_bin_type=True)

    def once() -> None:
        conn.receive_data(data)
        conn.events_received()
        conn.data_to_send()
        conn.errors = 0  # the error budget would close the connection during the bad-field row

    # CPU time of this process, not wall time: on a shared machine, time spent waiting for the core
    # is not the frame's cost.
    return min(timeit.repeat(once, number=number, repeat=repeat, timer=time.process_time)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {name: per_frame_us(endpoint, frame, args.number, args.repeat)
               for name, (endpoint, frame) in FRAMES.items()}
    if args.json:
        print(json.dumps(results, indent=1))
        return
    for name, us in results.items():
        print(f"{name:28s} {us:6.2f} µs")


if __name__ == "__main__":
    main()

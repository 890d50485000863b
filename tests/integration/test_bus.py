"""The Redis and NATS buses with real parts: a `papote serve` on a private broker, and a second node.

Until the PostgreSQL store lets two `papote serve` share a database, the second node is this test
process: the same SQLite file through its own `SqliteStore` (SQLite serialises the two writers) and
its own bus client with gap repair — exactly what a second server runs, minus the sockets. Each test
starts a private redis-server or nats-server on a free port and kills only that one.

What is proved, for each broker: events cross nodes both ways; a message the broker lost is read from
the store (gap repair), also the last one of a burst (re-check after a reconnect); with the broker
down, sends are still acknowledged, and every node's clients catch up once it is back, with the
repair counter of /healthz above zero. A build that reconnects without repairing fails that test.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from papote.bus import BusEvent
from papote.bus.broker import BrokerBus
from papote.bus.factory import bus_for
from papote.bus.topics import conv_topic
from papote.events import MessageAppended, Typing
from papote.node import StoreHistory
from papote.store import NewMessage
from papote.store.sqlite import SqliteStore
from tests.brokers import Broker
from tests.harness import ROOT, Client, PapoteServer, new_msg_id, visitor

#: A check interval long enough never to run during a test: what the tests see repaired was repaired
#: by a gap or by a reconnect, not by the periodic check.
NO_PERIODIC_CHECK = "3600"
#: Generous: several suites share this 2-core machine.
WAIT_SECS = 30.0


async def until(condition: Callable[[], object], what: str, timeout: float = WAIT_SECS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class OtherNode:
    """A second node without sockets: the shared database, its own bus, and what its listeners got."""

    store: SqliteStore
    bus: BrokerBus
    got: list[BusEvent] = field(default_factory=list)

    def listen(self, topic: str, event: BusEvent) -> None:
        self.got.append(event)

    def seqs(self) -> list[int]:
        return [e.event.message.seq for e in self.got if isinstance(e.event, MessageAppended)]

    async def append(self, site_id: str, cid: str, visitor_id: str, body: str) -> int:
        """A message committed by this node (as if one of its clients sent it)."""
        appended = await self.store.append(NewMessage(site_id, cid, "visitor", visitor_id, "", "text", body,
                                                      new_msg_id()))
        return appended.message.seq


@pytest.fixture(params=["redis", "nats"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    b = Broker(request.param, tmp_path / request.param)
    b.start()
    yield b
    b.kill()


def serve(tmp_path: Path, broker: Broker, launcher: list[str] | None = None) -> PapoteServer:
    workdir = tmp_path / "node-a"
    workdir.mkdir()
    server = PapoteServer(workdir, env_extra={"PAPOTE_BUS": broker.url,
                                              "PAPOTE_BUS_CHECK_SECS": NO_PERIODIC_CHECK,
                                              "PYTHONPATH": str(ROOT)})
    if launcher is not None:
        server.launcher = launcher
    server.init()
    server.start()
    return server


@pytest.fixture
def node_a(tmp_path: Path, broker: Broker, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = serve(tmp_path, broker)
    yield server
    server.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("\n----- server log -----\n" + server.logs()[-20000:])


@pytest_asyncio.fixture
async def node_b(node_a: PapoteServer, broker: Broker) -> AsyncIterator[OtherNode]:
    async with other_node(node_a, broker) as node:
        yield node


@contextlib.asynccontextmanager
async def other_node(server: PapoteServer, broker: Broker) -> AsyncIterator[OtherNode]:
    store = SqliteStore(str(server.db_path), "FULL")
    await store.open()
    bus = bus_for(broker.url, check_secs=3600)
    assert isinstance(bus, BrokerBus)
    bus.repair.history = StoreHistory(store)
    await bus.start()
    try:
        await until(lambda: bus.connected, "the second node's bus to connect")
        yield OtherNode(store, bus)
    finally:
        await bus.stop()
        await store.close()


def bus_stats(server: PapoteServer) -> dict[str, Any]:
    status, body, _ = server.http("GET", "/healthz")
    assert status == 200, body
    return body["bus"]  # type: ignore[no-any-return]


async def first_message(server: PapoteServer) -> tuple[Client, str, str, str]:
    """A visitor on node A with a conversation: (client, conversation id, site id, visitor id)."""
    v = await visitor(server)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hello"})
    ack = await v.expect("ack", timeout=WAIT_SECS)
    cid = ack["conversation"]
    conv = await asyncio.to_thread(server.http, "GET", f"/api/conversations/{cid}", None, server.login())
    assert conv[0] == 200, conv
    return v, cid, conv[1]["site_id"], v.welcome["visitor"]["id"]


async def messages(client: Client, seqs: set[int], timeout: float = WAIT_SECS) -> dict[int, dict[str, Any]]:
    """Wait until `client` got a `message` frame for each of `seqs`; return them by seq."""
    got: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    for frame in client.frames:
        if frame["t"] == "message":
            got[frame["seq"]] = frame
    while not seqs <= set(got):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"messages {sorted(seqs - set(got))} never arrived (got {sorted(got)})")
        try:
            frame = await client.recv(left)
        except TimeoutError:
            continue
        if frame["t"] == "message":
            got[frame["seq"]] = frame
    return got


@pytest.mark.asyncio
async def test_events_cross_nodes_both_ways(node_a: PapoteServer, node_b: OtherNode) -> None:
    v, cid, site_id, visitor_id = await first_message(node_a)
    await node_b.bus.subscribe(conv_topic(cid), node_b.listen)
    # The check that follows a subscription reads the store: a message committed before it ran would
    # be repaired from there (no origin), not carried by the broker, which is what this test proves.
    await until(lambda: not node_b.bus.busy, "node B's baseline read and check")
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(), "body": "from A"})
    ack = await v.expect("ack", timeout=WAIT_SECS)
    await until(lambda: ack["seq"] in node_b.seqs(), "node A's message on node B")
    crossed = next(e for e in node_b.got if isinstance(e.event, MessageAppended))
    assert crossed.event.message.body == "from A" and crossed.origin is not None
    assert crossed.origin.split(".")[0] == node_a.http("GET", "/healthz")[1]["node"]

    node_b.bus.publish(conv_topic(cid), Typing(cid, {"kind": "agent", "id": "a_b", "name": "Bea"}, True))
    typing = await v.expect("typing", timeout=WAIT_SECS)
    assert typing["author"]["name"] == "Bea" and typing["on"] is True
    seq = await node_b.append(site_id, cid, visitor_id, "from B")
    appended = await node_b.store.messages_after(cid, seq - 1, 1, include_notes=True)
    node_b.bus.publish(conv_topic(cid), MessageAppended(appended[0]), origin=f"{node_b.bus.node}.1")
    got = await messages(v, {seq})
    assert got[seq]["body"] == "from B"
    assert bus_stats(node_a)["received"] >= 2


@pytest.mark.asyncio
async def test_a_message_the_broker_lost_is_read_from_the_store(node_a: PapoteServer, node_b: OtherNode) -> None:
    v, cid, site_id, visitor_id = await first_message(node_a)
    before = bus_stats(node_a)["repairs"]
    lost = await node_b.append(site_id, cid, visitor_id, "lost on the way")  # never published
    seen = await node_b.append(site_id, cid, visitor_id, "published")
    message = (await node_b.store.messages_after(cid, seen - 1, 1, include_notes=True))[0]
    node_b.bus.publish(conv_topic(cid), MessageAppended(message))
    got = await messages(v, {lost, seen})
    assert got[lost]["body"] == "lost on the way"
    order = [f["seq"] for f in v.frames if f["t"] == "message"]
    assert order.index(lost) < order.index(seen), "the repaired message must come first"
    assert bus_stats(node_a)["repairs"] > before


async def run_outage(node_a: PapoteServer, node_b: OtherNode, broker: Broker) -> dict[str, Any]:
    """Kill the broker; each node commits messages (node A's acknowledged to its visitor); bring the
    broker back. Returns what each side's clients got."""
    v, cid, site_id, visitor_id = await first_message(node_a)
    await node_b.bus.subscribe(conv_topic(cid), node_b.listen)
    broker.kill()
    await until(lambda: not bus_stats(node_a)["connected"], "node A to see the broker gone")
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),
                  "body": "sent during the outage"})
    ack = await v.expect("ack", timeout=WAIT_SECS)  # accepted, committed, acknowledged: broker or not
    from_b = await node_b.append(site_id, cid, visitor_id, "committed on B during the outage")
    message = (await node_b.store.messages_after(cid, from_b - 1, 1, include_notes=True))[0]
    node_b.bus.publish(conv_topic(cid), MessageAppended(message))  # nowhere to go: the broker is down
    connects = bus_stats(node_a)["connects"]
    broker.start()
    await until(lambda: bus_stats(node_a)["connects"] > connects and node_b.bus.connected,
                "both nodes to reconnect")
    result: dict[str, Any] = {"ack": ack["seq"], "from_b": from_b}
    try:
        result["a_got"] = sorted(await messages(v, {from_b}, timeout=10))
    except AssertionError:
        result["a_got"] = []
    try:
        await until(lambda: ack["seq"] in node_b.seqs(), "node A's message on node B", timeout=10)
    except AssertionError:
        pass
    result["b_got"] = node_b.seqs()
    result["stats"] = bus_stats(node_a)
    return result


@pytest.mark.asyncio
async def test_nothing_is_lost_when_the_broker_dies(node_a: PapoteServer, node_b: OtherNode, broker: Broker) -> None:
    result = await run_outage(node_a, node_b, broker)
    assert result["from_b"] in result["a_got"], result
    assert result["ack"] in result["b_got"], result
    assert result["stats"]["repairs"] > 0 and result["stats"]["dropped"] > 0, result


@pytest.mark.asyncio
async def test_the_outage_test_catches_a_reconnect_without_repair(tmp_path: Path, broker: Broker) -> None:
    """Self-check: against a build whose bus reconnects without re-checking, the outage loses."""
    assert (ROOT / "tests" / "faults" / "mutant_bus_reconnect_without_repair.py").exists()
    server = serve(tmp_path, broker, [sys.executable, "-m", "tests.faults.mutant_bus_reconnect_without_repair"])
    try:
        async with other_node(server, broker) as node_b:
            result = await run_outage(server, node_b, broker)
        assert result["from_b"] not in result["a_got"], f"the mutant was not caught: {result}"
    finally:
        server.stop()

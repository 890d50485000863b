"""Several `papote serve` nodes on one PostgreSQL database and one broker (tests/nodes.py), with real clients.

What one node promises must hold when the visitor and the agent reach different nodes, and when a
client comes back through another one (no sticky sessions): messages both ways, live, in seq order,
once each; presence and the number of agents online the same from every node; routing by two nodes
at once that never assigns one conversation twice nor fills an agent beyond capacity; a removed
origin refused by every node within a second; a server-wide `papote agent disable` closing the
agent's sockets on every node; one site's rate budget spent across nodes; the periodic job run by one
node at a time; a message committed while the broker was down delivered once it is back. The
delivery and routing cases run on Redis and on NATS; the others on Redis. Each mutant of
tests/faults that these cases stand guard against is run on two nodes and must be caught.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from papote.errors import CloseCode
from tests import postgres
from tests.brokers import Broker
from tests.harness import ROOT, Client, agent, new_msg_id, visitor
from tests.nodes import Cluster, Node, any_broker, cluster, database, redis_broker

pytestmark = pytest.mark.asyncio
__all__ = ["any_broker", "database", "redis_broker"]

#: Generous bounds: several suites share this 2-core machine. What must be fast says so itself.
WAIT_SECS = 30.0
#: A change to a site, an origin or an agent reaches every node within this (issue 10 §2 item 8).
CHANGE_SECS = 1.0




def failed(request: pytest.FixtureRequest) -> Callable[[], bool]:
    def check() -> bool:
        report = getattr(request.node, "rep_call", None)
        return report is not None and report.failed

    return check


async def until(condition: Callable[[], Any], what: str, timeout: float = WAIT_SECS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def stored(node: Node, cid: str, cookie: str) -> list[dict[str, Any]]:
    """Every message of a conversation as the store holds it, in seq order (notes included)."""
    out: list[dict[str, Any]] = []
    while True:
        status, body, _ = node.http("GET", f"/api/conversations/{cid}/messages?after_seq="
                                    f"{out[-1]['seq'] if out else 0}&limit=200", cookie=cookie)
        assert status == 200, body
        out.extend(body["messages"])
        if len(body["messages"]) < 200:
            return out


def seqs_of(client: Client, cid: str, t: str = "message") -> list[int]:
    return [f["seq"] for f in client.frames if f["t"] == t and f.get("conversation") == cid]


def history_seqs(client: Client, cid: str) -> list[int]:
    return [m["seq"] for f in client.frames if f["t"] == "history" and f["conversation"] == cid
            for m in f["messages"]]


async def drain(client: Client, seconds: float = 0.2) -> None:
    """Move what has arrived into `client.frames` (its reader is `recv`)."""
    client.backlog.extend(await client.quiet(seconds))


async def start_conversation(node: Node, origin: str, body: str = "hello") -> tuple[Client, str]:
    v = await visitor(node, origin=origin)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": body})
    ack = await v.expect("ack", timeout=WAIT_SECS, ref=1)
    return v, ack["conversation"]


async def resumed_agent(node: Node, cookie: str, conversations: dict[str, int]) -> Client:
    a = await agent(node, cookie)
    await a.send({"t": "resume", "ref": 1, "epoch": a.welcome["epoch"], "conversations": conversations})
    for cid in conversations:
        await a.expect("history", timeout=WAIT_SECS, conversation=cid)
    return a


# -- delivery -------------------------------------------------------------------------------------------
async def test_a_visitor_and_an_agent_on_two_nodes_talk_live_in_order_once(
    tmp_path: Path, database: str, any_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    async with cluster(tmp_path, database, any_broker, 2, failed=failed(request)) as nodes:
        cookie = nodes[1].login()
        v, cid = await start_conversation(nodes[0], nodes.origin)
        a = await resumed_agent(nodes[1], cookie, {cid: 0})
        rounds = 15
        sent: dict[str, str] = {}
        for i in range(rounds):  # pipelined both ways at once: the two streams interleave in the store
            for client, who in ((v, "visitor"), (a, "agent")):
                msg_id = new_msg_id()
                sent[msg_id] = f"{who} {i}"
                await client.send({"t": "send", "ref": 100 + i, "conversation": cid, "client_msg_id": msg_id,
                                   "body": f"{who} {i}"})
        v_acks = [await v.expect("ack", timeout=WAIT_SECS, ref=100 + i) for i in range(rounds)]
        a_acks = [await a.expect("ack", timeout=WAIT_SECS, ref=100 + i) for i in range(rounds)]
        last = max(x["seq"] for x in v_acks + a_acks)
        for client in (v, a):
            await catch_up(client, cid, last)
        await drain(v)
        await drain(a)
        messages = stored(nodes[0], cid, cookie)
        by_seq = {m["seq"]: m for m in messages}
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
        assert sorted(m["client_msg_id"] for m in messages if m["client_msg_id"] in sent) == sorted(sent)
        for client, acks in ((v, v_acks), (a, a_acks)):
            live = seqs_of(client, cid)
            assert live == sorted(live) and len(live) == len(set(live)), f"out of order or twice: {live}"
            own = {x["seq"] for x in acks}
            assert not own & set(live), "a client is never sent its own message back"
            seen = set(live) | own | set(history_seqs(client, cid)) | {1}
            assert seen >= set(range(1, last + 1)), f"missing {sorted(set(range(1, last + 1)) - seen)}"
            for f in client.frames:
                if f["t"] == "message" and f["conversation"] == cid:
                    assert (f["body"], f["client_msg_id"]) == (by_seq[f["seq"]]["body"],
                                                               by_seq[f["seq"]]["client_msg_id"])


async def catch_up(client: Client, cid: str, seq: int, timeout: float = WAIT_SECS) -> None:
    """Read frames until `client` has heard of `seq` in `cid`."""
    deadline = time.monotonic() + timeout
    while _highest(client, cid) < seq:
        left = deadline - time.monotonic()
        assert left > 0, f"seq {seq} never reached the client (it has {_highest(client, cid)})"
        client.backlog.append(await client.recv(left))


async def assigned(node: Node, cookie: str, client: Client, cid: str) -> None:
    """Wait until routing has assigned `cid` to the agent and the agent `client` has heard of it.
    The assignment is a message (an event with a seq) committed whenever routing sees the agent
    online: a test that counts seqs must not let it land in the middle of its own sends."""
    seqs = await until(lambda: [m["seq"] for m in stored(node, cid, cookie) if m.get("event") == "assigned"],
                       "the conversation assigned")
    await catch_up(client, cid, seqs[0])


def _highest(client: Client, cid: str) -> int:
    """The highest seq `client` has heard of in `cid` (live, history or its own acks)."""
    seqs = [f["seq"] for f in client.frames + client.backlog
            if f["t"] in ("message", "ack") and f.get("conversation") == cid]
    return max(seqs + history_seqs(client, cid) + [0])


async def test_a_client_resumes_on_another_node(
    tmp_path: Path, database: str, any_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    async with cluster(tmp_path, database, any_broker, 2, failed=failed(request)) as nodes:
        cookie = nodes[1].login()
        v, cid = await start_conversation(nodes[0], nodes.origin)
        token = v.welcome["token"]
        a = await resumed_agent(nodes[1], cookie, {cid: 0})
        await drain(v)
        seen = _highest(v, cid)
        await v.close()
        replies = []
        for i in range(3):  # committed while the visitor has no socket
            await a.send({"t": "send", "ref": 10 + i, "conversation": cid, "client_msg_id": new_msg_id(),
                          "body": f"reply {i}"})
            replies.append((await a.expect("ack", timeout=WAIT_SECS, ref=10 + i))["seq"])
        # The load balancer sends the visitor to the other node this time.
        back = await visitor(nodes[1], token=token, origin=nodes.origin)
        assert back.welcome["visitor"]["id"] == v.welcome["visitor"]["id"]
        await back.send({"t": "resume", "epoch": back.welcome["epoch"], "conversations": {cid: seen}})
        page = await back.expect("history", timeout=WAIT_SECS, conversation=cid)
        assert set(replies) <= {m["seq"] for m in page["messages"]}, page
        assert [m["seq"] for m in page["messages"]] == list(range(seen + 1, page["last_seq"] + 1))
        # And the agent moves to the first node: live delivery goes on across the swap.
        await a.close()
        a2 = await resumed_agent(nodes[0], cookie, {cid: page["last_seq"]})
        await a2.send({"t": "send", "ref": 20, "conversation": cid, "client_msg_id": new_msg_id(),
                       "body": "still here"})
        ack = await a2.expect("ack", timeout=WAIT_SECS, ref=20)
        live = await back.expect("message", timeout=WAIT_SECS, seq=ack["seq"])
        assert live["body"] == "still here"
        await back.send({"t": "send", "ref": 21, "conversation": cid, "client_msg_id": new_msg_id(), "body": "thanks"})
        mine = await back.expect("ack", timeout=WAIT_SECS, ref=21)
        assert (await a2.expect("message", timeout=WAIT_SECS, seq=mine["seq"]))["body"] == "thanks"


# -- presence -------------------------------------------------------------------------------------------
async def test_presence_and_agents_online_are_seen_from_every_node(
    tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    async with cluster(tmp_path, database, redis_broker, 3, failed=failed(request)) as nodes:
        nodes.wait_nodes_see_each_other()
        watchers = [await visitor(n, origin=nodes.origin) for n in nodes]
        assert all(w.welcome["site"]["agents_online"] == 0 for w in watchers)
        a = await agent(nodes[0])
        me = a.welcome["agent"]["id"]
        for w in watchers:  # every node tells its own visitors
            assert (await w.expect("availability", timeout=WAIT_SECS, agents_online=1))["agents_online"] == 1
        _, colleague = nodes.new_agent("colleague@nodes.test", "agent-password-123")
        for n in nodes.nodes[1:]:  # a visitor arriving on any node is told, and so is a colleague's console
            assert (await visitor(n, origin=nodes.origin)).welcome["site"]["agents_online"] == 1
            console = await agent(n, colleague)
            entry = next(x for x in console.welcome["agents"] if x["id"] == me)
            assert entry["status"] == "online", console.welcome["agents"]
            await console.close()
        await a.send({"t": "status", "ref": 1, "status": "away"})
        await a.expect("ok", ref=1)
        for w in watchers:
            await w.expect("availability", timeout=WAIT_SECS, agents_online=0)
        status, team, _ = nodes[2].http("GET", f"/api/sites/{nodes.site_key}/agents", cookie=nodes[2].login())
        assert status == 200, team
        assert next(m for m in team["agents"] if m["id"] == me)["status"] == "away"
        await a.send({"t": "status", "ref": 2, "status": "online"})
        for w in watchers:
            await w.expect("availability", timeout=WAIT_SECS, agents_online=1)
        await a.close()  # the agent leaves: every node's visitors see nobody online
        for w in watchers:
            await w.expect("availability", timeout=WAIT_SECS, agents_online=0)


# -- routing --------------------------------------------------------------------------------------------
#: Four agents of capacity 3, two on each node, and twice as many conversations queued as they can take.
ROUTE_AGENTS, ROUTE_CAPACITY, ROUTE_QUEUED = 4, 3, 24


async def routing_race(nodes: Cluster) -> dict[str, Any]:
    """Queue conversations with nobody online, then sign in agents on both nodes at once: both nodes
    route the same line at the same moment. Returns what the store holds of each conversation."""
    owner = nodes[0].login()
    agents, cookies = [], []
    for i in range(ROUTE_AGENTS):
        node = nodes[i % 2]
        agent_id, cookie = nodes.new_agent(f"agent{i}@nodes.test", "agent-password-123", node=i % 2,
                                           owner_cookie=owner)
        status, body, _ = node.http("PATCH", "/api/me", {"capacity": ROUTE_CAPACITY}, cookie)
        assert status == 200, body
        agents.append(agent_id)
        cookies.append(cookie)
    cids = []
    for i in range(ROUTE_QUEUED):
        v, cid = await start_conversation(nodes[i % 2], nodes.origin, f"waiting {i}")
        cids.append(cid)
    consoles = await asyncio.gather(*(agent(nodes[i % 2], cookies[i]) for i in range(ROUTE_AGENTS)))
    slots = ROUTE_AGENTS * ROUTE_CAPACITY

    def assigned_events() -> int:
        return sum(1 for c in consoles for f in c.frames + c.backlog
                   if f["t"] == "message" and f.get("event") == "assigned")

    # Every slot is filled (by the agents' sign-ins or, for a node that left the line to the other, by
    # the leader's sweep), then a little longer for any assignment still on its way.
    for c in consoles:
        await drain(c, 0.05)
    deadline = time.monotonic() + WAIT_SECS
    while time.monotonic() < deadline:
        status, listed, _ = await asyncio.to_thread(
            nodes[0].http, "GET", "/api/conversations?status=open&limit=200", None, owner)
        assert status == 200, listed
        if sum(1 for c in listed["conversations"] if c.get("assignee")) >= slots:
            break
        await asyncio.sleep(0.2)
    for c in consoles:
        await drain(c, 0.5)
    history = {cid: await asyncio.to_thread(stored, nodes[0], cid, owner) for cid in cids}
    return {"agents": agents, "history": history, "told": assigned_events(), "slots": slots}


def routing_faults(race: dict[str, Any]) -> list[str]:
    """What went wrong in a routing race: conversations assigned twice, agents beyond capacity."""
    faults = []
    holds: dict[str, int] = dict.fromkeys(race["agents"], 0)
    assigned = 0
    for cid, messages in race["history"].items():
        events = [m for m in messages if m["kind"] == "event" and m.get("event") == "assigned"]
        if len(events) > 1:
            faults.append(f"{cid} assigned {len(events)} times: {[e['data']['agent']['id'] for e in events]}")
        for e in events:
            holds[e["data"]["agent"]["id"]] = holds.get(e["data"]["agent"]["id"], 0) + 1
        assigned += bool(events)
    faults.extend(f"{a} was given {n} conversations (capacity {ROUTE_CAPACITY})"
                  for a, n in holds.items() if n > ROUTE_CAPACITY)
    if assigned != race["slots"] and not faults:
        faults.append(f"{assigned} conversations assigned for {race['slots']} slots")
    return faults


async def test_two_nodes_routing_at_once_never_assign_twice_nor_beyond_capacity(
    tmp_path: Path, database: str, any_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    async with cluster(tmp_path, database, any_broker, 2, failed=failed(request)) as nodes:
        nodes.wait_nodes_see_each_other()
        race = await routing_race(nodes)
    assert routing_faults(race) == []


#: Races the mutant may run before one must show its fault. Two nodes routing at once interleave by
#: chance: one race in many dozens was seen to serialise by itself on a loaded machine, and a self-check
#: that fails by luck is noise. Each race runs on a fresh database and cluster.
MUTANT_RACES = 3


async def test_the_routing_race_catches_routing_without_the_cross_node_lock(
    tmp_path: Path, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    """Self-check: nodes that assign without the store's conditions (unassigned, below capacity) are
    caught assigning one conversation twice."""
    mutant = [sys.executable, "-m", "tests.faults.mutant_routing_without_lock"]
    assert (ROOT / "tests" / "faults" / "mutant_routing_without_lock.py").exists()
    faults: list[str] = []
    for attempt in range(MUTANT_RACES):
        workdir = tmp_path / f"race-{attempt}"
        workdir.mkdir()
        async with postgres.database() as database, cluster(workdir, database, redis_broker, 2,
                                                            failed=failed(request), launcher=mutant) as nodes:
            nodes.wait_nodes_see_each_other()
            race = await routing_race(nodes)
        faults = routing_faults(race)
        if faults:
            break
    assert faults, f"the mutant was not caught in {MUTANT_RACES} races"


# -- changes seen everywhere ----------------------------------------------------------------------------
OTHER_ORIGIN = "http://other.nodes.test"


async def admitted(node: Node, site_key: str, origin: str) -> bool:
    """Whether a visitor's hello from `origin` is welcomed (False: closed for its origin)."""
    async with connect(node.ws_url + "/ws/visitor", origin=origin) as ws:  # type: ignore[arg-type]
        await ws.send(msgpack.packb({"t": "hello", "v": 1, "site": site_key}))
        try:
            frame = msgpack.unpackb(await asyncio.wait_for(ws.recv(), WAIT_SECS))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == CloseCode.ORIGIN_NOT_ALLOWED, closed
            return False
        assert frame["t"] == "welcome", frame
        return True


async def test_a_removed_origin_stops_working_on_every_node_within_a_second(
    tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    async with cluster(tmp_path, database, redis_broker, 3, failed=failed(request)) as nodes:
        cookie = nodes[0].login()
        status, body, _ = nodes[0].http("PATCH", f"/api/sites/{nodes.site_key}",
                                        {"origins": [nodes.origin, OTHER_ORIGIN]}, cookie)
        assert status == 200, body
        for n in nodes:  # every node has the site cached, with the other origin allowed
            deadline = time.monotonic() + WAIT_SECS
            while not await admitted(n, nodes.site_key, OTHER_ORIGIN):
                assert time.monotonic() < deadline, f"{n.name} never allowed the added origin"
                await asyncio.sleep(0.05)
        status, body, _ = nodes[0].http("PATCH", f"/api/sites/{nodes.site_key}", {"origins": [nodes.origin]},
                                        cookie)
        assert status == 200, body
        changed = time.monotonic()
        took = {}
        for n in nodes:
            while await admitted(n, nodes.site_key, OTHER_ORIGIN):
                assert time.monotonic() - changed < WAIT_SECS, f"{n.name} still allows the removed origin"
                await asyncio.sleep(0.01)
            took[n.name] = round(time.monotonic() - changed, 3)
            assert await admitted(n, nodes.site_key, nodes.origin)
        print(f"removed origin refused after {took} s")
        assert max(took.values()) <= CHANGE_SECS, took


async def test_a_server_wide_disable_from_the_cli_reaches_every_node(
    tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    # Sessions are checked against the store every 10 s by default; the CLI's word on the bus is faster.
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed(request)) as nodes:
        email, password = "leaving@nodes.test", "agent-password-123"
        nodes.new_agent(email, password)
        consoles = [await agent(n, n.login(email, password)) for n in nodes]
        started = time.monotonic()
        out = await asyncio.to_thread(nodes.cli, "agent", "disable", "--email", email)
        assert "disabled" in out
        for c in consoles:
            with pytest.raises(ConnectionClosed) as closed:
                await c.expect("never", timeout=WAIT_SECS)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.SESSION_REVOKED
        took = time.monotonic() - started
        print(f"disable reached both nodes' sockets in {took:.2f} s (CLI start included)")
        assert took < 10, "the sockets closed on the periodic session check, not on the CLI's word"
        for n in nodes:
            status, body, _ = n.http("POST", "/api/login", {"email": email, "password": password})
            assert status in (401, 403), body


async def test_one_sites_rate_budget_is_spent_across_nodes(
    tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    budget = 40
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed(request),
                 env_extra={"PAPOTE_RATE_PER_SITE": f"{budget}/30second"}) as nodes:
        first = await visitor(nodes[0], origin=nodes.origin)
        for i in range(budget * 3 // 4):  # three quarters of the budget on node 0: all pass there
            await first.send({"t": "ping", "ref": i, "n": i})
            await first.expect("pong", timeout=WAIT_SECS)
        second = await visitor(nodes[1], origin=nodes.origin)
        refused_at = None
        deadline = time.monotonic() + WAIT_SECS
        for i in range(budget * 2):  # on node 1, the budget runs out after the quarter left
            await second.send({"t": "ping", "ref": i, "n": i})
            answer = await second.recv(WAIT_SECS)
            if answer["t"] == "error":
                assert answer["code"] == "rate_limited", answer
                refused_at = i
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)  # each node tells Redis its sums every 0.25 s
        assert refused_at is not None, "node 1 never counted what node 0 spent"
        assert refused_at < budget, f"node 1 let {refused_at} frames through: it counted alone"


async def test_one_customer_addresss_inbound_budget_is_spent_across_nodes(
    tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    """The inbound API's per-address budget (inbound_limits.py) counted in Redis like the site's: a
    contact's messages spread over two nodes meet one budget."""
    budget = 8
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed(request),
                       env_extra={"PAPOTE_RATE_INBOUND_PER_ADDRESS": f"{budget}/minute"}) as nodes:
        status, key, _ = nodes[0].http("POST", f"/api/sites/{nodes.site_key}/keys", {"name": "crm"},
                                       cookie=nodes[0].login())
        assert status == 201, key
        bearer = {"authorization": f"Bearer {key['key']}"}

        def say(node: Node, n: int) -> tuple[int, Any]:
            status, body, _ = node.http("POST", f"/api/sites/{nodes.site_key}/inbound/messages",
                                        {"contact": {"external_id": "crm-77"}, "client_msg_id": f"flood-{n:04d}",
                                         "body": f"message {n}"}, headers=bearer)
            return status, body

        for i in range(budget * 3 // 4):  # three quarters of the budget on node 0: all pass there
            assert say(nodes[0], i)[0] == 201
        refused_at = None
        deadline = time.monotonic() + WAIT_SECS
        for i in range(budget):  # on node 1, the budget runs out after the quarter left
            status, body = say(nodes[1], 100 + i)
            if status != 201:
                assert (status, body["error"]["code"]) == (429, "rate_limited"), body
                refused_at = i
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.5)  # each node tells Redis its sums every 0.25 s
        assert refused_at is not None, "node 1 never counted what node 0 spent"
        # Alone it would let all `budget` through; counting node 0's, the quarter left (and what is on its
        # way to Redis while a busy machine flushes late).
        assert refused_at < budget * 3 // 4, f"node 1 let {refused_at} messages through: it counted alone"


async def test_one_uploaders_budget_is_spent_across_nodes(
    tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    from papote.attachments import UPLOAD_RATE
    from tests.integration.test_attachments import upload_as_agent

    budget = UPLOAD_RATE.amount
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed(request)) as nodes:
        cookies = [nodes[0].login(), nodes[1].login()]
        for i in range(budget * 3 // 4):  # three quarters of the budget on node 0: all pass there
            status, body = upload_as_agent(nodes[0], cookies[0], b"%PDF-1.4 " + bytes([i]), f"n0-{i}.pdf")
            assert status == 201, body
        refused_at = None
        deadline = time.monotonic() + WAIT_SECS
        for i in range(budget):  # on node 1, the budget runs out after the quarter left
            status, body = upload_as_agent(nodes[1], cookies[1], b"%PDF-1.4 " + bytes([i]), f"n1-{i}.pdf")
            if status != 201:
                assert (status, body.get("error", body).get("code")) == (429, "rate_limited"), body
                refused_at = i
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)  # each node tells Redis its sums every 0.25 s
        assert refused_at is not None, "node 1 never counted what node 0 spent"
        assert refused_at < budget // 2, f"node 1 let {refused_at} uploads through: it counted alone"


async def test_the_periodic_job_runs_on_one_node_at_a_time(
    tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    from papote.cluster import SWEEP_SECS

    async with cluster(tmp_path, database, redis_broker, 3, failed=failed(request)) as nodes:
        await agent(nodes[0])  # the sweep routes the sites that have someone online
        nodes.wait_nodes_see_each_other()

        def sweeps() -> int:
            return sum(h["cluster"]["sweeps"] for h in nodes.healthz())

        # Read in the middle of a slot, when no sweep is running anywhere.
        await asyncio.sleep(SWEEP_SECS - time.time() % SWEEP_SECS + SWEEP_SECS / 2)
        before = sweeps()
        slots = 2
        await asyncio.sleep(SWEEP_SECS * slots - (time.time() % SWEEP_SECS - SWEEP_SECS / 2))
        ran = sweeps() - before
        assert ran == slots, f"{ran} sweeps in {slots} slots across {len(nodes)} nodes"


# -- the mutants of one node, caught across nodes -------------------------------------------------------
#: The reconnect's re-check reads the store within a second of the broker's return; ten on a busy machine.
REPAIR_SECS = 10.0
#: No periodic position check during the test: what is repaired, the reconnect repaired.
NO_PERIODIC_CHECK = {"PAPOTE_BUS_CHECK_SECS": "3600"}


async def broker_outage(nodes: Cluster, broker: Broker) -> dict[str, Any]:
    """A visitor on node 0 sends while the broker is down; its agent follows on node 1. Once the broker
    is back no other message follows: only node 1's re-check after its reconnect can deliver it."""
    cookie = nodes[1].login()
    v, cid = await start_conversation(nodes[0], nodes.origin)
    a = await resumed_agent(nodes[1], cookie, {cid: 0})
    # Were routing's assignment committed after the outage, it would reveal the gap by itself, and the
    # mutant would go uncaught: so the outage starts once it has reached the agent.
    await assigned(nodes[1], cookie, a, cid)
    await drain(a)
    broker.kill()
    await until(lambda: not any(h["bus"]["connected"] for h in nodes.healthz()), "both nodes to lose the broker")
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),
                  "body": "sent while the broker was down"})
    ack = await v.expect("ack", timeout=WAIT_SECS, ref=2)  # committed and acknowledged, broker or not
    await asyncio.to_thread(broker.start)
    await asyncio.to_thread(nodes.wait_bus_connected)
    try:
        await catch_up(a, cid, ack["seq"], timeout=REPAIR_SECS)
        delivered = True
    except (AssertionError, TimeoutError):
        delivered = False
    return {"delivered": delivered, "repairs": nodes[1].healthz()["bus"]["repairs"]}


async def test_a_message_sent_while_the_broker_is_down_reaches_the_other_node(
    tmp_path: Path, database: str, any_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    async with cluster(tmp_path, database, any_broker, 2, failed=failed(request),
                       env_extra=NO_PERIODIC_CHECK) as nodes:
        result = await broker_outage(nodes, any_broker)
    assert result["delivered"] and result["repairs"] > 0, result


async def test_the_outage_catches_a_reconnect_without_repair_across_nodes(
    tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    mutant = [sys.executable, "-m", "tests.faults.mutant_bus_reconnect_without_repair"]
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed(request), launcher=mutant,
                       env_extra=NO_PERIODIC_CHECK) as nodes:
        result = await broker_outage(nodes, redis_broker)
    assert not result["delivered"], f"the mutant was not caught: {result}"


async def committed_only(nodes: Cluster) -> list[str]:
    """A visitor on node 0 sends, re-sends one client_msg_id with another body (refused), sends again;
    its agent follows on node 1. Returns what node 1's agent received that the store does not hold."""
    cookie = nodes[1].login()
    v, cid = await start_conversation(nodes[0], nodes.origin, "first")
    a = await resumed_agent(nodes[1], cookie, {cid: 0})
    # The mutant guesses its message's seq; an assignment committed meanwhile takes that seq, and the
    # guess is then dropped as a duplicate instead of showing its body: so the sends start after it.
    await assigned(nodes[1], cookie, a, cid)
    reused = new_msg_id()
    await v.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": reused, "body": "second"})
    await v.expect("ack", timeout=WAIT_SECS, ref=2)
    await v.send({"t": "send", "ref": 3, "conversation": cid, "client_msg_id": reused, "body": "forged"})
    assert (await v.expect("error", timeout=WAIT_SECS, ref=3))["code"] == "conflict"
    await v.send({"t": "send", "ref": 4, "conversation": cid, "client_msg_id": new_msg_id(), "body": "third"})
    last = await v.expect("ack", timeout=WAIT_SECS, ref=4)
    await catch_up(a, cid, last["seq"])
    await drain(a, 0.3)
    by_seq = {m["seq"]: m for m in stored(nodes[0], cid, cookie)}
    return [f"seq {f['seq']}: got {f['body']!r}, stored {by_seq.get(f['seq'], {}).get('body')!r}"
            for f in a.frames if f["t"] == "message" and f["conversation"] == cid
            and (f["body"], f["client_msg_id"]) != (by_seq.get(f["seq"], {}).get("body"),
                                                    by_seq.get(f["seq"], {}).get("client_msg_id"))]


async def test_other_nodes_get_only_what_was_committed(
    tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed(request)) as nodes:
        assert await committed_only(nodes) == []


async def test_the_check_catches_a_publish_before_commit_across_nodes(
    tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    mutant = [sys.executable, "-m", "tests.faults.mutant_publish_before_commit"]
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed(request), launcher=mutant) as nodes:
        assert await committed_only(nodes), "the mutant was not caught"

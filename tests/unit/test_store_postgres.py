"""The PostgreSQL store's own mechanics, on throw-away databases of this machine's server: seqs under
concurrent retries from two nodes, migrations started together, the schema check, and a connection
the server terminates mid-traffic. The contract both backends keep is test_store_contract.py."""

from __future__ import annotations

import asyncio
import os
import random
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from papote.errors import Busy
from papote.store import Appended, NewMessage
from papote.store.postgres import PostgresStore
from papote.store.postgres.engine import SchemaTooNew, migrate, migrations
from papote.types import AuthorKind, MessageKind
from tests import postgres
from tests.faults import mutant_seq_before_dedupe

LATEST = migrations()[-1][0]
ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def database_url() -> AsyncIterator[str]:
    """A database of its own for each test here (some replace its functions or its schema)."""
    async with postgres.database() as url:
        yield url


@pytest_asyncio.fixture
async def nodes(database_url: str) -> AsyncIterator[list[PostgresStore]]:
    """Two stores on one database, as two server nodes have: their own lanes, their own pools."""
    stores = [PostgresStore(database_url), PostgresStore(database_url)]
    for s in stores:
        await s.open()
    yield stores
    for s in stores:
        await s.close()


def text(site_id: str, visitor_id: str, cid: str | None, body: str, cmid: str) -> NewMessage:
    return NewMessage(site_id, cid, AuthorKind.VISITOR, visitor_id, "", MessageKind.TEXT, body, cmid,
                      visitor_id=visitor_id)


@dataclass
class Storm:
    """What a retry storm left behind: its problems, if any."""

    problems: list[str] = field(default_factory=list)
    duplicates: int = 0


async def retry_storm(stores: list[PostgresStore], tasks: int = 50, sends: int = 20) -> Storm:
    """`tasks` concurrent senders on one conversation, spread over the nodes, each sending the same
    `sends` client_msg_ids (as a client whose every send is retried from many sockets at once would),
    in its own order. The conversation must end with one row per id, seqs 1..n without a hole, and
    every answer for an id carrying that row's seq."""
    first = stores[0]
    site = await first.create_site("Shop", [], {})
    visitor = await first.create_visitor(site.id, "storm-token")
    cid = (await first.append(text(site.id, visitor.id, None, "start", "storm-start"))).conversation.id
    ids = [f"storm-{i:04d}" for i in range(sends)]
    rng = random.Random(7)

    async def sender(n: int) -> list[Appended]:
        store = stores[n % len(stores)]
        order = ids[:]
        rng.shuffle(order)
        out = []
        for cmid in order:
            out.append(await store.append(text(site.id, visitor.id, cid, f"body of {cmid}", cmid)))
        return out

    results = [r for batch in await asyncio.gather(*(sender(n) for n in range(tasks))) for r in batch]
    storm = Storm(duplicates=sum(r.duplicate for r in results))
    conv = await first.get_conversation(cid)
    assert conv is not None
    stored = await first.messages_after(cid, 0, 100_000, include_notes=True)
    seqs = [m.seq for m in stored]
    if seqs != list(range(1, conv.last_seq + 1)):
        holes = sorted(set(range(1, conv.last_seq + 1)) - set(seqs))
        storm.problems.append(f"seqs have holes {holes[:10]} (last_seq {conv.last_seq}, {len(seqs)} rows)")
    by_id = [m.client_msg_id for m in stored]
    if sorted(by_id) != sorted(["storm-start", *ids]):
        storm.problems.append(f"{len(by_id)} rows for {len(ids) + 1} client_msg_ids")
    seq_of = {m.client_msg_id: m.seq for m in stored}
    wrong = [r for r in results if seq_of.get(r.message.client_msg_id) != r.message.seq]
    if wrong:
        storm.problems.append(f"{len(wrong)} answers carry another seq than the stored row's")
    return storm


@pytest.mark.asyncio
async def test_concurrent_retries_from_two_nodes_leave_no_hole_and_no_duplicate(nodes: list[PostgresStore]) -> None:
    storm = await retry_storm(nodes)
    assert storm.problems == []
    assert storm.duplicates == 50 * 20 - 20  # every send but the first of each id found its first copy


@pytest.mark.asyncio
async def test_the_retry_storm_catches_a_seq_taken_before_the_dedupe(nodes: list[PostgresStore],
                                                                      database_url: str) -> None:
    """The self-check: with the mutant function (tests/faults/mutant_seq_before_dedupe.py), which moves
    last_seq before it looks for the first copy, the same storm must find holes."""
    await mutant_seq_before_dedupe.install(database_url)
    storm = await retry_storm(nodes)
    assert any("holes" in p for p in storm.problems), f"the mutant was not caught: {storm}"


@pytest.mark.asyncio
async def test_migrations_started_together_make_one_schema(database_url: str) -> None:
    conns = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        versions = await asyncio.gather(*(migrate(c) for c in conns))
        assert versions == [LATEST] * 3
        check = conns[0]
        assert await check.fetchval("SELECT count(*) FROM meta WHERE key='epoch'") == 1
        assert await check.fetchval("SELECT value FROM meta WHERE key='schema_version'") == str(LATEST)
        assert await check.fetchval("SELECT count(*) FROM pg_proc WHERE proname='papote_append'") == 1
    finally:
        for c in conns:
            await c.close()
    # Opened again, nothing is applied twice and the epoch stays.
    stores = [PostgresStore(database_url) for _ in range(2)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert stores[0].epoch == stores[1].epoch and stores[0].epoch.startswith("e_")
    finally:
        for s in stores:
            await s.close()


@pytest.mark.asyncio
async def test_a_schema_newer_than_the_code_refuses_to_start(database_url: str) -> None:
    store = PostgresStore(database_url)
    await store.open()
    await store.close()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE meta SET value=$1 WHERE key='schema_version'", str(LATEST + 1))
    finally:
        await conn.close()
    newer = PostgresStore(database_url)
    with pytest.raises(SchemaTooNew) as refused:
        await newer.open()
    assert refused.value.code == "schema_too_new" and str(refused.value).startswith("schema_too_new:")
    await newer.close()
    # A server on it exits at start, and says why.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPOTE_")}
    env.update(PAPOTE_DATABASE=database_url, PAPOTE_HOST="127.0.0.1", PAPOTE_PORT="0",
               PYTHONPATH=os.pathsep.join([str(ROOT / "server"), env.get("PYTHONPATH", "")]))
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "papote", "serve", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(server.communicate(), timeout=60)
    assert server.returncode != 0
    assert f"schema_too_new: the database is at schema version {LATEST + 1}" in out.decode()


@pytest.mark.asyncio
async def test_a_terminated_connection_costs_no_acknowledged_append(database_url: str) -> None:
    """The server drops every connection of the store while senders are busy: the store reconnects on
    its own, and every append it acknowledged is stored exactly once, at the seq it said."""
    store = PostgresStore(database_url)
    await store.open()
    try:
        site = await store.create_site("Shop", [], {})
        visitors = [await store.create_visitor(site.id, f"tok-{i}") for i in range(8)]
        cids = [(await store.append(text(site.id, v.id, None, "start", f"start-{v.id}"))).conversation.id
                for v in visitors]
        acked: dict[str, tuple[str, int]] = {}
        refused = 0
        stop = asyncio.Event()

        async def sender(n: int) -> None:
            nonlocal refused
            visitor, cid = visitors[n], cids[n]
            i = 0
            while not stop.is_set():
                cmid = f"s{n}-{i:05d}"
                while True:  # a client retries an unacknowledged send with the same id
                    try:
                        appended = await store.append(text(site.id, visitor.id, cid, f"m {cmid}", cmid))
                    except Busy:
                        refused += 1
                        await asyncio.sleep(0.01)
                        continue
                    acked[cmid] = (appended.message.conversation_id, appended.message.seq)
                    break
                i += 1

        senders = [asyncio.create_task(sender(n)) for n in range(len(visitors))]
        await wait_for(lambda: len(acked) >= 200)
        terminated = await postgres.terminate_backends(database_url)
        assert terminated >= 2  # the lanes' and the pool's
        before = len(acked)
        await wait_for(lambda: len(acked) >= before + 400)  # it recovered, and goes on
        stop.set()
        await asyncio.gather(*senders)
        # Reads come back too.
        for cid in cids:
            conv = await store.get_conversation(cid)
            assert conv is not None
            stored = await store.messages_after(cid, 0, 100_000, include_notes=True)
            assert [m.seq for m in stored] == list(range(1, conv.last_seq + 1))
            ids = [m.client_msg_id for m in stored]
            assert len(ids) == len(set(ids))
            for m in stored:
                if m.client_msg_id in acked:
                    assert acked[m.client_msg_id] == (cid, m.seq)
        everything = {m.client_msg_id for cid in cids
                      for m in await store.messages_after(cid, 0, 100_000, include_notes=True)}
        assert set(acked) <= everything
    finally:
        await store.close()


async def wait_for(condition: object, timeout: float = 60.0) -> None:
    """Until `condition()` holds, checking every 10 ms, at most `timeout` seconds."""
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_the_leader_lock_is_held_by_one_node_at_a_time(nodes: list[PostgresStore]) -> None:
    a, b = nodes
    async with a.singleton("papote.test-job") as first:
        assert first
        async with b.singleton("papote.test-job") as second:
            assert not second  # the other node holds it
        async with b.singleton("papote.other-job") as other:
            assert other
    async with b.singleton("papote.test-job") as after:
        assert after  # released with the block

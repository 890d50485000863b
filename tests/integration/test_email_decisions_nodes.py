"""Mail decisions survive the node that would have taken them (two nodes, one PostgreSQL database, a
private Redis, a real SMTP sink as the relay): "a conversation is waiting" and the transcript at close
are each sent exactly once when the node where the visitor wrote, or where the conversation was
closed, is killed with SIGKILL before deciding — by the other node, and never again after a restart.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from papote.identity import sign_jwt
from tests.brokers import Broker
from tests.harness import Client, agent, new_msg_id, until_io, visitor
from tests.integration.test_email import Sink, mail_env, sink, text_of
from tests.nodes import SITE_ORIGIN, Cluster, Node, cluster, database, failed_of, redis_broker

pytestmark = pytest.mark.asyncio
__all__ = ["database", "redis_broker", "sink"]

#: The grace period before "a conversation is waiting": long enough to kill the node within it.
GRACE_SECS = 3
WAIT_SECS = 60.0


def env(sink_port: int) -> dict[str, str]:
    settings = mail_env(sink_port, "papote@shop.test", smtp_timeout_secs=2)
    del settings["PAPOTE_SMTP_LISTEN"]  # no mail comes in here (and two nodes would share its port)
    return {**settings, "PAPOTE_WAITING_MAIL_SECS": str(GRACE_SECS)}


def mails_to(relay: Sink, address: str, subject: str) -> list[Any]:
    return [m for m in relay.mails if m["To"] == address and subject in str(m["Subject"])]


async def settings(node: Node, **values: object) -> None:
    cookie = await asyncio.to_thread(node.login)
    status, body, _ = await asyncio.to_thread(node.http, "PATCH", f"/api/sites/{node.site_key}",
                                              {"settings": values}, cookie)
    assert status == 200, body


async def killed(nodes: Cluster, i: int) -> None:
    await asyncio.to_thread(nodes.kill, i)


async def restarted(nodes: Cluster, i: int) -> None:
    await asyncio.to_thread(nodes.restart, i)
    await asyncio.to_thread(nodes.wait_bus_connected)


async def first_text(node: Node, body: str) -> tuple[Client, str]:
    v = await visitor(node, origin=SITE_ORIGIN)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": body})
    return v, (await v.expect("ack", ref=1, timeout=30))["conversation"]


async def test_a_waiting_mail_is_sent_once_when_the_node_the_visitor_wrote_to_dies_in_its_grace_period(
        tmp_path: Path, database: str, redis_broker: Broker, sink: tuple[Sink, int],
        request: pytest.FixtureRequest) -> None:
    relay = sink[0]
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed_of(request), env_extra=env(sink[1])) as nodes:
        nodes.wait_bus_connected()
        owner = nodes.owner_email
        # Nobody is online. The visitor writes on node 0, which dies at once, well within the grace period.
        v, cid = await first_text(nodes[0], "Is anyone there?")
        await v.close()
        await killed(nodes, 0)
        await until_io(lambda: mails_to(relay, owner, "waiting"), "the waiting mail, from node 1", timeout=WAIT_SECS)
        assert "Is anyone there?" in text_of(mails_to(relay, owner, "waiting")[0])

        # Node 0 comes back: it does not mail about that conversation again. A later conversation of its
        # own is announced, so its rounds have run past the first one.
        await restarted(nodes, 0)
        w, later = await first_text(nodes[0], "Hello again?")
        await until_io(lambda: len(mails_to(relay, owner, "waiting")) >= 2, "the second conversation's mail",
                    timeout=WAIT_SECS)
        await w.close()
        texts = [text_of(m) for m in mails_to(relay, owner, "waiting")]
        assert sum("Is anyone there?" in t for t in texts) == 1, texts
        assert sum("Hello again?" in t for t in texts) == 1, texts
        conn = await asyncpg.connect(database)
        try:
            for conversation in (cid, later):
                sent = await conn.fetchval("SELECT count(*) FROM deliveries WHERE kind='waiting' "
                                           "AND conversation_id=$1", conversation)
                assert sent == 1, f"{conversation}: {sent} waiting mails queued"
        finally:
            await conn.close()


async def identified(node: Node, name: str, email: str) -> Client:
    v = await visitor(node, origin=SITE_ORIGIN)
    claims = {"sub": name, "exp": int(time.time()) + 600, "email": email, "name": name}
    await v.send({"t": "identify", "ref": 9, "user_id": name, "jwt": sign_jwt(node.site_secret, claims)})
    await v.expect("identified", ref=9, timeout=30)
    return v


async def test_a_transcript_at_close_is_sent_once_when_the_closing_node_dies_before_deciding(
        tmp_path: Path, database: str, redis_broker: Broker, sink: tuple[Sink, int],
        request: pytest.FixtureRequest) -> None:
    relay = sink[0]
    ann, bea = "ann@example.test", "bea@example.test"
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed_of(request), env_extra=env(sink[1])) as nodes:
        nodes.wait_bus_connected()
        await settings(nodes[0], email_transcript_on_close=True, email_continuation=False)
        v = await identified(nodes[0], "ann", ann)
        await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(),
                      "body": "Where is my parcel?"})
        cid = (await v.expect("ack", ref=1, timeout=30))["conversation"]
        await v.close()
        a = await agent(nodes[0])

        # While node 0 decides, the addresses it must look at are held: it dies there, the close
        # acknowledged or about to be, the transcript not queued yet.
        conn = await asyncpg.connect(database)
        try:
            tx = conn.transaction()
            await tx.start()
            await conn.execute("LOCK TABLE email_addresses IN ACCESS EXCLUSIVE MODE")
            await a.send({"t": "close", "ref": 2, "conversation": cid})
            deadline = time.monotonic() + WAIT_SECS
            while not await conn.fetchval("SELECT count(*) FROM pg_locks WHERE relation='email_addresses'::regclass "
                                          "AND NOT granted"):
                assert time.monotonic() < deadline, "nobody looked at the addresses after the close"
                await asyncio.sleep(0.02)
            closed = await conn.fetchval("SELECT count(*) FROM messages WHERE conversation_id=$1 AND event='closed'",
                                         cid)
            assert closed == 1
            await killed(nodes, 0)
            await tx.rollback()
        finally:
            await conn.close()
        await until_io(lambda: mails_to(relay, ann, "conversation"), "the transcript, from node 1", timeout=WAIT_SECS)
        assert "Where is my parcel?" in text_of(mails_to(relay, ann, "conversation")[0])

        # Node 0 comes back and closes another conversation: that one's transcript comes, the first
        # one's never again.
        await restarted(nodes, 0)
        w = await identified(nodes[0], "bea", bea)
        await w.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Hi"})
        other = (await w.expect("ack", ref=1, timeout=30))["conversation"]
        await w.close()
        b = await agent(nodes[0])
        await b.send({"t": "close", "ref": 3, "conversation": other})
        await b.expect("ok", ref=3, timeout=30)
        await until_io(lambda: mails_to(relay, bea, "conversation"), "the second transcript", timeout=WAIT_SECS)
        assert len(mails_to(relay, ann, "conversation")) == 1
        conn = await asyncpg.connect(database)
        try:
            queued = await conn.fetchval("SELECT count(*) FROM deliveries WHERE kind='transcript' "
                                         "AND conversation_id=$1", cid)
            assert queued == 1
        finally:
            await conn.close()

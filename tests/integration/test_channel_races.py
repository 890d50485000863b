"""Races between two nodes (one PostgreSQL database, a private Redis): a customer's first messages
from another channel arriving at once make one visitor and one conversation, whatever the
interleaving; two tabs tapping one set of quick replies at once store one answer.

The race is forced, not hoped for: the test holds a lock on the table the newcomer's row goes into
(`LOCK TABLE … IN EXCLUSIVE MODE`: reads go on, inserts wait) until both nodes have read "no such
customer" and wait on their insert, then lets them go at once.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Awaitable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import httpx
import pytest

from tests.brokers import Broker
from tests.harness import agent, free_port, new_msg_id, visitor
from tests.integration.test_email import Sink, mail_env, sink
from tests.integration.test_quick_replies import answer_to
from tests.nodes import SITE_ORIGIN, Cluster, cluster, database, failed_of, redis_broker
from tests.providers import meta_body, meta_signature, whatsapp_message

pytestmark = pytest.mark.asyncio
__all__ = ["database", "redis_broker", "sink"]

APP_SECRET = "app-secret-0123456789"
SUPPORT = "help@shop.test"
#: Both nodes' racing inserts are waiting well within this on a busy machine.
WAIT_SECS = 60.0
#: Database connections per node: one waiting insert per customer, and room for the rest.
POOL = "10"


async def raced(database: str, table: str, waiting: int, fire: Awaitable[Any]) -> Any:
    """Run `fire` while `table` takes no insert, until `waiting` inserts wait on it (each node has read
    that the row does not exist), then let them all go; returns `fire`'s result."""
    conn = await asyncpg.connect(database)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        task = asyncio.ensure_future(fire)
        deadline = time.monotonic() + WAIT_SECS
        while True:
            blocked = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE relation=$1::regclass AND NOT granted", table)
            if blocked >= waiting:
                break
            assert not task.done(), f"the messages were stored without racing: {task.result()}"
            assert time.monotonic() < deadline, f"only {blocked} of {waiting} inserts waited on {table}"
            await asyncio.sleep(0.02)
        await tx.rollback()
        return await task
    finally:
        await conn.close()


async def test_first_whatsapp_messages_on_two_nodes_make_one_visitor_and_one_conversation(
        tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest) -> None:
    customers = [f"3361234567{n}" for n in range(3)]
    per_node = 3  # each customer's first messages, on each node
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed_of(request),
                       env_extra={"PAPOTE_DATABASE_POOL": POOL}) as nodes:
        one = nodes[0]
        status, account, _ = one.http("POST", f"/api/sites/{one.site_key}/channels", {
            "kind": "whatsapp", "name": "WhatsApp", "settings": {
                "phone_number_id": "200001", "access_token": "EAAG-access-token-xyz", "app_secret": APP_SECRET,
                "verify_token": "verify-token-42"}}, cookie=one.login())
        assert status == 201, account
        path = urllib.parse.urlsplit(account["webhook_url"]).path

        async def post(http: httpx.AsyncClient, customer: str, n: int) -> int:
            body = meta_body(whatsapp_message("200001", customer, f"wamid.{customer}.{n}", f"hello {n}",
                                              name=f"Customer {customer}"))
            response = await http.post(path, content=body, headers={
                "content-type": "application/json", "x-hub-signature-256": meta_signature(APP_SECRET, body)})
            return response.status_code

        async with httpx.AsyncClient(base_url=one.base_url, timeout=120) as http1, \
                httpx.AsyncClient(base_url=nodes[1].base_url, timeout=120) as http2:
            fire = asyncio.gather(*(post(http, customer, n + (0 if http is http1 else per_node))
                                    for customer in customers for http in (http1, http2) for n in range(per_node)))
            # One waiting insert per customer and node (a node's own deliveries of a newcomer queue
            # behind its first one).
            answers = await raced(database, "channel_identities",
                                  2 * len(customers), fire)
        assert set(answers) == {200}

        conn = await asyncpg.connect(database)
        try:
            identities = await conn.fetch("SELECT address, visitor_id FROM channel_identities WHERE account_id=$1",
                                          account["id"])
            assert sorted(r["address"] for r in identities) == customers
            for identity in identities:
                conversations = await conn.fetch("SELECT id FROM conversations WHERE visitor_id=$1",
                                                 identity["visitor_id"])
                assert len(conversations) == 1, f"{identity['address']}: {len(conversations)} conversations"
                texts = await conn.fetch("SELECT seq, body FROM messages WHERE conversation_id=$1 AND kind='text'",
                                         conversations[0]["id"])
                assert sorted(r["body"] for r in texts) == sorted(f"hello {n}" for n in range(2 * per_node))
            # No visitor left behind by the node that lost the race for an address.
            visitors = await conn.fetch("SELECT id FROM visitors WHERE device->>'account' = $1", account["id"])
            assert sorted(r["id"] for r in visitors) == sorted(r["visitor_id"] for r in identities)
        finally:
            await conn.close()


def first_mail(sender: str, n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Bea <{sender}>"
    msg["To"] = SUPPORT
    msg["Subject"] = f"Question {n}"
    msg["Message-ID"] = f"<{new_msg_id()}@example.test>"
    msg.set_content(f"first mail {n}")
    return msg


async def test_first_mails_of_a_sender_on_two_nodes_make_one_contact_and_one_conversation(
        tmp_path: Path, database: str, redis_broker: Broker, sink: tuple[Sink, int],
        request: pytest.FixtureRequest) -> None:
    senders = [f"bea{n}@example.test" for n in range(3)]
    nodes = Cluster(tmp_path, database, redis_broker, 2, env_extra={
        **mail_env(sink[1], "papote@shop.test"), "PAPOTE_DATABASE_POOL": POOL})
    ports = []
    for node in nodes:  # a listener each, as each machine of a deployment has
        ports.append(free_port())
        node.env_extra["PAPOTE_SMTP_LISTEN"] = f"127.0.0.1:{ports[-1]}"
    await asyncio.to_thread(nodes.init)
    try:
        await asyncio.to_thread(nodes.start)
        one = nodes[0]
        status, body, _ = one.http("PATCH", f"/api/sites/{one.site_key}",
                                   {"settings": {"email_support_address": SUPPORT}}, cookie=one.login())
        assert status == 200, body

        async def deliver(sender: str, port: int, n: int) -> None:
            await aiosmtplib.send(first_mail(sender, n), sender=sender, recipients=[SUPPORT],
                                  hostname="127.0.0.1", port=port, timeout=120)

        fire = asyncio.gather(*(deliver(s, port, i) for s in senders for i, port in enumerate(ports)))
        await raced(database, "visitor_tokens", 2 * len(senders), fire)

        conn = await asyncpg.connect(database)
        try:
            for sender in senders:
                visitors = await conn.fetch("SELECT id FROM visitors WHERE email=$1", sender)
                assert len(visitors) == 1, f"{sender}: {len(visitors)} contacts"
                conversations = await conn.fetch("SELECT id FROM conversations WHERE visitor_id=$1",
                                                 visitors[0]["id"])
                assert len(conversations) == 1, f"{sender}: {len(conversations)} conversations"
                texts = await conn.fetch("SELECT body FROM messages WHERE conversation_id=$1 AND kind='text'",
                                         conversations[0]["id"])
                assert sorted(r["body"] for r in texts) == ["Question 0\n\nfirst mail 0",
                                                            "Question 1\n\nfirst mail 1"]
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(nodes.stop)
        if failed_of(request)():
            print(nodes.logs())


async def test_taps_on_one_set_of_quick_replies_on_two_nodes_at_once_store_one_answer(
        tmp_path: Path, database: str, redis_broker: Broker, request: pytest.FixtureRequest) -> None:
    """Two tabs of a visitor, on two nodes, tap the same quick replies at once. Both checks would pass
    before either tap is stored (the test holds the messages table while they are sent): the set's
    lock makes the second tap wait for the first to be committed, and it is refused `answered`."""
    async with cluster(tmp_path, database, redis_broker, 2, failed=failed_of(request),
                       env_extra={"PAPOTE_DATABASE_POOL": POOL}) as nodes:
        nodes.wait_bus_connected()
        tabs = [await visitor(nodes[0], origin=SITE_ORIGIN)]
        tabs.append(await visitor(nodes[1], token=tabs[0].welcome["token"], origin=SITE_ORIGIN))
        await tabs[0].send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(),
                            "body": "Hello"})
        cid = (await tabs[0].expect("ack", ref=1, timeout=30))["conversation"]
        a = await agent(nodes[0])
        await a.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),
                      "body": "Which one?", "quick_replies": [{"label": "Red"}, {"label": "Blue"}]})
        seq = (await a.expect("ack", ref=2, timeout=30))["seq"]

        conn = await asyncpg.connect(database)
        try:
            tx = conn.transaction()
            await tx.start()
            await conn.execute("LOCK TABLE messages IN EXCLUSIVE MODE")
            for ref, (tab, option) in enumerate(zip(tabs, (0, 1), strict=True), start=10):
                await tab.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(),
                                "body": ("Red", "Blue")[option], "quick_reply": {"seq": seq, "option": option}})
            deadline = time.monotonic() + WAIT_SECS
            while True:
                waiting = await conn.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE relation='messages'::regclass AND NOT granted")
                set_held = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND granted")
                # Both taps at their insert (each node checked), or one there holding the set's lock.
                if waiting >= 2 or (waiting >= 1 and set_held >= 1):
                    break
                assert time.monotonic() < deadline, f"{waiting} taps waiting to be stored"
                await asyncio.sleep(0.02)
            await tx.rollback()
        finally:
            await conn.close()
        answers = [await answer_to(tab, ref) for ref, tab in enumerate(tabs, start=10)]
        assert sorted(f["t"] if f["t"] == "ack" else f["code"] for f in answers) == ["ack", "answered"], answers
        conn = await asyncpg.connect(database)
        try:
            taps = await conn.fetchval("SELECT count(*) FROM messages WHERE conversation_id=$1 AND seq>$2 "
                                       "AND author_kind='visitor' AND kind='text'", cid, seq)
            assert taps == 1
        finally:
            await conn.close()

"""Privacy through a real server (docs/privacy.md), on SQLite and PostgreSQL: export and erasure by the REST
API with the visitor's socket open, who may do them, the audit log, and the periodic retention job purging
rows made old in the database itself. Then across two nodes: an erasure on one closes the visitor's
socket on the other, and the leader-locked retention runs once for the pair."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from websockets.exceptions import ConnectionClosed

from papote.errors import CloseCode
from tests import postgres
from tests.brokers import Broker
from tests.harness import PapoteServer, new_msg_id, serve, visitor
from tests.nodes import cluster

pytestmark = pytest.mark.asyncio

#: Generous: several suites share this 2-core machine.
WAIT_SECS = 30.0
#: Two days ago: older than a retention of one day.
OLD_MS = int(time.time() * 1000) - 2 * 86_400_000


@pytest.fixture
def server(tmp_path: Path, server_backend: str, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    """A server whose retention job wakes every second (the default is hourly)."""
    s = PapoteServer(tmp_path, env_extra={"PAPOTE_RETENTION_EVERY_SECS": "1"}, backend=server_backend)
    yield from serve(s, request)


def write_sql(server: PapoteServer, query: str, *args: Any) -> None:
    """A write straight to the server's database (the server's own connections see it after commit)."""
    if server.backend == "sqlite":
        with contextlib.closing(sqlite3.connect(server.db_path)) as db:
            db.execute(query, args)
            db.commit()
    else:
        server.sql(query, *args)


def upload(server: PapoteServer, token: str, data: bytes = b"a private file") -> str:
    req = urllib.request.Request(f"{server.base_url}/api/widget/{server.site_key}/attachments?name=id.txt",
                                 data=data, method="POST", headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as answer:
        return str(json.loads(answer.read())["id"])


async def until_closed(ws: Any) -> int:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), WAIT_SECS)
    return int(ws.close_code)


def actions(server: PapoteServer, cookie: str) -> list[tuple[str, str]]:
    status, body, _ = server.http("GET", f"/api/sites/{server.site_key}/audit?limit=200", cookie=cookie)
    assert status == 200, body
    return [(e["action"], e["target"]) for e in body["entries"]]


@pytest.mark.both_backends
async def test_export_erase_audit_and_retention_through_the_api(server: PapoteServer) -> None:
    owner = server.login()
    key = server.site_key
    server.cli("agent", "create", "--site", key, "--email", "admin@papote.test", "--password", "admin-password-1",
               "--role", "admin")
    server.cli("agent", "create", "--site", key, "--email", "agent@papote.test", "--password", "agent-password-1",
               "--role", "agent")
    admin = server.login("admin@papote.test", "admin-password-1")
    plain_agent = server.login("agent@papote.test", "agent-password-1")

    v = await visitor(server)
    vid, token = v.welcome["visitor"]["id"], v.welcome["token"]
    file_id = upload(server, token)
    await v.send({"t": "send", "ref": 2, "conversation": None, "client_msg_id": new_msg_id(), "body": "my order 4417",
                  "attachments": [file_id]})
    cid = (await v.expect("ack", ref=2))["conversation"]

    # Export: admins and owners, not agents; the answer is a download of every table of the visitor.
    export_path = f"/api/sites/{key}/visitors/{vid}/export"
    assert server.http("GET", export_path, cookie=plain_agent)[0] == 403
    status, export, headers = server.http("GET", export_path, cookie=admin)
    assert status == 200 and f'filename="visitor-{vid}.json"' in headers["content-disposition"]
    assert [m["body"] for m in export["tables"]["messages"]] == ["my order 4417"]
    assert export["tables"]["conversations"][0]["id"] == cid
    assert export["files"] == [{"id": file_id, "name": "id.txt", "download": f"/api/attachments/{file_id}"}]
    assert "token_hash" not in json.dumps(export["tables"]["visitor_tokens"])

    # Erasure: the visitor's socket closes (4013), every row and the file go, and it is audited.
    erase_path = f"/api/sites/{key}/visitors/{vid}"
    assert server.http("DELETE", erase_path, cookie=plain_agent)[0] == 403
    status, erased, _ = server.http("DELETE", erase_path, cookie=owner)
    assert status == 200 and erased["erased"] == vid
    assert erased["rows"]["messages"] == 1 and erased["rows"]["files"] == 1 and erased["rows"]["visitors"] == 1
    assert await until_closed(v.ws) == CloseCode.VISITOR_ERASED
    assert server.http("GET", export_path, cookie=owner)[0] == 404
    assert server.http("GET", f"/api/attachments/{file_id}", cookie=owner)[0] == 404
    assert server.http("GET", f"/api/conversations/{cid}", cookie=owner)[0] == 404
    for table, column in (("visitors", "id"), ("messages", "author_id"), ("visitor_tokens", "visitor_id"),
                          ("attachments", "uploader_id")):
        assert server.sql(f"SELECT count(*) FROM {table} WHERE {column} = ?", vid) == [(0,)]
    # The old token now opens nothing: a new anonymous visitor.
    again = await visitor(server, token=token)
    assert again.welcome["visitor"]["id"] != vid
    await again.close()

    # Settings changes are audited by name; the log is the owners' to read.
    status, _, _ = server.http("PATCH", f"/api/sites/{key}", {"settings": {"retention_messages_days": 1,
                                                                           "color": "#112233"}}, cookie=admin)
    assert status == 200
    assert server.http("GET", f"/api/sites/{key}/audit", cookie=admin)[0] == 403
    status, log, _ = server.http("GET", f"/api/sites/{key}/audit", cookie=owner)
    assert status == 200
    newest = log["entries"][0]
    assert newest["action"] == "site.settings_changed"
    assert newest["details"] == {"settings": ["color", "retention_messages_days"]}
    assert ("visitor.erased", vid) in actions(server, owner) and ("visitor.exported", vid) in actions(server, owner)
    status, created, _ = server.http("POST", f"/api/sites/{key}/keys", {"name": "shop backend"}, cookie=admin)
    assert status == 201
    status, invite, _ = server.http("POST", f"/api/sites/{key}/invites", {"email": "new@papote.test"}, cookie=admin)
    assert status == 201
    assert server.http("DELETE", f"/api/sites/{key}/invites/{invite['id']}", cookie=admin)[0] == 200
    logged = actions(server, owner)
    assert ("api_key.created", created["id"]) in logged and ("invite.sent", invite["id"]) in logged
    assert ("invite.withdrawn", invite["id"]) in logged
    assert "new@papote.test" not in json.dumps(server.http("GET", f"/api/sites/{key}/audit", cookie=owner)[1])

    # Retention: a conversation made two days old in the database itself is purged by the periodic job
    # (every second here), with its file; a fresh one stays.
    old = await visitor(server)
    old_file = upload(server, old.welcome["token"])
    await old.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "old",
                    "attachments": [old_file]})
    old_cid = (await old.expect("ack", ref=1))["conversation"]
    fresh = await visitor(server)
    await fresh.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "fresh"})
    fresh_cid = (await fresh.expect("ack", ref=1))["conversation"]
    write_sql(server, "UPDATE messages SET created_at = ? WHERE conversation_id = ?", OLD_MS, old_cid)
    write_sql(server, "UPDATE conversations SET created_at = ?, updated_at = ? WHERE id = ?", OLD_MS, OLD_MS, old_cid)
    deadline = time.monotonic() + WAIT_SECS
    while ("retention.run", "") not in actions(server, owner):
        assert time.monotonic() < deadline, "the retention job did not run"
        await asyncio.sleep(0.2)
    run = next(e for e in server.http("GET", f"/api/sites/{key}/audit", cookie=owner)[1]["entries"]
               if e["action"] == "retention.run")
    assert run["actor"] == {"kind": "system", "id": "papote"}
    assert run["details"] == {"visitors": 0, "messages": 1, "conversations": 1, "attachments": 0}
    assert server.http("GET", f"/api/conversations/{old_cid}", cookie=owner)[0] == 404
    assert server.http("GET", f"/api/attachments/{old_file}", cookie=owner)[0] == 404
    assert server.http("GET", f"/api/conversations/{fresh_cid}", cookie=owner)[0] == 200
    # Run now, by hand: nothing more is old enough.
    status, done, _ = server.http("POST", f"/api/sites/{key}/retention/run", cookie=admin)
    assert status == 200 and done == {"visitors": 0, "messages": 0, "conversations": 0, "attachments": 0}
    assert server.http("POST", f"/api/sites/{key}/retention/run", cookie=plain_agent)[0] == 403
    for c in (old, fresh):
        await c.close()


async def pg(database: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(database)
    try:
        return [tuple(r) for r in await conn.fetch(query, *args)]
    finally:
        await conn.close()


async def test_an_erasure_on_one_node_closes_the_visitor_on_another_and_retention_runs_once(
    tmp_path: Path, redis_broker: Broker, request: pytest.FixtureRequest,
) -> None:
    async with postgres.database() as database, cluster(
            tmp_path, database, redis_broker, 2, env_extra={"PAPOTE_RETENTION_EVERY_SECS": "1"}) as nodes:
        a, b = nodes[0], nodes[1]
        nodes.wait_nodes_see_each_other()
        owner = a.login()
        v = await visitor(b, origin=nodes.origin)
        vid = v.welcome["visitor"]["id"]
        await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "hi"})
        await v.expect("ack", ref=1)
        status, _, _ = a.http("DELETE", f"/api/sites/{nodes.site_key}/visitors/{vid}", cookie=owner)
        assert status == 200
        assert await until_closed(v.ws) == CloseCode.VISITOR_ERASED

        # Two nodes wake every second; the leader lock lets one pass purge, the other finds nothing.
        status, _, _ = a.http("PATCH", f"/api/sites/{nodes.site_key}", {"settings": {"retention_visitors_days": 1}},
                              cookie=owner)
        assert status == 200
        olds = []
        for _ in range(3):
            c = await visitor(a, origin=nodes.origin)
            olds.append(c.welcome["visitor"]["id"])
            await c.close()
        for old_id in olds:
            await pg(database, "UPDATE visitors SET last_seen = $1 WHERE id = $2", OLD_MS, old_id)
        deadline = time.monotonic() + WAIT_SECS
        while await pg(database, "SELECT count(*) FROM visitors WHERE last_seen = $1", OLD_MS) != [(0,)]:
            assert time.monotonic() < deadline, "the retention job did not run"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.5)  # both nodes have had their turns since
        status, log, _ = a.http("GET", f"/api/sites/{nodes.site_key}/audit?limit=200", cookie=owner)
        runs = [e["details"] for e in log["entries"] if e["action"] == "retention.run"]
        assert sum(r["visitors"] for r in runs) == 3, runs

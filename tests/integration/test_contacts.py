"""One customer across channels, end to end on both backends: a contact's timeline (web, WhatsApp,
Telegram), an agent's explicit merge and what it refuses, exactly-once across the merge (a provider's
re-delivery, a widget's retried send), and unverified claims that merge nothing.

A real server per backend, fake providers on loopback (tests/providers.py), real WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from papote.identity import user_hash
from tests import postgres
from tests.brokers import Broker
from tests.harness import BACKENDS, PapoteServer, agent, identify, new_msg_id, until_io, visitor
from tests.integration.test_messaging import (
    channel_of,
    conversations_of,
    messages,
    post_meta,
    whatsapp,
)
from tests.nodes import cluster
from tests.providers import FakeProviders, serve_on_backend, whatsapp_message

pytestmark = [pytest.mark.asyncio]



@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           providers: FakeProviders) -> Iterator[PapoteServer]:
    yield from serve_on_backend(request, tmp_path_factory, "contacts", providers.env())


def timeline(server: PapoteServer, cookie: str, vid: str) -> dict[str, Any]:
    status, body, _ = server.http("GET", f"/api/visitors/{vid}/timeline", cookie=cookie)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def merge(server: PapoteServer, cookie: str, into: str, gone: str) -> tuple[int, Any]:
    status, body, _ = server.http("POST", f"/api/visitors/{into}/merge", {"from": gone}, cookie=cookie)
    return status, body


async def whatsapp_contact(server: PapoteServer, http: httpx.AsyncClient, account: dict[str, Any], number: str,
                           customer: str, name: str, wamid: str, text: str = "Hello") -> tuple[str, str]:
    """A customer's first WhatsApp message: (their conversation, their visitor id)."""
    answer = await post_meta(http, account, whatsapp_message(number, customer, wamid, text, name=name))
    assert answer.status_code == 200
    cookie = server.login()

    def found() -> dict[str, Any] | None:
        return next((c for c in conversations_of(server, cookie)
                     if c["visitor"] and c["visitor"]["name"] == name), None)

    conv = await until_io(found, "the WhatsApp conversation")
    return str(conv["id"]), str(conv["visitor"]["id"])


async def web_visitor(server: PapoteServer, body: str) -> tuple[Any, str, str, dict[str, Any]]:
    """A widget visitor who wrote once: (client, visitor id, conversation, the ack)."""
    v = await visitor(server)
    cmid = new_msg_id()
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": cmid, "body": body})
    ack = await v.expect("ack", ref=1)
    return v, v.welcome["visitor"]["id"], ack["conversation"], {**ack, "client_msg_id": cmid}


async def test_a_redelivery_after_a_merge_is_still_one_message_and_replies_still_leave_by_the_app(
        server: PapoteServer, providers: FakeProviders) -> None:
    cookie = server.login()
    account = whatsapp(server, "300001")
    customer = "33611000001"
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        wa_cid, wa_vid = await whatsapp_contact(server, http, account, "300001", customer, "Inès WA", "wamid.ct1")
        v, web_vid, web_cid, ack = await web_visitor(server, "Hi from the website")

        status, merged = merge(server, cookie, web_vid, wa_vid)
        assert status == 200, merged
        assert (merged["kept"], merged["merged"]) == (web_vid, wa_vid)
        assert {c["id"]: c["channel"]["kind"] for c in merged["conversations"]} == {
            wa_cid: "whatsapp", web_cid: "web"}

        # The provider delivers the same message again: still one copy.
        again = await post_meta(http, account, whatsapp_message("300001", customer, "wamid.ct1", "Hello",
                                                                name="Inès WA"))
        assert again.status_code == 200
        # The customer's next message lands in their WhatsApp conversation, as the kept contact.
        nxt = await post_meta(http, account, whatsapp_message("300001", customer, "wamid.ct2", "Still there?",
                                                              name="Inès WA"))
        assert nxt.status_code == 200
        await until_io(lambda: len([m for m in messages(server, cookie, wa_cid) if m["author"]["kind"] == "visitor"])
                    >= 2, "the next message")
        texts = [(m["body"], m["author"]["id"]) for m in messages(server, cookie, wa_cid)
                 if m["author"]["kind"] == "visitor"]
        assert texts == [("Hello", web_vid), ("Still there?", web_vid)]
        assert [c["id"] for c in conversations_of(server, cookie) if c["visitor"]["id"] == web_vid] != []
        assert not [c for c in conversations_of(server, cookie) if c["visitor"]["id"] == wa_vid]

        # The agent's reply in the WhatsApp conversation goes out on WhatsApp; in the web chat, it stays there.
        assert channel_of(server, cookie, wa_cid)["channel"] == "whatsapp"
        assert channel_of(server, cookie, web_cid)["channel"] == "web"
        before = len(providers.sends("meta"))
        status, _, _ = server.http("POST", f"/api/conversations/{wa_cid}/messages",
                                   {"body": "Yes, we are", "client_msg_id": new_msg_id()}, cookie=cookie)
        assert status == 201
        sent = await until_io(lambda: providers.sends("meta")[before:], "the reply on WhatsApp")
        assert sent[0].body["to"] == customer and sent[0].body["text"]["body"] == "Yes, we are"
        status, _, _ = server.http("POST", f"/api/conversations/{web_cid}/messages",
                                   {"body": "On the website", "client_msg_id": new_msg_id()}, cookie=cookie)
        assert status == 201
        await v.expect("message", body="On the website", timeout=10)
        assert len(providers.sends("meta")) == before + 1  # nothing more left by WhatsApp

        # The kept web visitor's retried send is its first ack.
        await v.send({"t": "send", "ref": 5, "conversation": web_cid, "client_msg_id": ack["client_msg_id"],
                      "body": "Hi from the website"})
        retried = await v.expect("ack", ref=5)
        assert (retried["conversation"], retried["seq"]) == (web_cid, ack["seq"])
        await v.close()


async def test_a_widget_merged_away_reconnects_as_the_kept_contact_and_its_retry_gets_the_first_ack(
        server: PapoteServer) -> None:
    cookie = server.login()
    account = whatsapp(server, "300002")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        wa_cid, wa_vid = await whatsapp_contact(server, http, account, "300002", "33611000002", "Oscar WA",
                                                "wamid.ct3")
    v, web_vid, web_cid, ack = await web_visitor(server, "Order 1234?")
    token = v.welcome["token"]
    status, merged = merge(server, cookie, wa_vid, web_vid)  # the web visitor merged into the app's contact
    assert status == 200 and merged["kept"] == wa_vid
    # Their widget is told to reconnect (1001), and its token opens the kept contact.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and v.ws.close_code is None:
        try:
            await v.recv(1)
        except Exception:  # a timeout, or the socket closing: the loop checks which
            if v.ws.close_code is not None:
                break
    assert v.ws.close_code == 1001
    back = await visitor(server, token=token)
    assert back.welcome["visitor"]["id"] == wa_vid
    assert {c["id"] for c in back.welcome["conversations"]} >= {web_cid, wa_cid}
    await back.send({"t": "send", "ref": 7, "conversation": web_cid, "client_msg_id": ack["client_msg_id"],
                     "body": "Order 1234?"})
    retried = await back.expect("ack", ref=7)
    assert (retried["conversation"], retried["seq"]) == (web_cid, ack["seq"])
    assert [m["body"] for m in messages(server, cookie, web_cid) if m["author"]["kind"] == "visitor"] == [
        "Order 1234?"]
    await back.close()


async def test_the_timeline_shows_every_channel_and_conversation_in_time_order(server: PapoteServer) -> None:
    cookie = server.login()
    account = whatsapp(server, "300003")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        wa_cid, wa_vid = await whatsapp_contact(server, http, account, "300003", "33611000003", "Léa WA",
                                                "wamid.ct4", "First, by WhatsApp")
    await asyncio.sleep(0.01)  # distinct update times (ms clock)
    v, web_vid, web_cid, _ = await web_visitor(server, "Then on the website")
    await identify(server, v, "lea-42")
    status, _ = merge(server, cookie, wa_vid, web_vid)  # asked the other way: the verified one is kept
    assert status == 200
    body = timeline(server, cookie, web_vid)
    assert body["visitor"]["id"] == web_vid and body["visitor"]["verified"]
    assert [c["id"] for c in body["conversations"]] == [web_cid, wa_cid]  # most recent activity first
    assert [c["channel"]["kind"] for c in body["conversations"]] == ["web", "whatsapp"]
    assert body["conversations"][1]["last_message"]["body"] == "First, by WhatsApp"
    assert body["conversations"][1]["channel"]["address"] == "33611000003"
    kinds = {(i["kind"], i["address"]) for i in body["identities"]}
    assert ("web", "lea-42") in kinds and ("whatsapp", "33611000003") in kinds
    # The merged-away contact is gone, as a contact that never was.
    status, gone, _ = server.http("GET", f"/api/visitors/{wa_vid}/timeline", cookie=cookie)
    status_none, none, _ = server.http("GET", "/api/visitors/v_doesnotexist/timeline", cookie=cookie)
    assert (status, gone) == (status_none, none) == (404, none)
    # Found by a channel address, a name or an email.
    for q in ("33611000003", "léa", "lea-42"):
        path = f"/api/sites/{server.site_key}/contacts?q={urllib.parse.quote(q)}"
        status, found, _ = server.http("GET", path, cookie=cookie)
        assert status == 200 and [c["id"] for c in found["contacts"]] == [web_vid], q
    await v.close()


async def test_a_merge_is_refused_across_sites_between_verified_users_and_for_api_keys(
        server: PapoteServer) -> None:
    cookie = server.login()
    a, a_vid, _, _ = await web_visitor(server, "I am A")
    b, b_vid, _, _ = await web_visitor(server, "I am B")
    await identify(server, a, "user-a")
    await identify(server, b, "user-b")
    status, body = merge(server, cookie, a_vid, b_vid)
    assert (status, body["error"]["code"]) == (409, "verified_different")
    assert merge(server, cookie, a_vid, a_vid)[1]["error"]["code"] == "bad_field"
    # Another site's contact: exactly what a contact that does not exist gets.
    other_key = server.cli("site", "create", "--name", "Other", "--origin", server.base_url).splitlines()[0]
    c, c_vid, _, _ = await web_visitor_on(server, other_key)
    foreign = merge(server, cookie, a_vid, c_vid)
    missing = merge(server, cookie, a_vid, "v_doesnotexist")
    assert foreign == missing and foreign[0] == 404
    assert merge(server, cookie, c_vid, a_vid) == merge(server, cookie, "v_doesnotexist", a_vid)
    # An API key is a machine: merging is a person's act.
    status, key, _ = server.http("POST", f"/api/sites/{server.site_key}/keys", {"name": "CRM"}, cookie=cookie)
    status, body, _ = server.http("POST", f"/api/visitors/{a_vid}/merge", {"from": c_vid},
                                  headers={"authorization": f"Bearer {key['key']}"})
    assert status == 401
    for client in (a, b, c):
        await client.close()


async def web_visitor_on(server: PapoteServer, site_key: str) -> tuple[Any, str, str, dict[str, Any]]:
    v = await visitor(server, site=site_key)
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "elsewhere"})
    ack = await v.expect("ack", ref=1)
    return v, v.welcome["visitor"]["id"], ack["conversation"], ack


async def test_an_agents_merge_is_audited_and_moves_a_role_agent_may_do_it(server: PapoteServer) -> None:
    owner = server.login()
    server.cli("agent", "create", "--site", server.site_key, "--email", "merger@papote.test",
               "--password", "password-merge-1", "--role", "agent")
    plain = server.login("merger@papote.test", "password-merge-1")
    a, a_vid, _, _ = await web_visitor(server, "one")
    b, b_vid, b_cid, _ = await web_visitor(server, "two")
    console = await agent(server, owner)
    status, body = merge(server, plain, a_vid, b_vid)
    assert status == 200 and body["kept"] == a_vid
    status, audit, _ = server.http("GET", f"/api/sites/{server.site_key}/audit", cookie=owner)
    entry = next(e for e in audit["entries"] if e["action"] == "visitor.merged")
    assert (entry["target"], entry["details"], entry["actor"]["kind"]) == (a_vid, {"merged": b_vid}, "agent")
    # The inbox hears that the conversation is the kept contact's now.
    deadline = time.monotonic() + 20
    while True:
        frame = await console.expect("conversation", timeout=max(0.1, deadline - time.monotonic()))
        if frame["conversation"]["id"] == b_cid and frame["conversation"]["visitor"]["id"] == a_vid:
            break
    for client in (a, b, console):
        await client.close()


async def test_unverified_claims_merge_nothing(server: PapoteServer) -> None:
    cookie = server.login()
    known, _, _, _ = await web_visitor(server, "the real Marie")
    await known.send({"t": "identify", "ref": 2, "user_id": "marie", "hash": user_hash(server.site_secret, "marie"),
                      "name": "Marie Curie", "email": "marie@curie.test"})
    known_vid = (await known.expect("identified", ref=2))["visitor"]["id"]
    # Someone else types Marie's name and email in the pre-chat form, then in the away form.
    claim, claim_vid, claim_cid, _ = await web_visitor(server, "I am Marie, honest")
    await claim.send({"t": "set", "ref": 2, "name": "Marie Curie", "email": "marie@curie.test"})
    await claim.expect("ok", ref=2)
    await claim.send({"t": "contact", "ref": 3, "conversation": claim_cid, "email": "marie@curie.test"})
    await claim.expect("ok", ref=3)
    await claim.quiet(0.5)
    # Two contacts still, each with their own conversations.
    assert timeline(server, cookie, claim_vid)["visitor"]["id"] == claim_vid
    assert [c["id"] for c in timeline(server, cookie, claim_vid)["conversations"]] == [claim_cid]
    assert claim_cid not in [c["id"] for c in timeline(server, cookie, known_vid)["conversations"]]
    status, found, _ = server.http("GET", f"/api/sites/{server.site_key}/contacts?q=marie@curie.test", cookie=cookie)
    assert {c["id"] for c in found["contacts"]} == {known_vid, claim_vid}
    await known.close()
    await claim.close()


async def test_a_merge_on_one_node_reconnects_the_widget_on_another_which_continues_as_the_kept_contact(
        tmp_path: Path, redis_broker: Broker) -> None:
    async with postgres.database() as database, cluster(tmp_path, database, redis_broker, 2) as nodes:
        a, b = nodes[0], nodes[1]
        nodes.wait_nodes_see_each_other()
        owner = a.login()
        kept = await visitor(b, origin=nodes.origin)
        await kept.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "k"})
        await kept.expect("ack", ref=1)
        gone = await visitor(b, origin=nodes.origin)
        cmid = new_msg_id()
        await gone.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": cmid, "body": "mine"})
        first = await gone.expect("ack", ref=1)  # node b now caches the conversation as the merged one's
        kept_vid, gone_vid = kept.welcome["visitor"]["id"], gone.welcome["visitor"]["id"]

        status, body, _ = a.http("POST", f"/api/visitors/{kept_vid}/merge", {"from": gone_vid}, cookie=owner)
        assert status == 200, body

        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.wait_for(gone.ws.recv(), 20)
        assert gone.ws.close_code == 1001
        back = await visitor(b, token=gone.welcome["token"], origin=nodes.origin)
        assert back.welcome["visitor"]["id"] == kept_vid
        # Node b forgot what it cached of the merged-away visitor: the kept one may write in the conversation,
        # and the retried send is the first copy.
        await back.send({"t": "send", "ref": 2, "conversation": first["conversation"], "client_msg_id": cmid,
                         "body": "mine"})
        again = await back.expect("ack", ref=2)
        assert (again["conversation"], again["seq"]) == (first["conversation"], first["seq"])


async def test_a_block_of_the_merged_away_contact_blocks_the_kept_one(server: PapoteServer) -> None:
    cookie = server.login()
    kept, kept_vid, kept_cid, _ = await web_visitor(server, "I am fine")
    spam, spam_vid, _, _ = await web_visitor(server, "casino casino")
    status, _, _ = server.http("POST", f"/api/sites/{server.site_key}/blocks", {"visitor": spam_vid}, cookie=cookie)
    assert status == 201
    await kept.send({"t": "send", "ref": 2, "conversation": kept_cid, "client_msg_id": new_msg_id(), "body": "ok"})
    await kept.expect("ack", ref=2)  # this node now holds the site's blocks, without the kept contact
    assert merge(server, cookie, kept_vid, spam_vid)[0] == 200
    # A merge is no way out of a block: the kept contact is blocked at once (the cached blocks were dropped).
    await kept.send({"t": "send", "ref": 3, "conversation": kept_cid, "client_msg_id": new_msg_id(), "body": "hi"})
    refused = await kept.expect("error", ref=3)
    assert refused["code"] == "blocked"
    _, blocks, _ = server.http("GET", f"/api/sites/{server.site_key}/blocks", cookie=cookie)
    assert [b["visitor"] for b in blocks["blocks"]] == [kept_vid]
    await kept.close()
    await spam.close()


async def test_an_identify_merge_carries_a_block_at_once_too(server: PapoteServer) -> None:
    cookie = server.login()
    known, _, _, _ = await web_visitor(server, "I am Zoé")
    known_vid = (await identify(server, known, "zoe"))["visitor"]["id"]
    anon, anon_vid, _, _ = await web_visitor(server, "casino")
    status, _, _ = server.http("POST", f"/api/sites/{server.site_key}/blocks", {"visitor": anon_vid}, cookie=cookie)
    assert status == 201
    await known.send({"t": "send", "ref": 5, "conversation": None, "client_msg_id": new_msg_id(), "body": "ok"})
    cid = (await known.expect("ack", ref=5))["conversation"]  # the node holds the site's blocks now
    assert (await identify(server, anon, "zoe", ref=6))["visitor"]["id"] == known_vid
    await known.send({"t": "send", "ref": 7, "conversation": cid, "client_msg_id": new_msg_id(), "body": "hi"})
    assert (await known.expect("error", ref=7))["code"] == "blocked"
    await known.close()
    await anon.close()


async def test_an_identify_merge_on_one_node_reconnects_the_visitors_sockets_on_another(
        tmp_path: Path, redis_broker: Broker) -> None:
    async with postgres.database() as database, cluster(tmp_path, database, redis_broker, 2) as nodes:
        a, b = nodes[0], nodes[1]
        nodes.wait_nodes_see_each_other()
        known = await visitor(a, origin=nodes.origin)
        await identify(a, known, "max")
        other_device = await visitor(b, origin=nodes.origin)  # the anonymous visitor's socket on node b
        token = other_device.welcome["token"]
        tab = await visitor(a, token=token, origin=nodes.origin)  # the same visitor on node a identifies
        await identify(a, tab, "max")
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.wait_for(other_device.ws.recv(), 20)
        assert other_device.ws.close_code == 1001
        await known.close()
        await tab.close()

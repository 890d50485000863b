"""The bot end to end: real server, real sockets. It holds a new conversation and answers through the
normal append path (seq, resume, console), buttons as quick replies; a tap follows the tree; a word or
two misses hand over to routing; out of hours it collects an email for the continuation; no bot message
after an agent joins; a bot message is no first response; reports count its outcomes; a replayed
trigger (the crash case) posts nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Client, PapoteServer, agent, new_msg_id, serve, visitor

pytestmark = [pytest.mark.asyncio]

BOT: dict[str, Any] = {
    "enabled": True, "name": "Papote bot", "start": "hello",
    "nodes": [
        {"id": "hello", "kind": "buttons", "text": "Hi! What is it about?",
         "options": [{"label": "Shipping", "next": "ship"}, {"label": "All good", "next": "bye"}]},
        {"id": "ship", "kind": "message", "text": "Parcels leave within a day.", "next": "ask"},
        {"id": "ask", "kind": "faq", "text": "Anything else about shipping?"},
        {"id": "bye", "kind": "end", "text": "Glad I could help!"},
    ],
    "faq": [{"question": "Do you ship abroad?", "keywords": ["international", "abroad"],
             "answer": "Yes, to all of Europe."}],
}
CLOSED = {"tz": "UTC", "days": {}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    yield from serve(PapoteServer(Path(tmp_path_factory.mktemp("bot"))), request)


def configure(server: PapoteServer, **settings: Any) -> None:
    cookie = server.login()
    status, body, _ = server.http("PATCH", f"/api/sites/{server.site_key}",
                                  {"settings": {"bot": BOT, "hours": None, "groups": [], **settings}}, cookie=cookie)
    assert status == 200, body


async def start(server: PapoteServer, body: str = "Hello") -> tuple[Client, str]:
    v = await visitor(server)
    await v.send({"t": "resume", "epoch": v.welcome["epoch"], "conversations": {}})
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": body})
    return v, (await v.expect("ack", ref=1))["conversation"]


async def tap(v: Client, cid: str, offered: dict[str, Any], label: str, ref: int) -> None:
    option = [o["label"] for o in offered["data"]["quick_replies"]].index(label)
    await v.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(), "body": label,
                  "quick_reply": {"seq": offered["seq"], "option": option}})
    await v.expect("ack", ref=ref)


async def say(v: Client, cid: str, body: str, ref: int) -> None:
    await v.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(), "body": body})
    await v.expect("ack", ref=ref)


def bot_texts(server: PapoteServer, cid: str) -> list[str]:
    return [r[0] for r in server.sql("SELECT body FROM messages WHERE conversation_id=? AND author_kind='bot' "
                                     "AND kind='text' ORDER BY seq", cid)]


async def test_buttons_are_quick_replies_and_a_tap_follows_the_tree(server: PapoteServer) -> None:
    configure(server)
    v, cid = await start(server)
    hello = await v.expect("message", body="Hi! What is it about?", timeout=10)
    assert hello["author"] == {"kind": "bot", "id": hello["author"]["id"], "name": "Papote bot"}
    assert hello["data"]["quick_replies"] == [
        {"label": "Shipping", "value": "go:ship"}, {"label": "All good", "value": "go:bye"},
        {"label": "Talk to a person", "value": "person"}]
    await tap(v, cid, hello, "Shipping", 2)
    await v.expect("message", body="Parcels leave within a day.", timeout=10)
    await v.expect("message", body="Anything else about shipping?")
    await say(v, cid, "do you send parcels abroad?", 3)
    await v.expect("message", body="Yes, to all of Europe.", timeout=10)
    # Held by the bot: not in the queue, no first response, nobody assigned.
    assert server.sql("SELECT assignee_id, first_response_at FROM conversations WHERE id=?", cid) == [(None, None)]
    assert server.sql("SELECT status FROM bot_sessions WHERE conversation_id=?", cid) == [("active",)]
    # Resume replays the bot's messages from the store, with their seq.
    again = await visitor(server, token=v.welcome["token"])
    await again.send({"t": "resume", "epoch": again.welcome["epoch"], "conversations": {cid: 0}})
    history = await again.expect("history", conversation=cid)
    assert [m["body"] for m in history["messages"] if m["author"]["kind"] == "bot"] == bot_texts(server, cid)


async def test_a_word_hands_over_to_an_online_agent_and_the_bot_goes_quiet(server: PapoteServer) -> None:
    configure(server)
    a = await agent(server)
    await a.send({"t": "status", "ref": 1, "status": "online", "capacity": 5})
    v, cid = await start(server)
    await v.expect("message", body="Hi! What is it about?", timeout=10)
    await say(v, cid, "je veux un conseiller", 2)
    handover = await v.expect("message", event="handover", timeout=10)
    assert handover["data"] == {"reason": "asked", "group": None}
    assigned = await a.expect("message", event="assigned", conversation=cid, timeout=10)
    assert assigned["data"]["agent"]["kind"] == "agent"  # routing runs once the session is saved
    assert server.sql("SELECT status, reason FROM bot_sessions WHERE conversation_id=?", cid) == [("handover", "asked")]
    before = bot_texts(server, cid)
    await say(v, cid, "hello? blorp", 3)
    await a.send({"t": "send", "ref": 4, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Hi, Léa here"})
    await a.expect("ack", ref=4)
    assert not [f for f in await v.quiet(0.5) if f.get("author", {}).get("kind") == "bot"]
    assert bot_texts(server, cid) == before
    # The agent's text is the first response, not the bot's earlier ones.
    [(first, agent_text_at)] = server.sql(
        "SELECT c.first_response_at, m.created_at FROM conversations c JOIN messages m ON m.conversation_id=c.id "
        "WHERE c.id=? AND m.author_kind='agent' AND m.kind='text'", cid)
    assert first == agent_text_at
    await a.send({"t": "status", "ref": 5, "status": "offline"})
    await a.expect("ok", ref=5)


async def test_two_misses_hand_over_and_an_agent_who_takes_it_silences_the_bot(server: PapoteServer) -> None:
    configure(server)
    v, cid = await start(server)
    await v.expect("message", body="Hi! What is it about?", timeout=10)
    await say(v, cid, "blorp", 2)
    sorry = await v.expect("message", author={"kind": "bot", "id": f"bot:{_site_id(server)}", "name": "Papote bot"},
                           timeout=10)
    assert sorry["body"].startswith("Sorry, I didn't understand that.")
    await say(v, cid, "zzz", 3)
    await v.expect("message", event="handover", timeout=10)
    # Nobody online: it waits in the queue like any conversation (routing comes after the session is saved).
    await v.expect("queue", conversation=cid, timeout=10)
    assert server.sql("SELECT status, reason FROM bot_sessions WHERE conversation_id=?", cid) == [
        ("handover", "not_understood")]


async def test_out_of_hours_the_bot_collects_an_email(server: PapoteServer) -> None:
    configure(server, hours=CLOSED)
    v, cid = await start(server)
    hello = await v.expect("message", body="Hi! What is it about?", timeout=10)
    await tap(v, cid, hello, "Talk to a person", 2)
    # No relay on this server: the email continuation cannot answer, so no address is asked.
    away = await v.expect("message", author={"kind": "bot", "id": f"bot:{_site_id(server)}", "name": "Papote bot"},
                          timeout=10)
    assert away["body"] == "Our team is away right now: someone will answer here when they are back."


async def test_agent_claim_before_the_bot_speaks_again(server: PapoteServer) -> None:
    configure(server)
    v, cid = await start(server)
    await v.expect("message", body="Hi! What is it about?", timeout=10)
    a = await agent(server)
    await a.send({"t": "send", "ref": 1, "conversation": cid, "client_msg_id": new_msg_id(), "body": "I'm here"})
    await a.expect("ack", ref=1)
    await v.expect("message", event="assigned", timeout=10)
    assert server.sql("SELECT status, reason FROM bot_sessions WHERE conversation_id=?", cid) == [("handover", "agent")]
    before = bot_texts(server, cid)
    await say(v, cid, "Shipping", 2)
    await a.expect("message", body="Shipping")
    # What would come, would come within this: the bot answers in milliseconds (the tests above).
    assert not [f for f in await v.quiet(0.5) if f.get("author", {}).get("kind") == "bot"]
    assert bot_texts(server, cid) == before


async def test_a_handover_to_a_group_goes_to_its_agents_only(server: PapoteServer) -> None:
    """Two agents online: the owner with room for five, Bob with room for one. Without groups routing
    picks the owner (most free slots); the tree hands "Sales" to the group `sales`, which is Bob."""
    server.cli("agent", "create", "--site", server.site_key, "--email", "bob@papote.test", "--password",
               "bob-password-1", "--name", "Bob", "--role", "agent")
    [(bob_id,)] = server.sql("SELECT id FROM agents WHERE email=?", "bob@papote.test")
    sales = {**BOT, "nodes": [
        {"id": "hello", "kind": "buttons", "text": "Hi! What is it about?",
         "options": [{"label": "Sales", "next": "sales"}]},
        {"id": "sales", "kind": "handover", "text": "A seller takes it from here.", "group": "sales"}]}
    configure(server, bot=sales, groups=[{"id": "sales", "name": "Sales", "agents": [bob_id]}])
    owner = await agent(server)
    await owner.send({"t": "status", "ref": 1, "status": "online", "capacity": 5})
    await owner.expect("ok", ref=1)
    bob = await agent(server, server.login("bob@papote.test", "bob-password-1"))
    await bob.send({"t": "status", "ref": 1, "status": "online", "capacity": 1})
    await bob.expect("ok", ref=1)
    v, cid = await start(server)
    hello = await v.expect("message", body="Hi! What is it about?", timeout=10)
    await tap(v, cid, hello, "Sales", 2)
    handover = await v.expect("message", event="handover", timeout=10)
    assert handover["data"] == {"reason": "flow", "group": "sales"}
    assigned = await v.expect("message", event="assigned", timeout=10)
    assert assigned["data"]["agent"]["id"] == bob_id
    # Bob is full now: the next "Sales" visitor waits for Bob rather than go to the owner.
    v2, cid2 = await start(server)
    hello = await v2.expect("message", body="Hi! What is it about?", timeout=10)
    await tap(v2, cid2, hello, "Sales", 2)
    await v2.expect("queue", conversation=cid2, timeout=10)
    assert server.sql("SELECT assignee_id FROM conversations WHERE id=?", cid2) == [(None,)]
    for a in (owner, bob):
        await a.send({"t": "status", "ref": 9, "status": "offline"})
        await a.expect("ok", ref=9)


async def test_reports_count_the_bot_outcomes(server: PapoteServer) -> None:
    cookie = server.login()
    status, report, _ = server.http("GET", f"/api/sites/{server.site_key}/reports", cookie=cookie)
    assert status == 200, report
    bot = report["bot"]
    assert bot["conversations"] >= 4 and bot["handovers"] >= 3
    assert bot["handover_rate_pct"] is not None and 0 <= bot["resolution_rate_pct"] <= 100


def _site_id(server: PapoteServer) -> str:
    return str(server.sql("SELECT id FROM sites WHERE key=?", server.site_key)[0][0])


async def test_a_crash_mid_flow_and_a_restart_post_no_bot_message_twice(server: PapoteServer) -> None:
    """The bot's messages have ids derived from (conversation, trigger seq, step): a run that starts over
    from a state saved before the crash finds them stored and posts none again. The server is killed
    (SIGKILL) and the session put back to where it was before any step was saved: the restart's sweep
    feeds every visitor message again, and the store dedupes what the bot says."""
    configure(server)
    v, cid = await start(server)
    hello = await v.expect("message", body="Hi! What is it about?", timeout=10)
    await tap(v, cid, hello, "Shipping", 2)
    await v.expect("message", body="Anything else about shipping?", timeout=10)
    await say(v, cid, "blorp", 3)
    await v.expect("message", body="Sorry, I didn't understand that. Anything else about shipping?", timeout=10)
    # The step is saved just after its messages: wait for it, so "before" is the whole of it.
    [(seen,)] = server.sql("SELECT MAX(seq) FROM messages WHERE conversation_id=? AND author_kind='visitor'", cid)
    deadline = time.monotonic() + 30
    while server.sql("SELECT seen_seq FROM bot_sessions WHERE conversation_id=?", cid) != [(seen,)]:
        assert time.monotonic() < deadline, "the bot did not save its step"
        await asyncio.sleep(0.05)
    before = server.sql("SELECT seq, client_msg_id, body FROM messages WHERE conversation_id=? ORDER BY seq", cid)
    await v.close()
    server.kill()
    # As if the crash came after the bot's messages were appended and before any step was saved.
    with contextlib.closing(sqlite3.connect(server.db_path)) as db, db:
        db.execute("UPDATE bot_sessions SET seen_seq=0, state='{}' WHERE conversation_id=?", (cid,))
    server.start()

    def caught_up() -> bool:
        return server.sql("SELECT seen_seq FROM bot_sessions WHERE conversation_id=?", cid) == [(seen,)]

    deadline = time.monotonic() + 30
    while not caught_up():
        assert time.monotonic() < deadline, "the restart's sweep did not feed the session again"
        await asyncio.sleep(0.05)
    assert server.sql("SELECT seq, client_msg_id, body FROM messages WHERE conversation_id=? ORDER BY seq",
                      cid) == before
    assert server.sql("SELECT state FROM bot_sessions WHERE conversation_id=?", cid)[0][0].count('"misses": 1')


async def test_the_preview_runs_the_real_stepper_on_a_draft(server: PapoteServer) -> None:
    cookie = server.login()
    path = f"/api/sites/{server.site_key}/bot/preview"
    draft = {**BOT, "nodes": [{"id": "hi", "kind": "buttons", "text": "Draft hello",
                               "options": [{"label": "Go", "next": "bye"}]},
                              {"id": "bye", "kind": "end", "text": "Draft bye"}], "start": "hi"}
    status, first, _ = server.http("POST", path, {"bot": draft, "input": {"text": "hey"}}, cookie=cookie)
    assert status == 200, first
    assert first["outputs"] == [{"kind": "say", "text": "Draft hello", "options": [
        {"label": "Go", "value": "go:bye"}, {"label": "Talk to a person", "value": "person"}]}]
    status, second, _ = server.http("POST", path, {"bot": draft, "state": first["state"],
                                                   "input": {"text": "Go", "choice": "go:bye"}}, cookie=cookie)
    assert [o["kind"] for o in second["outputs"]] == ["say", "resolved"] and second["state"]["phase"] == "resolved"
    status, closed, _ = server.http("POST", path, {"bot": draft, "state": first["state"], "input": {"text": "human"},
                                                   "context": {"open_now": False}}, cookie=cookie)
    assert closed["state"]["phase"] == "away_email"
    # A step leading nowhere gets a meaning (it waits); a draft of the wrong shape is refused, coded.
    loose = {**draft, "nodes": [{"id": "hi", "kind": "message", "text": "x", "next": "nowhere"}]}
    status, body, _ = server.http("POST", path, {"bot": loose, "input": {"text": "hey"}}, cookie=cookie)
    assert status == 200 and body["state"]["node"] == "hi"
    broken = {**draft, "nodes": [{"id": "hi", "kind": "wat"}]}
    status, body, _ = server.http("POST", path, {"bot": broken, "input": {"text": "hey"}}, cookie=cookie)
    assert status == 400 and body["error"]["code"] == "bad_field"

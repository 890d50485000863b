"""Quick replies end to end: an agent's message offers options, the visitor's tap is a message that says
which one it chose, read back from the history by anyone; bad option lists and forged choices are
refused with coded errors and store nothing. Real server, real sockets, both backends."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.harness import Client, PapoteServer, agent, new_msg_id, visitor

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]

# Texts only: the claim an agent's reply makes adds its event on its own time.
TEXTS = "SELECT COUNT(*) FROM messages WHERE conversation_id=? AND kind='text'"
OPTIONS = [{"label": "Track my order"}, {"label": "Return an item", "value": "returns"}, {"label": "Something else"}]


async def conversation_with_options(server: PapoteServer) -> tuple[Client, Client, str, int]:
    v = await visitor(server)
    await v.send({"t": "resume", "epoch": v.welcome["epoch"], "conversations": {}})
    await v.send({"t": "send", "ref": 1, "conversation": None, "client_msg_id": new_msg_id(), "body": "Hello"})
    cid = (await v.expect("ack", ref=1))["conversation"]
    a = await agent(server)
    await a.send({"t": "send", "ref": 2, "conversation": cid, "client_msg_id": new_msg_id(),
                  "body": "How can I help?", "quick_replies": OPTIONS})
    seq = (await a.expect("ack", ref=2))["seq"]
    return v, a, cid, seq


async def test_options_reach_the_visitor_and_the_choice_reaches_the_agent(papote_server: PapoteServer) -> None:
    v, a, cid, seq = await conversation_with_options(papote_server)
    offered = await v.expect("message", body="How can I help?")
    assert offered["seq"] == seq
    assert offered["data"] == {"quick_replies": [{"label": "Track my order"},
                                                 {"label": "Return an item", "value": "returns"},
                                                 {"label": "Something else"}]}
    cmid = new_msg_id()
    tap = {"t": "send", "conversation": cid, "client_msg_id": cmid, "body": "Return an item",
           "quick_reply": {"seq": seq, "option": 1}}
    await v.send({**tap, "ref": 3})
    ack = await v.expect("ack", ref=3)
    chosen = await a.expect("message", body="Return an item")
    assert chosen["author"]["kind"] == "visitor"
    assert chosen["data"] == {"quick_reply": {"seq": seq, "option": 1, "label": "Return an item", "value": "returns"}}
    # Exactly once like any send: the retry is the original ack.
    await v.send({**tap, "ref": 4})
    assert (await v.expect("ack", ref=4))["seq"] == ack["seq"]
    assert papote_server.sql("SELECT COUNT(*) FROM messages WHERE client_msg_id=?", cmid) == [(1,)]
    # And the history says it, for a reload or another device.
    again = await visitor(papote_server, token=v.welcome["token"])
    await again.send({"t": "resume", "epoch": again.welcome["epoch"], "conversations": {cid: 0}})
    history = await again.expect("history", conversation=cid)
    data = [m.get("data") for m in history["messages"] if m["kind"] == "text"]
    assert data[0] is None
    assert data[1]["quick_replies"][1]["value"] == "returns"
    assert data[2]["quick_reply"]["option"] == 1
    # REST readers see the same.
    cookie = papote_server.login()
    status, page, _ = papote_server.http("GET", f"/api/conversations/{cid}/messages", cookie=cookie)
    assert status == 200
    [tapped] = [m for m in page["messages"] if m["client_msg_id"] == cmid]
    assert tapped["data"]["quick_reply"]["label"] == "Return an item"
    for c in (v, a, again):
        await c.close()


@pytest.mark.parametrize(("options", "code"), [
    ([{"label": "   "}], "bad_field"),                                      # blank
    ([{"label": "x" * 61}], "too_large"),                                   # over the label's length
    ([{"label": f"option {n}"} for n in range(11)], "too_large"),         # over the count
    ([{"label": "A", "value": ""}], "bad_field"),                           # an empty value
    ([{"value": "no label"}], "bad_field"),                                 # no label
    ("yes", "bad_field"),                                                   # not a list
])
async def test_a_bad_option_list_is_refused_with_a_coded_error(papote_server: PapoteServer, options: Any,
                                                                code: str) -> None:
    v, a, cid, _ = await conversation_with_options(papote_server)
    before = papote_server.sql(TEXTS, cid)
    await a.send({"t": "send", "ref": 9, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Pick one",
                  "quick_replies": options})
    error = await a.expect("error", ref=9)
    assert error["code"] == code and "quick_replies" in error["message"]
    assert papote_server.sql(TEXTS, cid) == before
    await v.close()
    await a.close()


async def test_where_options_meet_they_get_a_meaning(papote_server: PapoteServer) -> None:
    v, a, cid, _ = await conversation_with_options(papote_server)
    # A note offers nothing (the visitor never sees it): stored without its options.
    await a.send({"t": "send", "ref": 9, "conversation": cid, "client_msg_id": new_msg_id(), "body": "psst",
                  "note": True, "quick_replies": [{"label": "Yes"}]})
    await a.expect("ack", ref=9)
    cookie = papote_server.login()
    status, _, _ = papote_server.http("POST", f"/api/conversations/{cid}/messages", cookie=cookie,
                                      body={"body": "shh", "note": True, "quick_replies": [{"label": "Yes"}]})
    assert status == 201
    assert papote_server.sql("SELECT data FROM messages WHERE conversation_id=? AND kind='note'", cid) == [
        (None,), (None,)]
    # A label repeated (trimmed, without case) is left out: the visitor could not tell them apart.
    await a.send({"t": "send", "ref": 10, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Sure?",
                  "quick_replies": [{"label": "Yes"}, {"label": " YES "}, {"label": "No"}]})
    await a.expect("ack", ref=10)
    got = await v.expect("message", body="Sure?")
    assert got["data"] == {"quick_replies": [{"label": "Yes"}, {"label": "No"}]}
    await v.close()
    await a.close()


async def test_options_over_rest(papote_server: PapoteServer) -> None:
    v, a, cid, _ = await conversation_with_options(papote_server)
    cookie = papote_server.login()
    status, ack, _ = papote_server.http("POST", f"/api/conversations/{cid}/messages", cookie=cookie,
                                     body={"body": "Which size?", "quick_replies": [{"label": "S"}, {"label": "M"}]})
    assert status == 201
    got = await v.expect("message", body="Which size?")
    assert got["seq"] == ack["seq"] and got["data"] == {"quick_replies": [{"label": "S"}, {"label": "M"}]}
    status, body, _ = papote_server.http("POST", f"/api/conversations/{cid}/messages", cookie=cookie,
                                      body={"body": "Which?", "quick_replies": [{"label": "S"}] * 11})
    assert status == 400 and body["error"]["code"] == "bad_field"  # the REST schema's code for any misfit
    await v.close()
    await a.close()


async def test_a_choice_must_name_an_offered_option(papote_server: PapoteServer) -> None:
    v, a, cid, seq = await conversation_with_options(papote_server)
    before = papote_server.sql(TEXTS, cid)
    forged = [
        {"seq": seq, "option": 3},        # past the three offered
        {"seq": 1, "option": 0},          # the visitor's own message offers nothing
        {"seq": seq + 50, "option": 0},   # no such message
    ]
    for ref, choice in enumerate(forged, start=20):
        await v.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Hm",
                      "quick_reply": choice})
        assert (await v.expect("error", ref=ref))["code"] == "bad_field"
    await v.send({"t": "send", "ref": 30, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Hm",
                   "quick_reply": {"seq": seq, "option": 10}})
    assert (await v.expect("error", ref=30))["code"] == "bad_field"
    # Without its conversation a tap has nothing to answer.
    await v.send({"t": "send", "ref": 31, "conversation": None, "client_msg_id": new_msg_id(), "body": "Hm",
                  "quick_reply": {"seq": seq, "option": 0}})
    assert (await v.expect("error", ref=31))["code"] == "bad_field"
    assert papote_server.sql(TEXTS, cid) == before
    # Another visitor's conversation is not found, as always.
    stranger = await visitor(papote_server)
    await stranger.send({"t": "send", "ref": 32, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Hm",
                         "quick_reply": {"seq": seq, "option": 0}})
    assert (await stranger.expect("error", ref=32))["code"] == "not_found"
    for c in (v, a, stranger):
        await c.close()


async def test_an_answered_set_refuses_a_second_tap_and_a_retry_keeps_its_first_ack(
        papote_server: PapoteServer) -> None:
    v, a, cid, seq = await conversation_with_options(papote_server)
    first = {"t": "send", "conversation": cid, "client_msg_id": new_msg_id(), "body": "Track my order",
             "quick_reply": {"seq": seq, "option": 0}}
    await v.send({**first, "ref": 40})
    ack = await v.expect("ack", ref=40)
    answered = papote_server.sql(TEXTS, cid)
    # Another tap on the same set, from this tab or another one of the visitor's: refused, nothing stored.
    other_tab = await visitor(papote_server, token=v.welcome["token"])
    for client, ref, option in ((v, 41, 1), (v, 42, 0), (other_tab, 43, 2)):
        await client.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(),
                           "body": "again", "quick_reply": {"seq": seq, "option": option}})
        error = await client.expect("error", ref=ref)
        assert error["code"] == "answered", error
    # The first tap sent again (the widget's outbox after a reconnect): its first ack, still.
    await other_tab.send({**first, "ref": 44})
    assert (await other_tab.expect("ack", ref=44))["seq"] == ack["seq"]
    assert papote_server.sql(TEXTS, cid) == answered
    # A later message's options are a set of their own.
    await a.send({"t": "send", "ref": 45, "conversation": cid, "client_msg_id": new_msg_id(), "body": "Anything else?",
                  "quick_replies": [{"label": "No"}, {"label": "Yes"}]})
    later = (await a.expect("ack", ref=45))["seq"]
    await v.send({"t": "send", "ref": 46, "conversation": cid, "client_msg_id": new_msg_id(), "body": "No",
                  "quick_reply": {"seq": later, "option": 0}})
    await v.expect("ack", ref=46)
    for c in (v, a, other_tab):
        await c.close()


async def answer_to(client: Client, ref: int, timeout: float = 10.0) -> dict[str, Any]:
    """The `ack` or `error` answering the frame sent with `ref`."""
    deadline = time.monotonic() + timeout
    while True:
        for i, frame in enumerate(client.backlog):
            if frame.get("ref") == ref and frame["t"] in ("ack", "error"):
                return client.backlog.pop(i)
        frame = await client.recv(max(0.01, deadline - time.monotonic()))
        client.backlog.append(frame)


async def test_a_double_tap_stores_one_answer(papote_server: PapoteServer) -> None:
    """Two taps sent back to back, and two tabs tapping at once: the second of each pair is checked once
    the first is committed, and refused."""
    v, a, cid, seq = await conversation_with_options(papote_server)
    other_tab = await visitor(papote_server, token=v.welcome["token"])
    taps = [(v, 50, 0), (v, 51, 1), (other_tab, 52, 2)]
    for client, ref, option in taps:  # none waits for an answer before the next goes
        await client.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(),
                           "body": OPTIONS[option]["label"], "quick_reply": {"seq": seq, "option": option}})
    answers = []
    for client, ref, _ in taps:
        frame = await answer_to(client, ref)
        answers.append(frame["t"] if frame["t"] == "ack" else frame["code"])
    assert sorted(answers) == ["ack", "answered", "answered"], answers
    taps_stored = papote_server.sql(
        "SELECT COUNT(*) FROM messages WHERE conversation_id=? AND author_kind='visitor' AND kind='text' "
        "AND seq>?", cid, seq)
    assert taps_stored == [(1,)]
    for c in (v, a, other_tab):
        await c.close()

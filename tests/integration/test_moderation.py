"""Moderation and NPS through a real server (SQLite): blocking a visitor, the spam filter holding a
message and an agent releasing it, saved views, the insight export, and the NPS survey from the close
to the reports and the CSV. One server for the module: each test uses visitors of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Client, PapoteServer, agent, new_msg_id, serve, visitor

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    yield from serve(PapoteServer(Path(tmp_path_factory.mktemp("moderation"))), request)


@pytest.fixture(scope="module")
def cookie(server: PapoteServer) -> str:
    return server.login()


async def say(client: Client, body: str, cid: str | None, ref: int) -> dict[str, object]:
    """Send and return the answer to it: the ack, or the error."""
    await client.send({"t": "send", "ref": ref, "conversation": cid, "client_msg_id": new_msg_id(), "body": body})
    while True:
        frame = await client.recv(10)
        if frame["t"] in ("ack", "error") and frame.get("ref") == ref:
            return frame


async def test_a_blocked_visitors_messages_reach_nobody_until_unblocked(server: PapoteServer, cookie: str) -> None:
    v = await visitor(server)
    first = await say(v, "hello", None, 1)
    cid, vid = str(first["conversation"]), v.welcome["visitor"]["id"]
    a = await agent(server, cookie)
    await a.send({"t": "subscribe", "conversations": [cid]})
    status, block, _ = server.http("POST", f"/api/sites/{server.site_key}/blocks", {"visitor": vid, "reason": "abuse"},
                                   cookie=cookie)
    assert status == 201 and block["visitor"] == vid and block["reason"] == "abuse"
    refused = await say(v, "you again", cid, 2)
    assert refused["t"] == "error" and refused["code"] == "blocked"
    refused = await say(v, "a new one", None, 3)  # nor can they start another conversation
    assert refused["code"] == "blocked"
    await a.quiet(0.3)
    assert not [f for f in a.frames if f.get("body") in ("you again", "a new one")]
    assert server.sql("SELECT count(*) FROM messages WHERE body='you again'") == [(0,)]
    _, listed, _ = server.http("GET", f"/api/sites/{server.site_key}/blocks", cookie=cookie)
    assert [b["visitor"] for b in listed["blocks"]] == [vid]
    assert server.http("DELETE", f"/api/sites/{server.site_key}/blocks/{vid}", cookie=cookie)[0] == 200
    assert server.http("DELETE", f"/api/sites/{server.site_key}/blocks/{vid}", cookie=cookie)[0] == 404
    back = await say(v, "sorry", cid, 4)
    assert back["t"] == "ack"
    await a.expect("message", body="sorry")
    # A visitor of no such site (or another's) cannot be blocked here.
    status, body, _ = server.http("POST", f"/api/sites/{server.site_key}/blocks", {"visitor": "v_nobody"},
                                  cookie=cookie)
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_the_filter_holds_a_message_until_an_agent_releases_or_deletes_it(server: PapoteServer,
                                                                                cookie: str) -> None:
    status, _, _ = server.http("PATCH", f"/api/sites/{server.site_key}",
                               {"settings": {"spam_words": ["casino"], "spam_max_links": 1}}, cookie=cookie)
    assert status == 200
    try:
        v = await visitor(server)
        held = await say(v, "Best CASINO bonus", None, 1)
        assert held["t"] == "error" and held["code"] == "held"
        links = await say(v, "see http://a.test and http://b.test", None, 2)
        assert links["code"] == "held"
        _, listed, _ = server.http("GET", f"/api/sites/{server.site_key}/held", cookie=cookie)
        # Oldest first; two held in the same millisecond (a fast machine) may come in either order.
        mine = sorted((h for h in listed["held"] if h["visitor"] == v.welcome["visitor"]["id"]),
                      key=lambda h: (h["created_at"], h["body"] != "Best CASINO bonus"))
        assert [(h["body"], h["reasons"], h["conversation"]) for h in mine] == [
            ("Best CASINO bonus", ["words"], None), ("see http://a.test and http://b.test", ["links"], None)]
        assert server.sql("SELECT count(*) FROM messages WHERE body='Best CASINO bonus'") == [(0,)]
        status, released, _ = server.http("POST", f"/api/sites/{server.site_key}/held/{mine[0]['id']}/release",
                                          cookie=cookie)
        assert status == 200 and released["seq"] >= 1
        # The visitor's widget learns of the conversation and gets the message, as theirs.
        got = await v.expect("message", body="Best CASINO bonus", timeout=10)
        assert got["author"]["kind"] == "visitor" and got["conversation"] == released["conversation"]
        assert server.http("POST", f"/api/sites/{server.site_key}/held/{mine[0]['id']}/release",
                           cookie=cookie)[0] == 404
        assert server.http("DELETE", f"/api/sites/{server.site_key}/held/{mine[1]['id']}", cookie=cookie)[0] == 200
        _, listed, _ = server.http("GET", f"/api/sites/{server.site_key}/held", cookie=cookie)
        assert not [h for h in listed["held"] if h["visitor"] == v.welcome["visitor"]["id"]]
        assert server.sql("SELECT count(*) FROM messages WHERE body LIKE 'see http%'") == [(0,)]
    finally:
        server.http("PATCH", f"/api/sites/{server.site_key}",
                    {"settings": {"spam_words": [], "spam_max_links": None}}, cookie=cookie)


async def test_saved_views_and_the_export_with_labels(server: PapoteServer, cookie: str) -> None:
    v = await visitor(server)
    cid = str((await say(v, "refund please", None, 1))["conversation"])
    assert server.http("POST", f"/api/conversations/{cid}/label", {"add": ["refund", "vip"]}, cookie=cookie)[0] == 200
    site = server.site_key
    status, view, _ = server.http("POST", f"/api/sites/{site}/views", {"name": "Refunds", "labels": ["refund"],
                                                                        "status": "open"}, cookie=cookie)
    assert status == 200 and view["labels"] == ["refund"] and view["status"] == "open"
    _, again, _ = server.http("POST", f"/api/sites/{site}/views", {"name": "Refunds", "labels": ["refund", "vip"]},
                              cookie=cookie)
    assert again["id"] == view["id"] and again["status"] is None
    _, views, _ = server.http("GET", f"/api/sites/{site}/views", cookie=cookie)
    assert [w["name"] for w in views["views"]] == ["Refunds"]
    for blank in ("", "   "):  # spaces alone were stored as a view with no name
        status, body, _ = server.http("POST", f"/api/sites/{site}/views", {"name": blank}, cookie=cookie)
        assert status == 400 and body["error"]["code"] == "bad_field", blank
    assert server.http("DELETE", f"/api/sites/{site}/views/{view['id']}", cookie=cookie)[0] == 200

    status, text, headers = server.http("GET", f"/api/sites/{site}/export/conversations", cookie=cookie)
    assert status == 200 and headers["content-type"].startswith("text/csv")
    lines = text.strip().split("\n")
    assert lines[0] == "id,created_at,closed_at,status,labels,visitor_id,assignee_id,rating,messages"
    assert any(line.startswith(cid + ",") and ",refund|vip," in line for line in lines)
    status, raw, _ = server.http("GET", f"/api/sites/{site}/export/conversations/json", cookie=cookie)
    exported = json.loads(raw) if isinstance(raw, str) else raw
    assert [c["labels"] for c in exported["conversations"] if c["id"] == cid] == [["refund", "vip"]]
    # Only owners and admins export.
    server.cli("agent", "create", "--site", site, "--email", "plain@papote.test", "--password", "plain-password-1",
               "--role", "agent")
    plain = server.login("plain@papote.test", "plain-password-1")
    status, body, _ = server.http("GET", f"/api/sites/{site}/export/conversations", cookie=plain)
    assert status == 403 and body["error"]["code"] == "forbidden"


async def test_nps_after_a_close_once_per_window_into_the_reports_and_csv(server: PapoteServer,
                                                                           cookie: str) -> None:
    site = server.site_key
    v = await visitor(server)
    cid = str((await say(v, "where is my parcel", None, 1))["conversation"])
    # Not enabled: a close offers nothing.
    assert server.http("POST", f"/api/conversations/{cid}/close", cookie=cookie)[0] == 200
    await v.expect("message", event="closed")
    assert server.sql("SELECT count(*) FROM nps_surveys") == [(0,)]
    assert server.http("PATCH", f"/api/sites/{site}", {"settings": {"nps_enabled": True, "nps_every_days": 30}},
                       cookie=cookie)[0] == 200
    try:
        assert (await say(v, "still there?", cid, 2))["t"] == "ack"  # reopens it
        assert server.http("POST", f"/api/conversations/{cid}/close", cookie=cookie)[0] == 200
        offer = await v.expect("message", event="nps", timeout=10)
        survey = offer["data"]["survey"]
        await v.send({"t": "nps", "ref": 7, "conversation": cid, "survey": survey, "score": 10, "comment": "Fast!"})
        await v.expect("ok", ref=7)
        answered = await v.expect("message", event="nps_answered")
        assert answered["data"] == {"survey": survey, "score": 10, "comment": "Fast!"}
        # A second answer (another tab, a retry) is ok and changes nothing.
        await v.send({"t": "nps", "ref": 8, "conversation": cid, "survey": survey, "score": 0})
        await v.expect("ok", ref=8)
        assert server.sql("SELECT score, comment, channel FROM nps_surveys") == [(10, "Fast!", "widget")]
        # Another conversation of the same visitor closed within the window: no second survey.
        cid2 = str((await say(v, "one more thing", None, 3))["conversation"])
        assert server.http("POST", f"/api/conversations/{cid2}/close", cookie=cookie)[0] == 200
        await v.expect("message", event="closed", conversation=cid2)
        await v.quiet(0.3)
        assert not [f for f in v.frames if f.get("event") == "nps" and f["conversation"] == cid2]
        # Someone else's survey, or a made-up one, is not found.
        other = await visitor(server)
        await other.send({"t": "nps", "ref": 9, "conversation": cid, "survey": survey, "score": 1})
        assert (await other.expect("error", ref=9))["code"] == "not_found"
        await v.send({"t": "nps", "ref": 10, "conversation": cid2, "survey": survey, "score": 1})
        assert (await v.expect("error", ref=10))["code"] == "not_found"

        _, report, _ = server.http("GET", f"/api/sites/{site}/reports", cookie=cookie)
        s = report["summary"]
        assert (s["nps_responses"], s["nps_promoters"], s["nps_score"]) == (1, 1, 100.0)
        assert report["nps_comments"][0]["comment"] == "Fast!" and report["nps_comments"][0]["score"] == 10
        assert sum(x["nps_responses"] for x in report["series"]) == 1
        _, text, _ = server.http("GET", f"/api/sites/{site}/reports/csv", cookie=cookie)
        lines = text.strip().split("\n")
        assert lines[0].endswith(",nps_responses,nps_score") and lines[-1].endswith(",1,100")
    finally:
        server.http("PATCH", f"/api/sites/{site}", {"settings": {"nps_enabled": False}}, cookie=cookie)


async def test_the_rate_rule_holds_a_fast_sender_and_only_where_a_site_asks(server: PapoteServer,
                                                                          cookie: str) -> None:
    v = await visitor(server)
    first = await say(v, "one", None, 1)
    cid = str(first["conversation"])
    for ref in range(2, 6):  # off by default: a fast sender is not held
        assert (await say(v, f"quick {ref}", cid, ref))["t"] == "ack"
    assert server.http("PATCH", f"/api/sites/{server.site_key}", {"settings": {"spam_rate": 2}},
                       cookie=cookie)[0] == 200
    try:
        fresh = await visitor(server)
        answers = [await say(fresh, "burst 0", None, 10)]
        cid2 = str(answers[0]["conversation"])
        answers += [await say(fresh, f"burst {n}", cid2, 10 + n) for n in (1, 2)]
        assert [a["t"] if a["t"] == "ack" else a["code"] for a in answers] == ["ack", "ack", "held"]
        _, listed, _ = server.http("GET", f"/api/sites/{server.site_key}/held", cookie=cookie)
        assert [h["reasons"] for h in listed["held"] if h["body"] == "burst 2"] == [["rate"]]
    finally:
        server.http("PATCH", f"/api/sites/{server.site_key}", {"settings": {"spam_rate": None}}, cookie=cookie)

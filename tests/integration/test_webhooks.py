"""Outgoing webhooks and the inbound API end to end: a real server, a real receiver (a Starlette app under
uvicorn on a free port, in a thread) that verifies every request with the `standardwebhooks` reference
package; SQLite and PostgreSQL.

The receiver is really down (its port closed) while events are committed, and the server is killed
(SIGKILL) and restarted meanwhile: every event still arrives once the receiver is back, in
per-conversation order. The retry schedule is shortened by settings (PAPOTE_WEBHOOK_RETRY_MS…) so
"ten minutes down" takes seconds; the schedule itself is the outbox's, unit-tested with its own clock.
Waits are on conditions, never fixed sleeps."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.harness import PapoteServer, free_port, new_msg_id, serve, until_sync

pytestmark = pytest.mark.both_backends

ALL_EVENTS = ["message.created", "conversation.opened", "conversation.closed", "conversation.reopened",
              "conversation.assigned", "conversation.rated"]


class Receiver:
    """A customer's webhook endpoint. `secrets` are what it verifies with (any one suffices, as a real
    receiver holding one of them); `fail_next` answers that many requests 500 first."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secrets: list[str] = []
        #: Every request: (webhook-id, timestamp, signature header, parsed body, secrets that verify it).
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        verified, parsed = [], None
        for secret in self.secrets:
            try:
                parsed = Webhook(secret).verify(body, headers)
                verified.append(secret)
            except WebhookVerificationError:
                pass
        with self._lock:
            failing = self.fail_next > 0
            self.fail_next -= 1 if failing else 0
            self.requests.append({"id": headers.get("webhook-id"), "ts": int(headers.get("webhook-timestamp", 0)),
                                  "signature": headers.get("webhook-signature", ""), "body": parsed,
                                  "verified": verified, "answered": 500 if failing else 204})
        return Response(status_code=500 if failing else 204)

    def start(self) -> None:
        app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        until_sync(lambda: self._server is not None and self._server.started, "the receiver to listen")

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(15)

    def delivered(self) -> list[dict[str, Any]]:
        """Each event once (the first request of each webhook-id that got a 2xx), in arrival order."""
        with self._lock:
            seen: set[str] = set()
            out = []
            for r in self.requests:
                if r["answered"] == 204 and r["id"] not in seen:
                    seen.add(r["id"])
                    out.append(r)
            return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    if r._server is not None and not r._server.should_exit:
        r.stop()


@pytest.fixture
def hook_server(tmp_path: Path, server_backend: str, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    server = PapoteServer(tmp_path, backend=server_backend, env_extra={
        "PAPOTE_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver is on loopback
        "PAPOTE_WEBHOOK_RETRY_MS": "100",
        "PAPOTE_WEBHOOK_RETRY_MAX_MS": "500",
        "PAPOTE_WEBHOOK_ATTEMPTS": "100",
        "PAPOTE_WEBHOOK_CHECK_SECS": "1",
        "PAPOTE_WEBHOOK_TIMEOUT_SECS": "2",
    })
    yield from serve(server, request)


def api_key(server: PapoteServer, cookie: str) -> dict[str, str]:
    status, key, _ = server.http("POST", f"/api/sites/{server.site_key}/keys", {"name": "integration"},
                                 cookie=cookie)
    assert status == 201, key
    return {"authorization": f"Bearer {key['key']}"}


def add_endpoint(server: PapoteServer, cookie: str, receiver: Receiver, events: list[str] | None = None) -> Any:
    status, endpoint, _ = server.http("POST", f"/api/sites/{server.site_key}/webhooks",
                                      {"url": receiver.url, "events": events or ALL_EVENTS}, cookie=cookie)
    assert status == 201, endpoint
    receiver.secrets.append(endpoint["secret"])
    return endpoint


def customer_says(server: PapoteServer, key: dict[str, str], who: str, body: str,
                  client_msg_id: str | None = None) -> tuple[int, Any]:
    status, answer, _ = server.http("POST", f"/api/sites/{server.site_key}/inbound/messages", {
        "contact": {"external_id": who, "name": who.title()}, "client_msg_id": client_msg_id or new_msg_id(),
        "body": body}, headers=key)
    return status, answer


def test_every_event_arrives_after_an_outage_and_a_crash_in_per_conversation_order(
        hook_server: PapoteServer, receiver: Receiver) -> None:
    server = hook_server
    cookie = server.login()
    key = api_key(server, cookie)
    add_endpoint(server, cookie, receiver)
    status, first = customer_says(server, key, "zoe", "hello")
    assert status == 201
    until_sync(lambda: len(receiver.delivered()) == 2, "the first conversation's opening and message")

    receiver.stop()  # down: its port refuses connections
    expected: dict[str, list[tuple[int, str]]] = {}
    conversations = {}
    closed = set()
    for n in range(12):
        who = ["zoe", "yann", "xavier"][n % 3]
        status, ack = customer_says(server, key, who, f"message {n}")
        assert status == 201, ack
        conversations[who] = ack["conversation"]
        if who in closed:  # a customer writing to a closed conversation reopens it, in the stream first
            closed.discard(who)
            expected[ack["conversation"]].append((ack["seq"] - 1, "conversation.reopened"))
        if ack["seq"] == 1:
            expected.setdefault(ack["conversation"], []).append((1, "conversation.opened"))
        expected.setdefault(ack["conversation"], []).append((ack["seq"], "message.created"))
        if n == 4:  # an agent's answer and a closing, in the stream like everything else
            reply = server.http("POST", f"/api/conversations/{conversations['yann']}/messages",
                                {"body": "on it", "client_msg_id": new_msg_id()}, headers=key)
            assert reply[0] == 201, reply
            expected[conversations["yann"]].append((reply[1]["seq"], "message.created"))
            closing = server.http("POST", f"/api/conversations/{conversations['yann']}/close", headers=key)
            assert closing[0] == 200, closing
            # (the summary answered is the state the `closed` event then follows, at the next seq)
            expected[conversations["yann"]].append((closing[1]["last_seq"] + 1, "conversation.closed"))
            closed.add("yann")
    # The attempts fail meanwhile, and the log says so: no answer at all.
    endpoint_id = server.http("GET", f"/api/sites/{server.site_key}/webhooks", cookie=cookie)[1]["endpoints"][0]["id"]
    log_path = f"/api/sites/{server.site_key}/webhooks/{endpoint_id}/deliveries"
    until_sync(lambda: any(a["status_code"] is None and a["error"]
                           for d in server.http("GET", log_path, cookie=cookie)[1]["deliveries"]
                           for a in d["attempts"]), "a failed attempt in the log")
    server.kill()  # and the server dies too, with deliveries queued and half-tried
    server.start()
    receiver.start()

    total = 2 + sum(len(v) for v in expected.values())
    until_sync(lambda: len(receiver.delivered()) >= total, f"{total} events delivered", timeout=90)
    delivered = receiver.delivered()
    assert len(delivered) == total
    assert all(r["verified"] == receiver.secrets for r in receiver.requests), "every request signed"
    got: dict[str, list[tuple[int, str]]] = {}
    for r in delivered[2:]:
        got.setdefault(r["body"]["data"]["conversation"], []).append((r["body"]["data"]["seq"], r["body"]["type"]))
    zoe = first["conversation"]
    expected[zoe] = [e for e in expected[zoe] if e[0] > 1]
    assert got == expected, "every event once, each conversation's in order"
    # A retried request kept its webhook-id, with the timestamp of its own attempt.
    # (the receiver may answer before the server has recorded the answer: wait for the log to say sent)
    log = until_sync(lambda: (lambda page: all(d["status"] == "sent" for d in page["deliveries"]) and page)(
        server.http("GET", log_path, cookie=cookie)[1]), "every delivery recorded as sent")
    retried = [d for d in log["deliveries"] if len(d["attempts"]) > 1]
    assert retried
    last = retried[0]["attempts"][-1]
    assert last["status_code"] == 204 and last["latency_ms"] >= 0 and last["error"] == ""


def test_rotation_the_log_and_a_resend(hook_server: PapoteServer, receiver: Receiver) -> None:
    server = hook_server
    cookie = server.login()
    key = api_key(server, cookie)
    endpoint = add_endpoint(server, cookie, receiver, ["message.created"])
    one = f"/api/sites/{server.site_key}/webhooks/{endpoint['id']}"
    receiver.fail_next = 1  # the first attempt is refused: the retry carries the same id
    customer_says(server, key, "wendy", "before the rotation")
    until_sync(lambda: len(receiver.delivered()) == 1, "the first event")
    first_id = receiver.delivered()[0]["id"]
    assert [r["id"] for r in receiver.requests] == [first_id, first_id]
    assert receiver.requests[1]["ts"] >= receiver.requests[0]["ts"]

    old = receiver.secrets[0]
    status, rotated, _ = server.http("POST", f"{one}/rotate", cookie=cookie)
    assert status == 200 and rotated["secret"] != old and rotated["secret"].startswith("whsec_")
    assert rotated["rotating_until"] > time.time() * 1000
    listed = server.http("GET", f"/api/sites/{server.site_key}/webhooks", cookie=cookie)[1]["endpoints"]
    assert "secret" not in listed[0], "a secret is shown when made, never listed"
    receiver.secrets = [rotated["secret"], old]
    customer_says(server, key, "wendy", "during the rotation")
    until_sync(lambda: len(receiver.delivered()) == 2, "the event after the rotation")
    during = receiver.delivered()[1]
    assert len(during["signature"].split(" ")) == 2
    assert during["verified"] == [rotated["secret"], old], "a receiver with either secret verifies"

    status, log, _ = server.http("GET", f"{one}/deliveries?limit=10", cookie=cookie)
    assert status == 200 and [d["type"] for d in log["deliveries"]] == ["message.created"] * 2
    newest, oldest = log["deliveries"]
    assert [a["status_code"] for a in oldest["attempts"]] == [500, 204]
    assert oldest["attempts"][0]["error"].startswith("HTTP 500")
    status, again, _ = server.http("POST", f"{one}/deliveries/{oldest['id']}/resend", cookie=cookie)
    assert status == 202 and again["webhook_id"] == oldest["webhook_id"] == first_id
    until_sync(lambda: [r["id"] for r in receiver.requests].count(first_id) == 3, "the re-sent event")
    assert server.http("POST", f"{one}/deliveries/d_nope/resend", cookie=cookie)[0] == 404

    # Another site's owner reaches none of it, even naming this endpoint through their own site.
    site_b = server.cli("site", "create", "--name", "B", "--origin", server.base_url).splitlines()[0]
    server.cli("agent", "create", "--site", site_b, "--email", "b@papote.test", "--password", "password-b-1",
               "--role", "owner")
    cookie_b = server.login("b@papote.test", "password-b-1")
    theirs = f"/api/sites/{site_b}/webhooks/{endpoint['id']}"
    for method, path, body in (("PATCH", theirs, {"description": "x"}), ("DELETE", theirs, None),
                               ("POST", f"{theirs}/rotate", None), ("GET", f"{theirs}/deliveries", None),
                               ("POST", f"{theirs}/deliveries/{oldest['id']}/resend", None),
                               ("GET", f"{one}/deliveries", None), ("POST", f"{one}/rotate", None)):
        status, answer, _ = server.http(method, path, body, cookie=cookie_b)
        assert (status, answer["error"]["code"]) == (404, "not_found"), (method, path, answer)

    # An agent who is not an admin may not see or change endpoints; removing one stops its deliveries.
    server.cli("agent", "create", "--site", server.site_key, "--email", "agent@papote.test", "--password",
               "agent-password-1", "--role", "agent")
    plain = server.login("agent@papote.test", "agent-password-1")
    assert server.http("GET", f"/api/sites/{server.site_key}/webhooks", cookie=plain)[0] == 403
    assert server.http("DELETE", one, cookie=cookie)[0] == 200
    assert server.http("GET", f"{one}/deliveries", cookie=cookie)[0] == 404
    bad = server.http("POST", f"/api/sites/{server.site_key}/webhooks",
                      {"url": receiver.url, "events": ["message.deleted"]}, cookie=cookie)
    assert bad[0] == 400 and bad[1]["error"]["code"] == "bad_field"


def test_the_inbound_api_is_idempotent_and_authorized(hook_server: PapoteServer, receiver: Receiver) -> None:
    server = hook_server
    cookie = server.login()
    key = api_key(server, cookie)
    add_endpoint(server, cookie, receiver, ["message.created"])
    msg_id = new_msg_id()
    status, ack = customer_says(server, key, "crm-4711", "my parcel is late", msg_id)
    assert status == 201 and ack["seq"] == 1 and ack["duplicate"] is False
    status, again = customer_says(server, key, "crm-4711", "my parcel is late", msg_id)
    assert status == 201 and again["duplicate"] is True
    assert {k: again[k] for k in ("conversation", "seq", "ts")} == {k: ack[k] for k in ("conversation", "seq", "ts")}
    status, clash = customer_says(server, key, "crm-4711", "another body", msg_id)
    assert status == 409 and clash["error"]["code"] == "conflict"
    status, next_one = customer_says(server, key, "crm-4711", "any news?")
    assert status == 201 and next_one["conversation"] == ack["conversation"] and next_one["seq"] == 2
    # The contact is the site's user: found by the external id, the same visitor every time.
    status, contact, _ = server.http("GET", f"/api/visitors/{ack['visitor']}", headers=key)
    assert contact["visitor"]["user_id"] == "crm-4711" and contact["visitor"]["verified"] is True
    assert next_one["visitor"] == ack["visitor"]
    # What the customer wrote reaches the webhook like a widget message, once.
    until_sync(lambda: len(receiver.delivered()) == 2, "both messages as webhook events")
    assert [r["body"]["data"]["message"]["author"]["kind"] for r in receiver.delivered()] == ["visitor"] * 2

    path = f"/api/sites/{server.site_key}/inbound/messages"
    body = {"contact": {"external_id": "x"}, "client_msg_id": new_msg_id(), "body": "hi"}
    assert server.http("POST", path, body)[0] == 401
    refused = server.http("POST", path, body, cookie=cookie)  # an agent's session is no API key
    assert refused[0] == 401 and refused[1]["error"]["code"] == "unauthorized"
    wrong = server.http("POST", path, body, headers={"authorization": "Bearer sk_nope"})
    assert wrong[0] == 401
    bad = server.http("POST", path, {"contact": {}, "client_msg_id": new_msg_id(), "body": "hi"}, headers=key)
    assert bad[0] == 400 and bad[1]["error"]["code"] == "bad_field"
    other = server.http("POST", path, {**body, "conversation": "c_doesnotexist"}, headers=key)
    assert other[0] == 404


def test_a_private_target_is_refused_by_default(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    for server in serve(PapoteServer(tmp_path), request):
        cookie = server.login()
        for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.0.0.5/hook",
                    "http://169.254.169.254/latest/meta-data", "http://no-such-host.invalid/"):
            status, body, _ = server.http("POST", f"/api/sites/{server.site_key}/webhooks",
                                          {"url": url, "events": ["message.created"]}, cookie=cookie)
            assert status == 403 and body["error"]["code"] == "forbidden", (url, body)
        for url in ("ftp://example.com/", "https://user:pw@example.com/", "https://example.com:99999/"):
            status, body, _ = server.http("POST", f"/api/sites/{server.site_key}/webhooks",
                                          {"url": url, "events": ["message.created"]}, cookie=cookie)
            assert status == 400 and body["error"]["code"] == "bad_field", (url, body)
        assert server.http("GET", f"/api/sites/{server.site_key}/webhooks", cookie=cookie)[1] == {"endpoints": []}


"""Signing in against a real server: bounded password hashing, lockouts that hold, sessions that end.

Regression tests of issue 11's account items of "Lower": each replays what got through before the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.harness import PapoteServer, agent, cookies_set


def code(body: Any) -> str | None:
    return body["error"]["code"] if isinstance(body, dict) and "error" in body else None


@pytest.fixture
def tight_server(tmp_path: Path) -> Iterator[PapoteServer]:
    """One hashing thread and one waiting place: the third concurrent sign-in is over the bound."""
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_HASH_WORKERS": "1", "PAPOTE_HASH_QUEUE": "1"})
    server.init()
    server.start()
    yield server
    server.stop()


def test_a_login_flood_is_shed_with_503_busy_instead_of_queued(tight_server: PapoteServer) -> None:
    server = tight_server

    def attempt(i: int) -> tuple[int, str | None, str | None]:
        status, body, headers = server.http("POST", "/api/login", {"email": f"flood{i}@papote.test",
                                                                   "password": "not-the-password"})
        return status, code(body), headers.get("retry-after") or headers.get("Retry-After")

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(attempt, range(24)))
    shed = [a for a in answers if a[0] == 503]
    # Before: one thread, an unbounded queue: every attempt waited its turn and none was refused.
    assert shed, answers
    assert all(a == (503, "busy", "1") for a in shed), shed
    assert all(a[:2] == (401, "unauthorized") for a in answers if a[0] != 503), answers
    # Once the flood is over, signing in works at once.
    assert server.login().startswith("papote_session=")


def sign_in(server: PapoteServer, password: str | None = None, *, device: str | None = None,
            address: str | None = None, email: str | None = None) -> tuple[int, Any, dict[str, str]]:
    """POST /api/login from a browser with (or without) a device cookie, behind a proxy that forwards
    `address` (the server trusts X-Forwarded-For from loopback, as from a local reverse proxy)."""
    headers = {}
    if address:
        headers["x-forwarded-for"] = address
    cookie = f"papote_device={device}" if device else None
    return server.http("POST", "/api/login", {"email": email or server.agent_email,
                                              "password": password or server.agent_password},
                       cookie=cookie, headers=headers)


def test_a_flood_of_wrong_passwords_does_not_lock_the_owner_out_of_a_known_device(
        papote_server: PapoteServer) -> None:
    server = papote_server
    status, _, headers = sign_in(server, address="198.51.100.7")
    assert status == 200
    device = cookies_set(headers)["papote_device"]
    assert "Max-Age=31536000" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
    # Someone elsewhere guesses: ten failures lock the account for every device it does not know...
    for _ in range(10):
        status, body, _ = sign_in(server, "wrong-guess-123", address="203.0.113.9")
        assert (status, code(body)) == (401, "unauthorized")
    status, body, _ = sign_in(server, address="203.0.113.9")
    assert (status, code(body)) == (423, "locked")
    status, body, _ = sign_in(server, address="198.51.100.7")
    assert (status, code(body)) == (423, "locked")
    # ...but its owner's browser, which signed in before, still gets in (before: locked like the rest).
    status, body, _ = sign_in(server, device=device, address="198.51.100.7")
    assert status == 200, body
    # A device cookie is no key: a wrong password from it is refused, and counted against that device.
    for _ in range(10):
        status, body, _ = sign_in(server, "wrong-guess-123", device=device)
        assert (status, code(body)) == (401, "unauthorized")
    status, body, _ = sign_in(server, device=device)
    assert (status, code(body)) == (423, "locked")


def test_an_address_that_keeps_failing_is_refused_and_only_it(papote_server: PapoteServer) -> None:
    server = papote_server
    for i in range(30):  # thirty accounts, three guesses each: no account reaches its own lockout
        status, body, _ = sign_in(server, "wrong-guess-123", email=f"user{i % 10}@papote.test",
                                  address="203.0.113.50")
        assert (status, code(body)) == (401, "unauthorized")
    # Before: only accounts were counted, so this address could go on guessing other emails forever.
    status, body, _ = sign_in(server, address="203.0.113.50")
    assert (status, code(body)) == (429, "rate_limited")
    # The address is stored truncated (PAPOTE_CLIENT_ADDRESSES=truncated, the default): its /24 is what
    # is counted, so a neighbour in it is refused too, and another network is not.
    status, body, _ = sign_in(server, address="203.0.113.51")
    assert (status, code(body)) == (429, "rate_limited")
    status, _, _ = sign_in(server, address="198.51.100.51")
    assert status == 200
    assert server.sql("SELECT DISTINCT address FROM login_failures WHERE address LIKE '203.%'") == [("203.0.113.0/24",)]
    # IPv6: a host picks any address of its /64, and the stored /48 is what is counted.
    for i in range(30):
        sign_in(server, "wrong-guess-123", email=f"v6{i % 10}@papote.test", address=f"2001:db8:1:2::{i + 1:x}")
    status, body, _ = sign_in(server, address="2001:db8:1:ffff::1")
    assert (status, code(body)) == (429, "rate_limited")


@pytest.mark.asyncio
async def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(papote_server: PapoteServer) -> None:
    server = papote_server
    here, there = server.login(), server.login()
    here_socket, there_socket = await agent(server, here), await agent(server, there)
    status, body, _ = server.http("POST", "/api/me/password", {"current": server.agent_password,
                                                               "new": "a-new-password-1"}, cookie=here)
    assert status == 200, body
    # Before: this session ended too, although the API said "other sessions".
    status, _, _ = server.http("GET", "/api/me", cookie=here)
    assert status == 200
    status, _, _ = server.http("GET", "/api/me", cookie=there)
    assert status == 401
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await there_socket.recv(10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4010
    await here_socket.send({"t": "ping", "n": 7})
    assert (await here_socket.expect("pong", timeout=10))["n"] == 7
    assert server.login(password="a-new-password-1")


def test_with_no_addresses_stored_the_lockout_counts_accounts_and_devices_only(tmp_path: Path) -> None:
    server = PapoteServer(tmp_path, env_extra={"PAPOTE_CLIENT_ADDRESSES": "none"})
    server.init()
    server.start()
    try:
        for i in range(31):
            status, _, _ = sign_in(server, "wrong-guess-123", email=f"user{i % 10}@papote.test", address="203.0.113.50")
            assert status == 401
        status, _, _ = sign_in(server, address="203.0.113.50")
        assert status == 200
        assert server.sql("SELECT DISTINCT address FROM login_failures") in ([], [("",)])
    finally:
        server.close()

"""Test harness: a real Papote server in a subprocess on a free port, and protocol clients.

`PapoteServer` runs `python -m papote serve` against a temporary SQLite file or, with
`backend="postgres"`, a throw-away PostgreSQL database of its own (created with the server, kept across
restarts, dropped by `close()`), so tests exercise the very code path production uses (uvicorn,
websockets-sansio, the real store). `papote init` and every CLI call go to the same database. Its log
is kept and printed when a test fails.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import msgpack
import pytest
from websockets.asyncio.client import ClientConnection, connect

from papote.identity import user_hash
from tests import postgres

ROOT = Path(__file__).resolve().parent.parent


#: Ports this process has handed out: the kernel may give a released port again at once, and a test
#: that asks twice (a server's HTTP port, then its SMTP listener's) then gave both services one port.
_PORTS_GIVEN: set[int] = set()


def _worker_slot() -> tuple[int, int]:
    """(this pytest-xdist worker's index, the number of workers); (0, 1) outside xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return (int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0), max(count, 1)


def free_port() -> int:
    """A loopback port free now, never handed out before by this process, and of this worker's
    residue class: between the probe's release and the server's bind, a parallel worker's probe
    could otherwise be given the same port (a CI run once met another listener's SMTP banner on a
    test server's HTTP port)."""
    index, count = _worker_slot()
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        # The kernel gives bind(0) odd ports (even ones go to outgoing connections): split on the rest.
        if port not in _PORTS_GIVEN and (port >> 1) % count == index:
            _PORTS_GIVEN.add(port)
            return port


BACKENDS = ("sqlite", "postgres")
#: A test server's PostgreSQL pool: small, since many servers share the machine's 100 connections.
POSTGRES_POOL = "4"
T = TypeVar("T")


#: How long a test waits for a condition by default: generous, the suite shares two cores with other work.
UNTIL_SECS = 60.0
#: How often it looks again.
UNTIL_POLL_SECS = 0.05


async def until(condition: Callable[[], Any], what: str, timeout: float = UNTIL_SECS, *,
                blocking: bool = False) -> Any:
    """Poll `condition()` until it returns something true, and return that; fail naming `what` after
    `timeout` seconds. `blocking`: the condition does blocking I/O (an HTTP call, a mailbox read), so it
    runs in a thread and the loop keeps serving meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await asyncio.to_thread(condition) if blocking else condition()
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(UNTIL_POLL_SECS)


async def until_io(condition: Callable[[], Any], what: str, timeout: float = UNTIL_SECS) -> Any:
    """`until` for a condition that reads the server or a mailbox (blocking I/O)."""
    return await until(condition, what, timeout, blocking=True)


def until_sync(condition: Callable[[], Any], what: str, timeout: float = UNTIL_SECS) -> Any:
    """`until` for a test without an event loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(UNTIL_POLL_SECS)


def run_async(job: Callable[[], Awaitable[T]]) -> T:
    """Runs a coroutine to completion from synchronous harness code, inside a test's event loop or not."""
    async def main() -> T:
        return await job()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result(timeout=60)


@dataclass
class PapoteServer:
    workdir: Path
    port: int = field(default_factory=free_port)
    env_extra: dict[str, str] = field(default_factory=dict)
    #: "sqlite" (a file in `workdir`) or "postgres" (a database of its own on the local server).
    backend: str = "sqlite"
    proc: subprocess.Popen[bytes] | None = None
    site_key: str = ""
    site_secret: str = ""
    agent_email: str = "owner@papote.test"
    agent_password: str = "correct-horse-battery"
    starts: int = 0
    #: The command that runs the server (a test may run a deliberately broken build instead).
    launcher: list[str] = field(default_factory=lambda: [sys.executable, "-m", "papote"])
    #: The PostgreSQL database's URL once created (several servers may be given the same one: nodes).
    database_url: str = ""
    _owns_database: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {self.backend!r}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.workdir / "papote.db"

    @property
    def database(self) -> str:
        """What PAPOTE_DATABASE names: the SQLite file, or this server's PostgreSQL database (created now)."""
        if self.backend == "sqlite":
            return str(self.db_path)
        if not self.database_url:
            self.database_url = create_database()
            self._owns_database = True
        return self.database_url

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPOTE_")}
        env.update(
            PAPOTE_DATABASE=self.database,
            PAPOTE_HOST="127.0.0.1",
            PAPOTE_PORT=str(self.port),
            PAPOTE_LOG_LEVEL="info",
            PYTHONUNBUFFERED="1",
        )
        if self.backend == "postgres":
            env["PAPOTE_DATABASE_POOL"] = POSTGRES_POOL
        env.update(self.env_extra)
        return env

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of a query run straight on this server's database (`?` placeholders, on either backend)."""
        if self.backend == "sqlite":
            with contextlib.closing(sqlite3.connect(self.db_path)) as db:
                return db.execute(query, args).fetchall()
        parts = query.split("?")
        numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))

        async def fetch() -> list[tuple[Any, ...]]:
            conn = await asyncpg.connect(self.database)
            try:
                return [tuple(row) for row in await conn.fetch(numbered, *args)]
            finally:
                await conn.close()

        return run_async(fetch)

    def cli(self, *args: str) -> str:
        """`papote <args>` against this server's database: the CLI's own `main()`, in this process.

        A subprocess pays a fresh interpreter and the whole package's imports for a few milliseconds of
        work: `papote init` took about 1 s that way against 0.1 s here, and every test server runs it
        (some 650 per run). The code run is the same (argument parsing, `Config.from_env` on this
        server's environment, the store); `papote serve` stays a real subprocess."""
        code, out, err = run_cli(self.env(), list(args))
        if code != 0:
            raise RuntimeError(f"papote {' '.join(args)} failed: {err}")
        return out

    def init(self, *origins: str) -> None:
        """`papote init`: the owner agent and a site allowing `origins` (this server's own by default)."""
        allowed = [arg for origin in origins or (self.base_url,) for arg in ("--origin", origin)]
        out = self.cli("init", "--email", self.agent_email, "--password", self.agent_password,
                       "--site-name", "Test shop", *allowed)
        for line in out.splitlines():
            if line.startswith("Site:"):
                self.site_key = line.split("key ")[1].rstrip(")")
            if line.startswith("Identity-verification secret:"):
                self.site_secret = line.split(": ")[1].strip()

    def start(self) -> None:
        # The child keeps its own copy of the descriptor: ours is closed at once (a leaked file object
        # is a ResourceWarning, an error under this project's warning filters).
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*self.launcher, "serve"], env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.base_url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not come up:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stops the server and drops the PostgreSQL database it created (a SQLite file goes with tmp_path)."""
        self.stop()
        if self._owns_database:
            drop_database(self.database_url)
            self._owns_database = False

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- HTTP helpers ----------------------------------------------------------------------------------
    def http(self, method: str, path: str, body: Any = None, cookie: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if body is not None:
            req.add_header("content-type", "application/json")
        elif method not in ("GET", "HEAD"):
            req.add_header("x-papote-request", "1")  # what a client sends with a body-less write (CSRF)
        if cookie:
            req.add_header("cookie", cookie)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                status, hdrs = r.status, _headers(r.headers)
        except urllib.error.HTTPError as e:
            with e:  # an error response holds its socket until closed
                raw, status, hdrs = e.read(), e.code, _headers(e.headers)
        ctype = hdrs.get("content-type", hdrs.get("Content-Type", ""))
        payload = json.loads(raw) if raw and "json" in ctype else raw.decode(errors="replace")
        return status, payload, hdrs

    def login(self, email: str | None = None, password: str | None = None) -> str:
        status, body, headers = self.http("POST", "/api/login", {
            "email": email or self.agent_email, "password": password or self.agent_password})
        if status != 200:
            raise RuntimeError(f"login failed: {status} {body}")
        return session_cookie(headers)


#: One CLI call at a time: it swaps the process's environment and standard streams while it runs.
_CLI_LOCK = threading.Lock()


def run_cli(env: dict[str, str], argv: list[str]) -> tuple[int, str, str]:
    """Runs `papote.cli.main(argv)` with exactly `env` as its environment (what a subprocess given
    `env=` would see); its exit code, stdout and stderr. On a thread of its own, since `main` runs its
    own event loop and the caller may be inside one."""
    from papote.cli import main

    def call() -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(env)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse's refusals
                    code = exc.code if isinstance(exc.code, int) else 1
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return code, out.getvalue(), err.getvalue()

    with _CLI_LOCK, concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result(timeout=60)


#: Every database a server created and did not drop yet: dropped at the end of the session whatever happened.
CREATED_DATABASES: list[str] = []


def serve(server: PapoteServer, request: pytest.FixtureRequest) -> Iterator[PapoteServer]:
    """The body of a server fixture (`yield from serve(...)`): init, start, hand it over, close; the end of
    the server's log is printed under a test that failed."""
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.close()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("\n----- server log -----\n" + server.logs()[-20000:])


def create_database() -> str:
    url = run_async(postgres.create_database)
    CREATED_DATABASES.append(url)
    return url


def drop_database(url: str) -> None:
    run_async(lambda: postgres.drop_database(url))
    if url in CREATED_DATABASES:
        CREATED_DATABASES.remove(url)


def _headers(message: Any) -> dict[str, str]:
    """Response headers as a dict; several Set-Cookie headers are kept, one per line."""
    out = dict(message)
    cookies = message.get_all("set-cookie") or []
    if cookies:
        out.pop("Set-Cookie", None)
        out["set-cookie"] = "\n".join(cookies)
    return out


def cookies_set(headers: dict[str, str]) -> dict[str, str]:
    """name → value of every cookie a response set."""
    out = {}
    for line in headers.get("set-cookie", "").splitlines():
        name, _, value = line.split(";", 1)[0].partition("=")
        out[name.strip()] = value.strip()
    return out


def session_cookie(headers: dict[str, str]) -> str:
    """The `Cookie` header value that carries the session a response set."""
    for name, value in cookies_set(headers).items():
        if name.endswith("papote_session"):
            return f"{name}={value}"
    return ""


def new_msg_id() -> str:
    return "m-" + uuid.uuid4().hex


#: Every client a test opened, closed by the `close_clients` fixture when the test ends.
OPEN_CLIENTS: list[Client] = []


async def close_open_clients() -> None:
    """Close every client still open, one by one; a socket the server already dropped is no error."""
    while OPEN_CLIENTS:
        client = OPEN_CLIENTS.pop()
        with contextlib.suppress(Exception):
            await client.ws.close()


class Client:
    """A protocol client: msgpack frames over a real WebSocket, with a buffer of received frames."""

    def __init__(self, ws: ClientConnection) -> None:
        OPEN_CLIENTS.append(self)
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.backlog: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(msgpack.packb(frame, use_bin_type=True))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        data = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(data, bytes), "the server sends binary frames only"
        frame = msgpack.unpackb(data, raw=False)
        self.frames.append(frame)
        return frame  # type: ignore[no-any-return]

    async def expect(self, t: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The first frame of type `t` (whose fields match), received earlier or now. Frames it passes
        over stay available to later calls: answers may overtake each other (acks of pipelined sends)."""
        for i, frame in enumerate(self.backlog):
            if frame["t"] == t and all(frame.get(k) == v for k, v in match.items()):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {t} frame matching {match}; got {[f['t'] for f in self.frames[-10:]]}")
            frame = await self.recv(left)
            if frame["t"] == t and all(frame.get(k) == v for k, v in match.items()):
                return frame
            self.backlog.append(frame)

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Everything that arrives within `seconds`."""
        got = []
        try:
            while True:
                got.append(await self.recv(seconds))
        except TimeoutError:
            return got

    async def close(self) -> None:
        await self.ws.close()


async def visitor(server: PapoteServer, token: str | None = None, origin: str | None = None,
                  site: str | None = None, **hello: Any) -> Client:
    ws = await connect(server.ws_url + "/ws/visitor", origin=origin or server.base_url,  # type: ignore[arg-type]
                       max_size=2**20)
    client = Client(ws)
    frame = {"t": "hello", "v": 1, "site": site or server.site_key, **hello}
    if token:
        frame["token"] = token
    await client.send(frame)
    client.welcome = await client.expect("welcome")
    return client


async def agent(server: PapoteServer, cookie: str | None = None) -> Client:
    cookie = cookie or server.login()
    ws = await connect(server.ws_url + "/ws/agent", origin=server.base_url,  # type: ignore[arg-type]
                       additional_headers={"cookie": cookie}, max_size=2**22)
    client = Client(ws)
    await client.send({"t": "hello", "v": 1})
    client.welcome = await client.expect("welcome")
    return client


async def identify(server: PapoteServer, client: Client, user_id: str, ref: int = 90) -> dict[str, Any]:
    """The visitor `client` says it is the site's user `user_id` (hashed with the site's secret)."""
    await client.send({"t": "identify", "ref": ref, "user_id": user_id,
                       "hash": user_hash(server.site_secret, user_id)})
    return await client.expect("identified", ref=ref)

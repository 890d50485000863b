"""A cluster for tests: N `papote serve` processes on free loopback ports, one shared database, one broker.

Every node is a real server started the way an operator starts one (`papote init` once against the
shared database, then `papote serve` per node with `PAPOTE_DATABASE` and `PAPOTE_BUS`), so what a test
proves across nodes is what three processes behind a load balancer do. The broker is a private
redis-server or nats-server (tests/brokers.py) the test may kill and restart; a node may be killed with
SIGKILL and restarted on its port; the store's database connections may be cut from the database side
(`pg_terminate_backend`), as a PostgreSQL restart or a failover would.

The site allows one origin shared by all nodes (`SITE_ORIGIN`): the visitor's page is on the shop's
domain, whichever node the load balancer picked. Each node's own origin serves its agent console.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests import postgres
from tests.brokers import Broker
from tests.harness import OPEN_CLIENTS, ROOT, PapoteServer, free_port

#: The shop's page, on no node: every node accepts visitors from it.
SITE_ORIGIN = "http://shop.nodes.test"
#: A node starts in about a second; three starting at once on a busy 2-core machine need more.
START_SECS = 60.0
#: Connections per node: three nodes of a test, several tests of other suites on the machine, all
#: under the local PostgreSQL's max_connections (100).
POOL = 4
#: A client's close handshake with a live server takes milliseconds.
CLOSE_SECS = 5.0
#: Rate limits protect production; here every client shares 127.0.0.1 and one site on purpose.
UNLIMITED = "1000000/1second"


@dataclass
class Node(PapoteServer):
    """One `papote serve` of the cluster; `launch` and `wait_up` let several start at once."""

    name: str = "node"
    database: str = ""

    def env(self) -> dict[str, str]:
        env = super().env()
        env["PAPOTE_DATABASE"] = self.database
        env["PAPOTE_PUBLIC_URL"] = self.base_url
        return env

    def launch(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== {self.name} start #{self.starts + 1} ====\n".encode())
            log.flush()
            self.proc = subprocess.Popen([*self.launcher, "serve"], env=self.env(), stdout=log,
                                         stderr=subprocess.STDOUT)
        self.starts += 1

    def up(self) -> bool:
        """Listening and answering /healthz (raises if the process exited)."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.logs()[-6000:]}")
        try:
            with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def wait_up(self, timeout: float = START_SECS) -> None:
        deadline = time.monotonic() + timeout
        while not self.up():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not come up:\n{self.logs()[-6000:]}")
            time.sleep(0.05)

    def start(self) -> None:
        self.launch()
        self.wait_up()

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs (an OOM kill, a power cut of that machine)."""
        self.stop(signal.SIGKILL)

    def healthz(self) -> dict[str, Any]:
        status, body, _ = self.http("GET", "/healthz")
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Cluster:
    """`count` nodes on one database and one broker. `init()` once, then `start()`."""

    workdir: Path
    database: str
    broker: Broker
    count: int = 2
    env_extra: dict[str, str] = field(default_factory=dict)
    #: The command each node runs (a test may run a deliberately broken build).
    launcher: list[str] = field(default_factory=lambda: [sys.executable, "-m", "papote"])
    nodes: list[Node] = field(default_factory=list)
    site_key: str = ""
    site_secret: str = ""
    origin: str = SITE_ORIGIN

    def __post_init__(self) -> None:
        # The tests' own modules (the mutants) must import in every node, on top of what the caller set.
        pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {"PAPOTE_BUS": self.broker.url, "PAPOTE_DATABASE_POOL": str(POOL), "PYTHONPATH": pythonpath,
               **self.env_extra}
        for i in range(self.count):
            workdir = self.workdir / f"node-{i}"
            workdir.mkdir(parents=True, exist_ok=True)
            self.nodes.append(Node(workdir, free_port(), dict(env), name=f"node-{i}", database=self.database,
                                   launcher=list(self.launcher)))

    def __getitem__(self, i: int) -> Node:
        return self.nodes[i]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def owner_email(self) -> str:
        return self.nodes[0].agent_email

    @property
    def owner_password(self) -> str:
        return self.nodes[0].agent_password

    def cli(self, *args: str) -> str:
        """`papote …` against the shared database, as an operator on any machine of the deployment."""
        return self.nodes[0].cli(*args)

    def init(self) -> None:
        out = self.cli("init", "--email", self.owner_email, "--password", self.owner_password,
                       "--site-name", "Shop on many nodes", "--origin", self.origin)
        for line in out.splitlines():
            if line.startswith("Site:"):
                self.site_key = line.split("key ")[1].rstrip(")")
            if line.startswith("Identity-verification secret:"):
                self.site_secret = line.split(": ")[1].strip()
        assert self.site_key, f"papote init printed no site key:\n{out}"
        for node in self.nodes:
            node.site_key, node.site_secret = self.site_key, self.site_secret

    def new_agent(self, email: str, password: str, role: str = "agent", node: int = 0,
                  owner_cookie: str | None = None) -> tuple[str, str]:
        """A member of the site, invited by the owner and accepted on `node` (two requests, no CLI
        start): (agent id, the session cookie the acceptance set)."""
        from tests.harness import session_cookie

        server = self.nodes[node]
        status, invite, _ = server.http("POST", f"/api/sites/{self.site_key}/invites",
                                        {"email": email, "role": role}, cookie=owner_cookie or server.login())
        assert status == 201, invite
        status, body, headers = server.http("POST", "/api/invites/accept",
                                            {"token": invite["token"], "password": password})
        assert status == 200, body
        return body["agent"]["id"], session_cookie(headers)

    def start(self) -> None:
        """Start every node at once, then wait for each to answer."""
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_up()

    def stop(self) -> None:
        """SIGTERM to every node at once, then wait for each (a graceful stop of the deployment)."""
        for node in self.running():
            assert node.proc is not None
            node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes:
            node.stop()

    def kill(self, i: int) -> None:
        self.nodes[i].kill()

    def restart(self, i: int) -> None:
        """Start node `i` again on its port, after a kill or a stop."""
        node = self.nodes[i]
        if node.running():
            node.stop()
        node.proc = None
        node.start()

    def running(self) -> list[Node]:
        return [n for n in self.nodes if n.running()]

    def healthz(self) -> list[dict[str, Any]]:
        return [n.healthz() for n in self.running()]

    def bus_connected(self) -> bool:
        """Every running node is connected to the broker."""
        try:
            return all(h["bus"]["connected"] for h in self.healthz())
        except (AssertionError, OSError):
            return False

    def wait_bus_connected(self, timeout: float = START_SECS) -> None:
        deadline = time.monotonic() + timeout
        while not self.bus_connected():
            if time.monotonic() > deadline:
                raise AssertionError(f"not every node reconnected to the broker: {self.healthz()}")
            time.sleep(0.05)

    def wait_nodes_see_each_other(self, timeout: float = START_SECS) -> None:
        """Every running node has heard every other one's presence snapshot."""
        deadline = time.monotonic() + timeout
        want = len(self.running())
        while not all(h["cluster"]["nodes"] == want for h in self.healthz()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the nodes do not see each other: {self.healthz()}")
            time.sleep(0.05)

    async def terminate_db_connections(self) -> int:
        """Cut every connection of the nodes to their database from the server side (what a PostgreSQL
        restart or a failover does to them); returns how many were cut."""
        from tests import postgres

        return await postgres.terminate_backends(self.database)

    def logs(self, chars: int = 8000) -> str:
        return "\n".join(f"----- {n.name} log -----\n{n.logs()[-chars:]}" for n in self.nodes)


@contextlib.asynccontextmanager
async def cluster(workdir: Path, database: str, broker: Broker, count: int = 2, *, failed: Any = None,
                  **kwargs: Any) -> AsyncIterator[Cluster]:
    """An initialised, started cluster, stopped at the end; with `failed` (a callable telling whether
    the test failed) every node's log is printed on failure. The test's clients are closed first:
    a socket closed after its server is gone waits for a close handshake that never comes."""
    nodes = Cluster(workdir, database, broker, count, **kwargs)
    await asyncio.to_thread(nodes.init)
    try:
        # Inside the try: a node that does not come up must not leave the others running.
        await asyncio.to_thread(nodes.start)
        yield nodes
    finally:
        await close_clients()
        await asyncio.to_thread(nodes.stop)
        if failed is not None and failed():
            print(nodes.logs())


async def close_clients() -> None:
    """Close every protocol client the test opened (tests/harness.py keeps the list), all at once."""
    clients = list(OPEN_CLIENTS)
    OPEN_CLIENTS.clear()
    await asyncio.gather(*(_close(c.ws) for c in clients))


async def _close(ws: Any) -> None:
    # A client that stopped reading has a full receive queue, and the server's close frame waits
    # behind it: read what is left while closing. A server already gone: drop the connection.
    async def drain() -> None:
        with contextlib.suppress(Exception):
            while True:
                await ws.recv()

    reader = asyncio.create_task(drain())
    try:
        await asyncio.wait_for(ws.close(), CLOSE_SECS)
    except Exception:
        ws.transport.abort()
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


def failed_of(request: Any) -> Callable[[], bool]:
    """Whether the test of `request` has failed (conftest records `rep_call`): a cluster then prints its logs."""

    def failed() -> bool:
        report = getattr(request.node, "rep_call", None)
        return report is not None and report.failed

    return failed


# -- the fixtures every cluster test takes: import them into the test module (they are listed in its __all__)
@pytest_asyncio.fixture
async def database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for the test's cluster."""
    async with postgres.database() as url:
        yield url


def _broker(kind: str, tmp_path: Path) -> Iterator[Broker]:
    b = Broker(kind, tmp_path / kind)
    b.start()
    yield b
    b.kill()


@pytest.fixture(params=["redis", "nats"])
def any_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    """A private broker of each kind, on a free port: a test that kills it kills nothing else."""
    yield from _broker(request.param, tmp_path)


@pytest.fixture
def redis_broker(tmp_path: Path) -> Iterator[Broker]:
    """A private redis-server on a free port."""
    yield from _broker("redis", tmp_path)

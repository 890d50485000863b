"""Fixtures for the fault tests: a Papote server process these tests may kill -9 and restart.

The shared `papote_server` fixture (tests/conftest.py) serves one server for a test; the fault tests
need more control than that: SIGKILL at a random moment, restart on the same database and port,
and a deliberately broken build for the self-check. So this module starts `python -m papote` itself,
the same way an operator would (`papote init`, then `papote serve`), and dumps the server's log
when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OWNER_EMAIL = "owner@faults.papote"
PASSWORD = "faults-password-0123456789"
SITE_ORIGIN = "http://shop.faults.test"
# A fresh server on loopback listens within a second; a slow CI box gets ten times that.
START_SECS = 15.0
# Rate limits protect production; here many clients share 127.0.0.1 and one site on purpose.
UNLIMITED = "1000000/1second"


@dataclass
class ServerProcess:
    """`papote serve` on a fixed port and database; start(), kill() (SIGKILL) and stop()."""

    workdir: Path
    port: int = field(default_factory=free_port)
    site_key: str = ""
    #: Run this module instead of `papote` (the self-check's broken build).
    launcher: list[str] = field(default_factory=lambda: [sys.executable, "-m", "papote"])
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def database(self) -> Path:
        return self.workdir / "papote.db"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PAPOTE_DATABASE=str(self.database),
            PAPOTE_HOST="127.0.0.1",
            PAPOTE_PORT=str(self.port),
            PAPOTE_PUBLIC_URL=self.base_url,
            PAPOTE_RATE_PER_CONNECTION=UNLIMITED,
            PAPOTE_RATE_PER_SITE=UNLIMITED,
            PAPOTE_RATE_NEW_VISITORS=UNLIMITED,
            PYTHONPATH=os.pathsep.join([str(ROOT / "server"), str(HERE), env.get("PYTHONPATH", "")]),
        )
        env.update(self.extra_env)
        return env

    def init(self) -> None:
        out = subprocess.run(
            [sys.executable, "-m", "papote", "init", "--email", OWNER_EMAIL,
             "--password", PASSWORD, "--site-name", "Faults", "--origin", SITE_ORIGIN],
            env=self.env(), capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        match = re.search(r"pk_[A-Za-z0-9_-]+", out.stdout + out.stderr)
        assert match, f"papote init printed no site key:\n{out.stdout}\n{out.stderr}"
        self.site_key = match.group(0)

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            log.write(f"\n==== start #{self.starts + 1} ====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [*self.launcher, "serve"], env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1
        deadline = time.monotonic() + START_SECS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.02)
        raise AssertionError(f"server not listening after {START_SECS} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, exactly like an OOM kill or a power-less crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 6000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def integrity(self) -> str:
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.fixture
def server_process(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """An initialised (not yet started) server; stopped at the end, its log shown on failure."""
    if subprocess.run([sys.executable, "-m", "papote", "--help"], capture_output=True).returncode:
        pytest.skip("papote CLI not available")
    server = ServerProcess(tmp_path)
    server.init()
    yield server
    server.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"---- server log ({server.log_path}) ----\n{server.log_tail()}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    # Keep each phase's report on the test item so fixtures can tell whether the test failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
